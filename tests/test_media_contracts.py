"""Media contracts of issues 16 and 10, through the CLI in-process.

Image brands are not MP4; `ingest` exits like `validate`; a check names every problem it found;
durations cannot be shortened by a timescale lie; a fragmented MP4 of ~20,000 boxes is valid;
the file is opened once and a path swapped afterwards is never read; subtitles cost bounded work.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import validators.examine
from tests.cli import run
from tests.configs import add_config
from tests import media
from tests.conftest import REQUIRE_TOOLS
from validators.audio_frames import audio_frames
from validators.boxes import MAX_TOP_LEVEL_BOXES, walk
from validators.opening import OpeningSources, check_opening
from validators.subtitles import in_window, sidecar_sources
from validators.rules import OpeningConfig

pytestmark = pytest.mark.slow   # a long module: scheduled first (conftest.py)

AVIF_MESSAGE = "文件实际是 AVIF 动图（图像序列），不是 MP4 视频。请导出为 MP4（H.264 视频 + AAC 音频）后重新报送。"


def intake(*args: str) -> tuple[int, str, str]:
    """``intake ARGS`` in-process (tests/cli.py) as (exit code, stdout, stderr)."""
    done = run(*args)
    return done.returncode, done.stdout, done.stderr


def validate(*paths: Path, expect: int | None = None) -> list[dict]:
    code, out, err = intake("validate", "--json", "--no-ocr", *map(str, paths))
    assert code in (0, 3, 4), err
    if expect is not None:
        assert code == expect, out
    return json.loads(out)


def check(item: dict, check_id: str) -> dict:
    return next(c for c in item["checks"] if c["id"] == check_id)


def needs(kind: str, name: str) -> None:
    if not media.ffmpeg_has(kind, name):
        if REQUIRE_TOOLS:
            pytest.fail(f"ffmpeg {kind[:-1]} {name} is required in CI")
        pytest.skip(f"this ffmpeg has no {name} {kind[:-1]}")


# -- 1. The major brand decides: HEIF/AVIF images are not MP4 videos --------------------------------------------

def test_animated_avif_from_ffmpeg_is_rejected(tmp_path, workdir, ffmpeg_bin):
    needs("encoders", "libaom-av1")
    needs("muxers", "avif")
    avif = media.animated_avif(tmp_path / "动图.mp4")
    assert avif.read_bytes()[8:12] == b"avis"
    [item] = validate(avif, expect=4)
    container = check(item, "container")
    assert (container["status"], container["code"], container["message"]) == ("fail", "image_sequence", AVIF_MESSAGE)
    assert container["details"]["codes"] == ["image_sequence"]
    assert item["media"]["container"] == "avif"
    assert item["outcome"] == "rejected"
    # Nothing past the box walk looked at it: no MediaInfo facts, no decode. The secrecy scan says it could not
    # read a picture (an image sequence is no video it decodes), never that it found nothing.
    assert [(c["id"], c["code"]) for c in item["checks"]] == [("size", "ok"), ("container", "image_sequence"),
                                                              ("sensitive_content", "scan_incomplete")]


def test_mp4_rewritten_to_avis_major_brand_is_rejected(tmp_path, clips, workdir):
    """Compatible brands on the allowlist (isom, mp42) never turn an image brand into a video."""
    fake = media.set_major_brand(clips["valid"], tmp_path / "avis.mp4", b"avis", (b"avis", b"isom", b"mp42"))
    [item] = validate(fake, expect=4)
    container = check(item, "container")
    assert (container["code"], container["message"]) == ("image_sequence", AVIF_MESSAGE)
    assert item["media"]["container"] == "avif"


def test_heic_branded_file_is_rejected(tmp_path, clips, workdir):
    heic = media.set_major_brand(clips["valid"], tmp_path / "photo.mp4", b"heic", (b"mif1", b"heic", b"isom"))
    [item] = validate(heic, expect=4)
    container = check(item, "container")
    assert container["code"] == "image_sequence"
    assert container["message"].startswith("文件实际是 HEIC 图片，不是 MP4 视频。")
    assert item["media"]["container"] == "heif"


def test_compatible_brands_still_widen_an_mp4_major_brand(tmp_path, clips, workdir):
    widened = media.set_major_brand(clips["valid"], tmp_path / "wide.mp4", b"mp42", (b"avif", b"isom"))
    [item] = validate(widened, expect=0)
    assert check(item, "container")["code"] == "ok"


# -- 2. `intake ingest` exits like `intake validate` -------------------------------------------------------------

def listed() -> list[dict]:
    code, out, err = intake("list", "--json")
    assert code == 0, err
    return json.loads(out)


def test_ingest_exit_codes_follow_the_outcome(clips, workdir):
    contact = ("--contact", "张三", "--phone", "13800138000")
    code, out, _ = intake("ingest", str(clips["valid"]), "--unit", "柳南区", *contact)
    assert (code, out.splitlines()[0]) == (0, "已登记作品 #1：通过")
    code, out, _ = intake("ingest", str(clips["no_audio"]), "--unit", "柳北区", *contact)
    assert (code, out.splitlines()[0]) == (3, "已登记作品 #2：待复核")
    code, out, _ = intake("ingest", str(clips["webm"]), "--unit", "城中区", *contact)   # VP9: no lossless fix
    assert (code, out.splitlines()[0]) == (4, "已登记作品 #3：不合格")
    # The worst outcome of a submission's files decides, as for validate over several files.
    code, out, _ = intake("ingest", str(clips["hevc"]), str(clips["s126"]), "--unit", "鱼峰区", *contact)
    assert (code, out.splitlines()[0]) == (4, "已登记作品 #4：不合格")
    assert [(s["id"], s["outcome"]) for s in listed()] == [
        (1, "accepted"), (2, "needs_review"), (3, "rejected"), (4, "rejected")]


def test_ingest_usage_and_runtime_failures(clips, workdir):
    code, _, err = intake("ingest", "nope.mp4")
    assert (code, err.strip()) == (2, "错误：文件不存在：nope.mp4\n提示：请检查文件路径是否正确。")
    (workdir / "notadir").write_text("")
    add_config(workdir, "storage:\n  root: notadir/store\n")
    code, _, err = intake("ingest", str(clips["valid"]), "--unit", "柳南区")
    assert code == 1 and "无法把文件存入文件库" in err


# -- 3. A check names every problem it found ---------------------------------------------------------------------

def test_uncommon_codec_without_sound_names_both(tmp_path, workdir, ffmpeg_bin):
    needs("encoders", "libaom-av1")
    av1 = media.clip(tmp_path / "av1.mp4", 2, video="libaom-av1", audio=None, extra=("-cpu-used", "8"))
    [item] = validate(av1, expect=3)
    streams = check(item, "streams")
    assert (streams["status"], streams["code"]) == ("warn", "no_audio")
    assert streams["details"]["codes"] == ["no_audio", "uncommon_codec"]
    assert "没有声音" in streams["message"] and "视频编码 AV1 不常见" in streams["message"]
    assert streams["message"] == ("视频 AV1 64×48，但没有声音。视频编码 AV1 不常见，部分播放器可能无法播放。"
                                  "代言视频需要讲解声音，请确认是否遗漏音轨；建议转为 H.264 + AAC。")


def test_single_problem_keeps_one_code(clips, workdir):
    [item] = validate(clips["mpeg4_part2"], expect=3)
    streams = check(item, "streams")
    assert (streams["code"], streams["details"]["codes"]) == ("uncommon_codec", ["uncommon_codec"])
    assert "没有声音" not in streams["message"]


def test_container_lists_every_structural_problem(tmp_path, workdir):
    # An MP4 brand, but neither moov nor mdat: both are named.
    bare = tmp_path / "bare.mp4"
    bare.write_bytes(b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00" + b"\x00\x00\x00\x10free" + b"\x00" * 8)
    [item] = validate(bare, expect=4)
    container = check(item, "container")
    assert (container["code"], container["details"]["codes"]) == ("no_moov", ["no_moov", "no_mdat"])
    assert "moov" in container["message"] and "mdat" in container["message"]


# -- 4. Durations: a timescale lie cannot shorten the audio ------------------------------------------------------

@pytest.fixture(scope="module")
def timescale_lie(tmp_path_factory, ffmpeg_bin) -> Path:
    d = tmp_path_factory.mktemp("lie")
    honest = media.audio_longer_than_video(d / "honest.mp4", 60, 600)
    return media.lie_about_audio_timescale(honest, d / "lie.mp4", 10, 60)


def test_timescale_lie_fails_duration(timescale_lie, workdir):
    layout = walk(timescale_lie)
    audio = next(t for t in layout.tracks if t.handler == "soun")
    # Every header and the sample table now say 60 s; only the sample entry's own rate tells.
    assert layout.movie_seconds == pytest.approx(60, abs=0.1)
    assert audio.header_seconds == pytest.approx(60, abs=0.1)
    assert audio.sample_seconds == pytest.approx(60, abs=0.5)
    assert (audio.timescale, audio.sample_rate) == (80000, 8000)
    [item] = validate(timescale_lie, expect=4)
    duration = check(item, "duration")
    assert (duration["status"], duration["code"]) == ("fail", "too_long")
    assert duration["details"]["codes"] == ["too_long", "duration_mismatch"]
    assert 599 < duration["details"]["duration_seconds"] < 602
    assert "文件头标称 1分，实际音视频数据长 10分" in duration["message"], duration["message"]
    assert duration["advice"].startswith("视频时长 10分") and "文件头" not in duration["advice"]
    assert 599 < item["media"]["duration_seconds"] < 602


def test_frame_count_agrees_with_an_honest_file(clips):
    audio = next(t for t in walk(clips["s119"]).tracks if t.handler == "soun")
    assert audio.frame_seconds == pytest.approx(audio.sample_seconds, abs=0.2)


# -- 6. Fragmented MP4s: fragments are legitimate boxes ----------------------------------------------------------

def test_fragmented_mp4_with_twenty_thousand_boxes_is_valid(tmp_path, workdir, ffmpeg_bin):
    fragmented = media.fragmented_every_frame(tmp_path / "frag.mp4", 100, 100)
    assert media.top_level_box_count(fragmented) > 20_000
    # CPU time of the walk (workers share the cores): linear, it is a fraction of a second even traced by
    # coverage; a walk that rescanned the file per fragment would take minutes.
    started = time.process_time()
    layout = walk(fragmented)
    assert time.process_time() - started < 4
    assert layout.problem is None and layout.fragmented and layout.fragments >= 10_000
    video = next(t for t in layout.tracks if t.handler == "vide")
    assert video.sample_count == 10_000 and video.sample_seconds == pytest.approx(100, abs=0.2)
    [item] = validate(fragmented, expect=0)
    assert check(item, "integrity")["code"] == "ok"
    assert check(item, "duration")["code"] == "ok"
    assert 99.5 < item["media"]["duration_seconds"] < 101


def test_fragmented_durations_count_against_the_limit(tmp_path, workdir, ffmpeg_bin):
    long = media.fragmented_every_frame(tmp_path / "long.mp4", 130, 5)
    [item] = validate(long, expect=4)
    assert check(item, "duration")["code"] == "too_long"


def test_box_count_bound_still_holds(tmp_path, clips, workdir):
    absurd = media.with_empty_boxes(clips["valid"], tmp_path / "absurd.mp4", MAX_TOP_LEVEL_BOXES + 10)
    [item] = validate(absurd, expect=4)
    assert check(item, "integrity")["code"] == "corrupt_structure"


# -- 5. One open file: a path swapped after the walk is never read -----------------------------------------------

def test_playlist_swapped_in_after_the_walk_is_never_read(tmp_path, clips, workdir, monkeypatch):
    segment = tmp_path / "segment.ts"
    segment.write_bytes(clips["valid"].read_bytes())
    os.utime(segment, ns=(1_000_000_000, 2_000_000_000))   # atime before mtime: any read moves it
    video = tmp_path / "作品.mp4"
    video.write_bytes(clips["valid"].read_bytes())
    playlist = tmp_path / "playlist.m3u8"
    real_walk = validators.examine.walk
    swapped = []

    def walk_then_swap(source):
        layout = real_walk(source)
        os.replace(playlist, video)     # the path now names a playlist; the open file is still the video
        swapped.append(True)
        return layout

    monkeypatch.setattr(validators.examine, "walk", walk_then_swap)
    with media.sentinel_http_server() as (port, hits):
        playlist.write_text(
            "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n"
            f"http://127.0.0.1:{port}/remote.ts\n#EXTINF:10,\n{segment}\n#EXT-X-ENDLIST\n")
        code, out, err = intake("validate", "--json", "--deep", "--no-ocr", str(video))
    assert swapped and video.read_text().startswith("#EXTM3U")
    item = json.loads(out)[0]
    assert code == 0, err
    assert item["outcome"] == "accepted"
    assert (item["media"]["video_codec"], item["media"]["width"]) == ("AVC", 160)
    assert 9.5 < item["media"]["duration_seconds"] < 10.5
    assert hits == []
    assert segment.stat().st_atime_ns == 1_000_000_000


def test_symlink_is_not_followed(tmp_path, clips, workdir):
    link = tmp_path / "link.mp4"
    link.symlink_to(clips["valid"])
    code, out, err = intake("validate", str(link))
    assert code == 2 and out == ""
    assert err.strip() == f"错误：是符号链接：{link}\n提示：请给出链接所指的实际文件的路径。"


# -- 7. Bounded work on subtitles and transcripts ----------------------------------------------------------------

PHRASE = "我是保密法治代言人吴十，今天我要讲的是保密法"


def opening_of(transcripts: list[tuple[str, bytes]], cfg: OpeningConfig = OpeningConfig(ocr=False)):
    """The opening-phrase check over the texts that came beside a video, and nothing else."""
    return check_opening(OpeningSources(sidecars=sidecar_sources(transcripts)), cfg)


def test_megabyte_subtitle_costs_well_under_a_second(tmp_path):
    # CPU time, not wall time: four test workers share two cores. Unbounded, this took many seconds;
    # bounded it takes a tenth of one (the 2 s bound leaves room for coverage's tracing).
    srt = media.megabyte_srt(tmp_path / "作品.srt", PHRASE)
    raw = srt.read_bytes()
    assert len(raw) == 1024 * 1024
    cfg = OpeningConfig(ocr=False)
    started = time.process_time()
    found = opening_of([("作品.srt", raw)], cfg)
    elapsed = time.process_time() - started
    assert found.check.code == "ok" and "吴十" in found.check.message
    assert elapsed < 2.0, elapsed
    # 1 MB of cues all inside the window, without the phrase: the search is capped, so still quick.
    filler = media.megabyte_srt(tmp_path / "filler.srt", "大家好，欢迎观看。", dense=True).read_bytes()
    started = time.process_time()
    missing = opening_of([("filler.srt", filler)], cfg)
    assert time.process_time() - started < 2.0
    assert missing.check.code == "not_found"
    searched = in_window(sidecar_sources([("filler.srt", filler)]), cfg.scan_seconds)
    assert all(t.seconds is not None and t.seconds <= cfg.scan_seconds for t in searched)
    assert sum(len(t.text) for t in searched) < 3000


def test_plain_transcript_is_read_only_at_its_beginning(tmp_path):
    late = ("这是一段很长的文稿。" * 100 + PHRASE).encode("utf-8")
    assert opening_of([("作品.txt", late)]).check.code == "not_found"
    early = (PHRASE + "。" + "后面的内容。" * 200000).encode("utf-8")
    assert opening_of([("作品.txt", early)]).check.code == "ok"


def test_megabyte_subtitle_beside_a_video(tmp_path, workdir, ffmpeg_bin):
    video = media.clip(tmp_path / "作品.mp4", 3, title=None)
    media.megabyte_srt(tmp_path / "作品.srt", PHRASE)
    [item] = validate(video)
    opening = check(item, "opening_phrase")
    assert opening["code"] == "ok" and "作品.srt" in opening["message"] and "吴十" in opening["message"]


# -- the frame rules behind the duration cross-check -------------------------------------------------------------

def _esds(object_type: int, config: bytes) -> bytes:
    dsi = bytes([0x05, len(config)]) + config
    decoder = bytes([0x04, 13 + len(dsi), object_type, 0x15]) + b"\x00" * 11 + dsi
    es = bytes([0x03, 3 + len(decoder)]) + b"\x00\x01\x00" + decoder
    return b"\x00\x00\x00\x00" + es


def _asc(*fields: tuple[int, int]) -> bytes:
    """An AudioSpecificConfig from (value, bit width) fields, padded to whole bytes."""
    bits = "".join(format(value, f"0{width}b") for value, width in fields)
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


@pytest.mark.parametrize("entry_type,entry_rate,esds,expected", [
    (b"mp4a", 44100, _esds(0x40, _asc((2, 5), (4, 4), (2, 4), (0, 1))), (1024, 44100)),     # AAC-LC
    (b"mp4a", 48000, _esds(0x40, _asc((2, 5), (3, 4), (2, 4), (1, 1))), (960, 48000)),      # 960-sample frames
    # HE-AAC, explicit: the core (24 kHz, 1024 samples) is what the frames count at, whatever the entry says.
    (b"mp4a", 48000, _esds(0x40, _asc((5, 5), (6, 4), (2, 4), (3, 4), (2, 5), (0, 1))), (1024, 24000)),
    (b"mp4a", 0, _esds(0x40, _asc((2, 5), (0, 4), (2, 4), (0, 1))), (1024, 96000)),          # entry rate 0 above 65535
    (b"mp4a", 22050, _esds(0x6B, b""), (576, 22050)),                                        # MP3, MPEG-2 rate
    (b".mp3", 44100, None, (1152, 44100)),
    (b"mp4a", 48000, _esds(0x40, _asc((23, 5), (3, 4), (2, 4))), None),                     # AAC-LD: not counted
    (b"Opus", 48000, None, None),
])
def test_audio_frame_rules(entry_type, entry_rate, esds, expected):
    assert audio_frames(entry_type, entry_rate, esds) == expected
