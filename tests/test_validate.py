"""`intake validate` on real media: outcome, check codes and exit codes, through the CLI and the library."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intake.cli.validate_cmd import check_json
from tests import media
from tests.cli import run
from validators.examine import examine_file
from validators.rules import RulesConfig

# name: (outcome, {check id: code} that must be present)
EXPECTED = {
    "valid": ("accepted", {"container": "ok", "streams": "ok", "duration": "ok", "size": "ok", "integrity": "ok"}),
    "s119": ("accepted", {"duration": "ok"}),
    "s121": ("needs_review", {"duration": "too_long_grace"}),
    "s126": ("rejected", {"duration": "too_long"}),
    "lying_header": ("rejected", {"duration": "too_long"}),
    # What intake will make of them: a lossless MP4 (validate makes it too, in a temporary folder) …
    "mov": ("needs_review", {"container": "remuxed"}),
    "mkv": ("needs_review", {"container": "remuxed"}),
    "avi": ("rejected", {"container": "not_mp4"}),   # … unless its streams do not fit in an MP4 (PCM sound)
    "webm": ("rejected", {"container": "not_mp4"}),
    "truncated": ("rejected", {"integrity": "truncated"}),
    "cut_media": ("rejected", {"integrity": "truncated", "container": "ok"}),
    "empty": ("rejected", {"container": "empty_file"}),
    "text": ("rejected", {"container": "not_mp4"}),
    "jpeg": ("rejected", {"container": "not_mp4"}),
    "no_audio": ("needs_review", {"streams": "no_audio"}),
    "audio_only": ("rejected", {"streams": "no_video"}),
    "hevc": ("accepted", {"streams": "ok"}),
    "mpeg4_part2": ("needs_review", {"streams": "uncommon_codec"}),
    "under_limit": ("accepted", {"size": "ok"}),
    "over_limit": ("rejected", {"size": "too_large"}),
}
NAMES_IN_MESSAGE = {"mov": "QuickTime", "mkv": "MKV", "avi": "AVI", "webm": "WebM", "text": "文本", "jpeg": "JPEG"}


@pytest.fixture(scope="module")
def validated(clips, tmp_path_factory) -> dict[str, dict]:
    """One real `intake validate --json` run over every clip."""
    cwd = tmp_path_factory.mktemp("validate")
    (cwd / "config.yaml").write_text("{}\n")
    names = list(EXPECTED)
    proc = run("validate", "--json", "--no-ocr", *(clips[n] for n in names), cwd=cwd)
    assert proc.returncode == 4, proc.stderr
    items = json.loads(proc.stdout)
    assert [Path(i["path"]).name for i in items] == [clips[n].name for n in names]
    return dict(zip(names, items))


@pytest.mark.parametrize("name", list(EXPECTED))
def test_cli_outcome_and_codes(validated, name):
    outcome, codes = EXPECTED[name]
    item = validated[name]
    assert item["outcome"] == outcome
    got = {c["id"]: c["code"] for c in item["checks"]}
    for check_id, code in codes.items():
        assert got.get(check_id) == code, item["checks"]
    for check in item["checks"]:
        assert set(check) == {"id", "status", "code", "message", "advice", "details"}
        assert check["message"]
        assert bool(check["advice"]) == (check["status"] != "pass")   # every warning and failure advises the sender
        assert check["code"] in check["details"]["codes"]
    if name in NAMES_IN_MESSAGE:
        container = next(c for c in item["checks"] if c["id"] == "container")
        assert NAMES_IN_MESSAGE[name] in container["message"]


def test_media_summary(clips, validated):
    media = validated["valid"]["media"]
    assert media["container"] == "mp4"
    assert media["video_codec"] == "AVC" and media["audio_codec"] == "AAC"
    assert (media["width"], media["height"]) == (160, 120)
    assert 9.5 < media["duration_seconds"] < 10.5
    assert media["size_bytes"] == clips["valid"].stat().st_size
    assert 125 < validated["lying_header"]["media"]["duration_seconds"] < 127


@pytest.mark.parametrize("name,exit_code", [("valid", 0), ("s121", 3), ("s126", 4)])
def test_exit_codes(clips, workdir, name, exit_code):
    proc = run("validate", "--no-ocr", clips[name])
    assert proc.returncode == exit_code, proc.stderr
    assert clips[name].name in proc.stdout


def test_mixed_files_exit_with_worst(clips, workdir):
    proc = run("validate", "--no-ocr", clips["valid"], clips["no_audio"])
    assert proc.returncode == 3
    assert "没有声音" in proc.stdout


def test_missing_file_is_usage_error(workdir):
    proc = run("validate", "nope.mp4")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "错误：文件不存在：nope.mp4\n提示：请检查文件路径是否正确。"


def test_library_agrees_with_cli(clips, validated):
    rules = RulesConfig()
    for name in ("valid", "s121", "text", "cut_media", "over_limit"):   # (validate also tries a remux of .mov…)
        report = examine_file(clips[name], rules, ocr=False)
        assert report.outcome.value == validated[name]["outcome"]
        assert [check_json(c) for c in report.checks] == json.loads(json.dumps(validated[name]["checks"]))


def test_deep_finds_damage_in_the_middle(clips, workdir):
    proc = run("validate", "--json", "--deep", "--no-ocr", clips["corrupt_middle"])
    item = json.loads(proc.stdout)[0]
    integrity = next(c for c in item["checks"] if c["id"] == "integrity")
    assert (integrity["status"], integrity["code"]) == ("fail", "decode_error")
    assert proc.returncode == 4


def test_hls_playlist_is_never_followed(tmp_path, workdir, clips):
    """A playlist named .mp4 must not make any tool fetch its URLs or read its local segment."""
    segment = tmp_path / "segment.ts"
    segment.write_bytes(clips["valid"].read_bytes())
    playlist = tmp_path / "playlist.mp4"
    with media.sentinel_http_server() as (port, hits):
        playlist.write_text(
            "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n"
            f"http://127.0.0.1:{port}/remote.ts\n#EXTINF:10,\n{segment}\n#EXT-X-ENDLIST\n")
        before = segment.stat().st_atime_ns
        proc = run("validate", "--json", "--deep", playlist)
    item = json.loads(proc.stdout)[0]
    assert proc.returncode == 4
    assert [(c["id"], c["code"]) for c in item["checks"] if c["status"] == "fail"] == [("container", "playlist")]
    assert hits == []
    assert segment.stat().st_atime_ns == before


def test_the_end_is_decoded_from_the_last_keyframe_of_a_long_gop(tmp_path, monkeypatch):
    """Keyframes 250 frames apart: asked to start 2 s before the end, a decoder would go back a whole GOP; the
    end is decoded from the last keyframe instead, which the sync-sample table gives."""
    import validators.examine
    from validators.boxes import walk

    path = media.clip(tmp_path / "long_gop.mp4", 10, size="160x120", rate=30,
                      extra=("-g", "250", "-keyint_min", "250", "-sc_threshold", "0"))
    [video] = [t for t in walk(path).tracks if t.handler == "vide"]
    assert video.last_key_seconds == pytest.approx(250 / 30)
    asked = []
    real = validators.examine.decode
    monkeypatch.setattr(validators.examine, "decode", lambda f, spans, timeout: (asked.append(spans),
                                                                                 real(f, spans, timeout))[1])
    report = validators.examine.examine_file(path, RulesConfig(), content=False)
    assert [c.status.value for c in report.checks if c.check_id == "integrity"] == ["pass"]
    assert asked[-1] == [(None, 2, False), (pytest.approx(250 / 30 + 0.5, abs=0.05), 2, True)]


def test_the_end_past_the_decoded_picture_is_still_read_to_its_last_byte(tmp_path):
    """From the last keyframe the picture is decoded for integrity_seconds and the rest only demuxed and its
    sound decoded: a long-GOP file whose last bytes are garbage still fails the decode check."""
    from validators.boxes import walk
    from validators.examine import examine_file

    path = media.clip(tmp_path / "long_gop.mp4", 12, size="320x240", rate=30,
                      extra=("-g", "250", "-keyint_min", "250", "-sc_threshold", "0", "-movflags", "+faststart"))
    [video] = [t for t in walk(path).tracks if t.handler == "vide"]
    assert video.last_key_seconds + 2 < 11.5   # the last second and more lies past the decoded picture
    data = bytearray(path.read_bytes())
    assert [c.code for c in examine_file(path, RulesConfig(), content=False).checks
            if c.check_id == "integrity"] == ["ok"]
    data[-3000:] = bytes((i * 151 + 7) % 256 for i in range(3000))
    path.write_bytes(bytes(data))
    assert [c.code for c in examine_file(path, RulesConfig(), content=False).checks
            if c.check_id == "integrity"] == ["decode_error"]
