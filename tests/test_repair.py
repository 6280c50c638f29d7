"""Repairs: the lossless remux of near-miss containers to MP4 in the pipeline (through the folder and the
mailbox), and a reviewer's ``intake fix --shrink`` of a file over the size limit."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from intake.config import load_config
from intake.pipeline.services import open_services
from storage.filestore import FileStore
from tests import mails, media
from tests.cli import listing, run
from tests.configs import add_config
from tests.dovecot import PASSWORD
from tests.mailboxes import append, assert_for_submitters, poller_for, received, smtp_collector, write_mail_config
from validators.checks import check_container, check_remuxed
from validators.rules import RulesConfig

REMUXED_MOV = "原文件是 QuickTime（.mov）格式，已无损转换为 MP4（未重新编码，画质不变），请评审人员确认。"
MOV_ADVICE = ("发送的视频是 QuickTime（.mov）格式，不是要求的 MP4 格式。已将它无损转换为 MP4（没有重新编码，画质不变），"
              "无需重新发送；今后报送请直接导出 MP4 格式。")
VP9_WHY = ("文件是 MKV（Matroska）视频，不是 MP4。其中视频编码是 VP9、音频编码是 Opus，不是 MP4 要求的 H.264/H.265 视频和 "
           "AAC/MP3 音频，只转换格式、不重新编码（无损转换）得不到合格的 MP4。请转换为 MP4（H.264 视频 + AAC 音频）后重新报送。")


@pytest.fixture(scope="module")
def near_misses(ffmpeg_bin, tmp_path_factory) -> dict[str, Path]:
    """Two-second clips at 160x120: H.264/AAC in QuickTime, Matroska and FLV; VP9/Opus in Matroska; and a
    noisy H.264 MP4 of about 300 KB to shrink."""
    d = tmp_path_factory.mktemp("near_misses")
    clip = dict(size="160x120", rate=10)
    return {
        "mov": media.clip(d / "作品.mov", 2, fmt="mov", **clip),
        "mkv": media.clip(d / "作品.mkv", 2, fmt="matroska", **clip),
        "flv": media.clip(d / "flv.mp4", 2, fmt="flv", **clip),
        "vp9": media.clip(d / "vp9.mkv", 2, video="libvpx-vp9", audio="libopus", fmt="matroska",
                          extra=("-deadline", "realtime", "-cpu-used", "8"), **clip),
        "noisy": noisy(d / "noisy.mp4"),
    }


def noisy(path: Path) -> Path:
    media.ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=3,noise=alls=60:allf=t",
                 "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=3", "-c:v", "libx264",
                 "-preset", "ultrafast", "-qp", "8", "-pix_fmt", "yuv420p", "-c:a", "aac",
                 "-metadata", f"title={media.OPENING_TITLE}", str(path))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def problems(sub: dict) -> list[tuple[str, str, str]]:
    return [(c["id"], c["status"], c["code"]) for c in sub["checks"] if c["status"] != "pass"]


def test_the_wording_follows_how_the_file_arrived():
    rules = RulesConfig()
    assert check_container("quicktime", None, rules, sent_as="IMG_0001.MOV").message == \
        "文件是 QuickTime（.mov）视频，不是 MP4。请转换为 MP4（H.264 视频 + AAC 音频）后重新报送。"
    assert check_container("quicktime", None, rules, sent_as="作品.mp4").message == \
        "文件实际是 QuickTime（.mov）视频，不是 MP4（只是扩展名写成了 .mp4）。请转换为 MP4（H.264 视频 + AAC 音频）后重新报送。"
    assert check_remuxed("quicktime", "IMG_0001.MOV").message == REMUXED_MOV
    assert check_remuxed("flv", "作品.mp4").message == \
        "原文件实际是 FLV 格式（扩展名写成了 .mp4），已无损转换为 MP4（未重新编码，画质不变），请评审人员确认。"


WILL_REMUX = ("登记时会把它无损转换为 MP4（不重新编码，画质不变），以转换后的 MP4 为准，结果为待复核；"
              "不需要报送单位重新发送。")


def test_validate_says_what_intake_will_do_with_mov_mkv_and_avi(near_misses, workdir, monkeypatch, tmp_path):
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))   # where validate may make its MP4 copy
    folder = tmp_path / "files"
    folder.mkdir()
    mov = shutil.copy(near_misses["mov"], folder / "IMG_0423.MOV")
    mkv = shutil.copy(near_misses["mkv"], folder / "录屏.MKV")
    avi = media.clip(folder / "旧剪辑.AVI", 2, size="160x120", rate=10, video="mpeg4", audio="libmp3lame", fmt="avi",
                     extra=("-ar", "44100"))   # MP3 at a rate MP4 takes
    out = run("validate", mov, mkv, avi)
    assert out.returncode == 3, out.output
    assert out.stdout.splitlines() == [
        f"{mov}：待复核", f"  ! [container] 文件是 QuickTime（.mov）格式，不是 MP4。{WILL_REMUX}",
        f"{mkv}：待复核", f"  ! [container] 文件是 MKV（Matroska）格式，不是 MP4。{WILL_REMUX}",
        f"{avi}：待复核", f"  ! [container] 文件是 AVI 格式，不是 MP4。{WILL_REMUX}",
        "  ! [streams] 视频 MPEG-4 Visual 160×120，音频 MP3。视频编码 MPEG-4 Visual 不常见，部分播放器可能无法播放。"
        "建议转为 H.264 + AAC。"]   # as intake will say of the MP4 it makes
    [item] = json.loads(run("validate", "--json", mov).stdout)
    container = next(c for c in item["checks"] if c["id"] == "container")
    assert (item["outcome"], container["status"], container["code"]) == ("needs_review", "warn", "remuxed")
    assert container["details"]["planned"] is True and "无需重新发送" in container["advice"]
    assert item["media"]["container"] == "quicktime" and item["media"]["video_codec"] == "AVC"
    assert [p.name for p in temp.iterdir()] == [] and not (workdir / "data").exists()   # nothing kept, nothing stored

    raw = run("validate", "--no-repair", mov)
    assert (raw.returncode, raw.stdout.splitlines()) == (4, [
        f"{mov}：不合格", "  ✗ [container] 文件是 QuickTime（.mov）视频，不是 MP4。请转换为 MP4（H.264 视频 + AAC 音频）后重新报送。"])

    # Intake agrees: the same files dropped into the inbox come out 待复核, remuxed.
    add_config(workdir, "watch:\n  settle_seconds: 0\n")
    (workdir / "inbox").mkdir()
    for path in (mov, mkv, avi):
        shutil.copy(path, workdir / "inbox" / path.name)
    assert run("run", "--once").returncode == 0
    for sub in listing():   # (no contact details in these names: intake also says so)
        assert sub["outcome"] == "needs_review" and ("container", "warn", "remuxed") in problems(sub), sub["checks"]


def test_near_misses_dropped_in_the_folder_are_remuxed_and_judged_as_mp4(near_misses, workdir):
    add_config(workdir, "watch:\n  settle_seconds: 0\n")
    inbox = workdir / "inbox"
    inbox.mkdir()
    drops = {"柳南区": ("mov", ".mov"), "柳北区": ("mkv", ".mkv"), "城中区": ("flv", ".mp4"), "鱼峰区": ("vp9", ".mkv")}
    for unit, (key, suffix) in drops.items():
        shutil.copy(near_misses[key], inbox / f"{unit}-张三-13800138000-作品{suffix}")
    assert run("run", "--once").returncode == 0
    subs = {s["unit"]: s for s in listing()}
    store = FileStore(workdir / "data" / "store")
    for unit, (key, _) in list(drops.items())[:3]:
        sub = subs[unit]
        # Only the container check says anything: the MP4 passed every other check, the opening phrase too.
        assert (sub["outcome"], problems(sub)) == ("needs_review", [("container", "warn", "remuxed")]), sub["checks"]
        [f] = sub["files"]
        assert (f["container"], f["video_codec"], f["audio_codec"], f["repair"]) == ("mp4", "AVC", "AAC", "remux")
        assert f["original"] == {"sha256": sha256(near_misses[key]), "size_bytes": near_misses[key].stat().st_size}
        for blob in (f["sha256"], f["original"]["sha256"]):   # both kept, the MP4 judged
            assert store.path_of(store.relative_path_for(blob)).exists()
        assert (f["duration_seconds"], f["width"], f["height"]) == (pytest.approx(2, abs=0.3), 160, 120)
    container = next(c for c in subs["柳南区"]["checks"] if c["id"] == "container")
    assert (container["message"], container["advice"]) == (REMUXED_MOV, MOV_ADVICE)
    flv = next(c for c in subs["城中区"]["checks"] if c["id"] == "container")
    assert flv["message"].startswith("原文件实际是 FLV 格式（扩展名写成了 .mp4）")
    vp9 = subs["鱼峰区"]
    assert (vp9["outcome"], vp9["files"][0]["repair"], vp9["files"][0]["original"]) == ("rejected", None, None)
    assert [(c["code"], c["message"]) for c in vp9["checks"] if c["status"] != "pass"] == [("not_mp4", VP9_WHY)]
    assert sorted(p.name for p in (workdir / "done" / "待复核").rglob("*作品.*") if ".结果" not in p.name) == [
        "城中区-张三-13800138000-作品.mp4", "柳北区-张三-13800138000-作品.mkv", "柳南区-张三-13800138000-作品.mov"]

    # A recheck looks at the MP4 again and keeps saying it was remuxed.
    mov_id = subs["柳南区"]["id"]
    assert run("recheck", str(mov_id)).returncode == 0
    [again] = [s for s in listing() if s["id"] == mov_id]
    assert (again["check_run"], again["outcome"], problems(again)) == (2, "needs_review", [("container", "warn", "remuxed")])

    # The report plays the MP4, and the export sends it; the original stays in the store.
    mp4 = subs["柳南区"]["files"][0]["sha256"]
    assert run("report", "-o", "r.html").returncode == 0
    page = (workdir / "r.html").read_text(encoding="utf-8")
    assert f"{mp4}.mp4" in page and "已无损转换为 MP4，原文件已保存" in page
    assert run("decide", str(mov_id), "--shortlist").returncode == 0
    assert run("export", "out").returncode == 0
    [exported] = (workdir / "out").glob("01_*")
    assert (exported.name, sha256(exported)) == ("01_柳南区_作品.mp4", mp4)


def test_a_mov_attached_to_a_mail_is_remuxed_and_the_receipt_says_so(near_misses, workdir, dovecot, monkeypatch):
    handler, controller = smtp_collector()
    controller.start()
    try:
        monkeypatch.setenv("INTAKE_IMAP_PASSWORD", PASSWORD)
        write_mail_config(workdir, dovecot.port, receipts={"enabled": True, "host": "127.0.0.1", "port": controller.port,
                                                           "security": "none", "from_address": "bmjfgxck@163.com"})
        body = "单位：柳南区\n联系人：张三\n电话：13800138000\n"
        append(dovecot, mails.modern("柳南区 作品", body, [("IMG_0001.MOV", near_misses["mov"].read_bytes(),
                                                            "video/quicktime")]))
        poller_for(workdir).run(threading.Event(), once=True)
    finally:
        controller.stop()
    [sub] = listing(workdir)
    assert (sub["outcome"], problems(sub)) == ("needs_review", [("container", "warn", "remuxed")])
    assert sub["files"][0]["original"]["sha256"] == sha256(near_misses["mov"])
    [msg] = received(handler)
    text = msg.get_content()
    assert_for_submitters(text)
    assert MOV_ADVICE in text and msg["Subject"] == "回执：已收到《IMG_0001》（待复核）"


def test_a_reviewer_shrinks_a_file_over_the_limit(near_misses, workdir):
    source = near_misses["noisy"]
    limit = source.stat().st_size // 2
    add_config(workdir, f"watch:\n  settle_seconds: 0\nrules:\n  max_size_bytes: {limit}\n  sensitive:\n    scan: true\n")
    (workdir / "inbox").mkdir()
    shutil.copy(source, workdir / "inbox" / "柳南区-张三-13800138000-大.mp4")
    assert run("run", "--once").returncode == 0
    [sub] = listing()
    assert (sub["outcome"], sub["files"][0]["sha256"]) == ("rejected", None)   # over the limit: never stored
    [kept] = (workdir / "done" / "不合格").rglob("*大.mp4")

    out = run("fix", "1", "--shrink")
    assert out.returncode == 2 and "收到时超过大小上限，没有保存" in out.stderr and "--source" in out.stderr
    add_config(workdir, "rules:\n  max_duration_seconds: 1\n  duration_grace_seconds: 0\n")
    out = run("fix", "1", "--shrink", "--source", kept)
    assert (out.returncode, out.stderr.splitlines()[0]) == (
        2, "错误：视频时长 3秒，超过 1秒 的要求，没有压缩：压缩不会缩短时长，剪辑会改变作品。")
    add_config(workdir, "rules:\n  max_duration_seconds: 120\n  duration_grace_seconds: 5\n")

    original = {"sha256": sha256(kept), "size_bytes": kept.stat().st_size}
    [scan] = [c for c in listing()[0]["checks"] if c["id"] == "sensitive_content"]   # made where it arrived
    assert (scan["code"], scan["details"]["scanned_seconds"]) == ("ok", pytest.approx(3, abs=0.5)), scan
    out = run("fix", "1", "--shrink", "--source", kept, "--reviewer", "王老师")
    assert out.returncode == 0, out.output
    assert "压缩进度：100%" in out.stderr and "作品 #1：不合格 → 待复核" in out.stdout
    # The file received moves from done/不合格 to done/待复核, with its note, as the outcome did.
    [moved] = (workdir / "done" / "待复核").rglob("*大.mp4")
    assert not kept.exists() and moved.parent.name == kept.parent.name and sha256(moved) == original["sha256"]
    assert f"处理结果文件夹中的文件已随结果移到：{moved}" in out.stdout
    assert "处理结果：待复核" in moved.with_name(moved.name + ".结果.txt").read_text(encoding="utf-8-sig")
    [sub] = listing()
    [f] = sub["files"]
    assert 0.7 * limit < f["size_bytes"] <= limit, (f["size_bytes"], limit)
    assert (f["repair"], f["original"]) == ("shrink", original)
    assert (sub["outcome"], sub["check_run"], problems(sub)) == ("needs_review", 2, [("size", "warn", "shrunk")])
    assert sub["speaker"] == "小测"   # the new file went through every check, the opening phrase too
    # … but the whole-video scan of the original stands for it: the same picture, not read a second time.
    assert [c for c in sub["checks"] if c["id"] == "sensitive_content"] == [scan]
    db = open_services(load_config(workdir / "config.yaml")).db
    [event] = [e for e in db.audit.events(1) if e.kind == "fixed"]
    assert (event.actor, event.data["repair"], event.data["source"]) == ("王老师", "shrink", str(kept))
    # One pass at the fastest x264 preset: under the video's own duration on two cores (bench/bench_shrink.py).
    assert (event.data["shrink"]["preset"], event.data["shrink"]["passes"]) == ("ultrafast", 1)
    assert json.dumps(event.data["outcome"]) == '{"old": "rejected", "new": "needs_review"}'
    assert run("fix", "1", "--shrink").returncode == 2   # no longer over the limit


@pytest.mark.parametrize("kind", ["mkv", "flv"])
def test_the_index_goes_into_room_kept_at_the_front_or_is_moved_there(near_misses, tmp_path, monkeypatch, kind):
    """The MP4's index (moov) is written into room reserved before the media data; when it outgrows the room,
    the copy is made again with +faststart. Either way moov comes before mdat and the streams are copied."""
    from validators import remux
    from validators.opened import OpenedFile

    sniffed = {"mkv": "mkv", "flv": "flv"}[kind]
    made = {}
    with OpenedFile.open(near_misses[kind]) as opened:
        streams = remux.probe_streams(opened, sniffed, 30)
        assert streams.video == "h264" and streams.audio == "aac" and streams.duration == pytest.approx(2, abs=0.2)
        remux.remux_to_mp4(opened, sniffed, streams, tmp_path / "roomy.mp4", 30)
        monkeypatch.setattr(remux, "MOOV_MIN_BYTES", 16)
        monkeypatch.setattr(remux, "MOOV_BYTES_PER_SECOND", 1)   # far too little room: the fallback
        remux.remux_to_mp4(opened, sniffed, streams, tmp_path / "moved.mp4", 30)
    for name in ("roomy", "moved"):
        made[name] = [box.decode() for box, *_ in media.iter_boxes((tmp_path / f"{name}.mp4").read_bytes())]
    assert made["roomy"][:3] == ["ftyp", "moov", "free"] and made["roomy"][-1] == "mdat"
    assert made["moved"][:2] == ["ftyp", "moov"] and made["moved"][-1] == "mdat"
    assert (tmp_path / "roomy.mp4").stat().st_size > (tmp_path / "moved.mp4").stat().st_size   # the room is kept
    assert remux.moov_reserve(None) is None and remux.moov_reserve(0) is None


def test_the_desk_offers_the_mp4_judged_and_the_original_as_it_arrived(near_misses, clips, tmp_path):
    from intake.desk.accounts import add_account
    from tests.conftest import OPEN_CONTEST
    from tests.desks import PASSWORD, logged_in, record, running_desk

    (tmp_path / "config.yaml").write_text(OPEN_CONTEST, encoding="utf-8")
    services = open_services(load_config(tmp_path / "config.yaml"))
    remuxed = record(services, near_misses["mov"], "柳南区", "张三", "13800000001")
    plain = record(services, clips["valid"], "柳北区", "李四", "13800000002")
    [mov_file] = services.db.submissions.get(remuxed).files
    [mp4_file] = services.db.submissions.get(plain).files
    add_account(services.db, "judge", "reviewer", PASSWORD)
    services.db.engine.dispose()
    with running_desk(tmp_path) as (port, _):
        judge = logged_in(port, "judge")
        page = judge.get(f"/entries/{remuxed}").text
        assert "已无损转换为 MP4（原文件保留）" in page and f'href="/files/{mov_file.id}/original">下载原文件' in page
        judged = judge.get(f"/files/{mov_file.id}/download")
        original = judge.get(f"/files/{mov_file.id}/original")
        assert judged.status == 200 and "filename*=utf-8''%E4%BD%9C%E5%93%81.mp4" in judged.headers["content-disposition"]
        assert judged.body[4:8] == b"ftyp" and judged.body != near_misses["mov"].read_bytes()
        assert original.status == 200 and "%E4%BD%9C%E5%93%81.mov" in original.headers["content-disposition"]
        assert original.body == near_misses["mov"].read_bytes()   # the evidence, byte for byte
        assert "下载原文件" not in judge.get(f"/entries/{plain}").text
        assert judge.get(f"/files/{mp4_file.id}/original").status == 404   # nothing was repaired
