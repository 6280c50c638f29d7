"""The folder watcher with a real watchdog observer, real files and the real `intake run`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from tests import mails
from tests.cli import INTAKE, listing
from tests.folders import Running, done_files, inbox_files, run_once, strip_date, write_folder_config
from tests.waiting import wait_until

pytestmark = pytest.mark.slow   # a long module: scheduled first (conftest.py)


@pytest.fixture
def inbox(workdir) -> Path:
    write_folder_config(workdir)
    (workdir / "inbox").mkdir()
    return workdir / "inbox"


@pytest.mark.parametrize("polling", [False, True], ids=["inotify", "polling"])
def test_slowly_written_file_is_processed_once_after_it_is_complete(clips, workdir, polling):
    write_folder_config(workdir, settle_seconds=1.0, polling=polling, poll_interval_seconds=0.2)
    data = clips["valid"].read_bytes()
    target = workdir / "inbox" / "柳南区-张三-13800138000-慢慢拷贝.mp4"
    with Running(workdir) as run:
        assert run.watcher.mode.startswith("polling" if polling else "inotify")
        chunk = len(data) // 8 + 1
        with target.open("wb") as fh:
            for i in range(0, len(data), chunk):
                fh.write(data[i:i + chunk])
                fh.flush()
                last_write = time.monotonic()
                # The copy's own pace is what is under test: slower than nothing, faster than the settle time.
                time.sleep(0.4)
                assert run.finished == [], "picked up while still being written"
        run.wait_for(1)
        assert time.monotonic() - last_write >= 0.9   # the settle time had passed since the last byte
        # Repeated events must not make a second record: a file dropped later is processed after them.
        (workdir / "inbox" / "柳南区-李四-13800138001-后到.mp4").write_bytes(mails.variant(data, "later"))
        run.wait_for(2)
        assert len(run.finished) == 2
    first, later = listing(workdir)
    assert (first["title"], later["title"]) == ("慢慢拷贝", "后到")
    assert first["files"][0]["size_bytes"] == len(data)
    assert first["outcome"] == "accepted"
    assert inbox_files(workdir) == []


def test_files_present_before_start_are_processed(clips, inbox):
    shutil.copy(clips["valid"], inbox / "a.mp4")
    (inbox / "柳北区").mkdir()
    shutil.copy(clips["s126"], inbox / "柳北区" / "b.mp4")
    for junk in (".hidden.mp4", "c.mp4.part", "d.crdownload", "~$e.mp4", "Thumbs.db", "desktop.ini", ".DS_Store"):
        (inbox / junk).write_bytes(b"x")
    (inbox / "__MACOSX").mkdir()
    (inbox / "__MACOSX" / "._a.mp4").write_bytes(b"x")
    out = run_once(inbox.parent)
    assert out.returncode == 0, out.stderr
    assert "微视频作品接收已启动" in out.stdout and "投递文件夹" in out.stdout
    subs = listing(inbox.parent)
    assert sorted(s["files"][0]["original_name"] for s in subs) == ["a.mp4", "b.mp4"]
    assert strip_date(done_files(inbox.parent)) == [
        "不合格/柳北区/b.mp4", "不合格/柳北区/b.mp4.结果.txt", "待复核/a.mp4", "待复核/a.mp4.结果.txt"]
    assert sorted(inbox_files(inbox.parent)) == sorted(
        [".DS_Store", ".hidden.mp4", "__MACOSX/._a.mp4", "c.mp4.part", "d.crdownload", "desktop.ini",
         "Thumbs.db", "~$e.mp4"])


def test_result_note_is_chinese_and_names_the_problems(clips, inbox):
    shutil.copy(clips["s126"], inbox / "鹿寨县-赵六-13900001111-太长.mp4")
    run_once(inbox.parent)
    [note] = [p for p in (inbox.parent / "done").rglob("*.结果.txt")]
    raw = note.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    text = raw.decode("utf-8-sig")
    assert "处理结果：不合格" in text
    assert "参赛单位：鹿寨县" in text and "联系人：赵六" in text and "联系电话：13900001111" in text
    assert "【时长·不合格】" in text and "请剪辑到" in text


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "utf-16"])
def test_sidecar_metadata(clips, inbox, encoding):
    shutil.copy(clips["valid"], inbox / "作品.mp4")
    (inbox / "作品.txt").write_bytes("参赛单位名称：融水苗族自治县\r\n联系人: 韦七\r\n联系电话：0772－5123456\r\n"
                                     .encode(encoding))
    run_once(inbox.parent)
    [sub] = listing(inbox.parent)
    assert (sub["unit"], sub["contact"], sub["phone"]) == ("融水苗族自治县", "韦七", "0772-5123456")
    assert sub["outcome"] == "accepted"
    assert strip_date(done_files(inbox.parent)) == ["通过/作品.mp4", "通过/作品.mp4.结果.txt", "通过/作品.txt"]


def test_json_sidecar_and_folder_fallback(clips, inbox):
    (inbox / "三江侗族自治县").mkdir()
    shutil.copy(clips["valid"], inbox / "三江侗族自治县" / "v.mp4")
    (inbox / "三江侗族自治县" / "v.json").write_text(json.dumps({"联系人": "杨八", "电话": "13700001234"}),
                                                encoding="utf-8")
    run_once(inbox.parent)
    [sub] = listing(inbox.parent)
    assert (sub["unit"], sub["contact"], sub["phone"]) == ("三江侗族自治县", "杨八", "13700001234")


def test_file_name_metadata(clips, inbox):
    shutil.copy(clips["valid"], inbox / "柳江区-孙九-13600001234-保密在身边.mp4")
    run_once(inbox.parent)
    [sub] = listing(inbox.parent)
    assert (sub["unit"], sub["contact"], sub["phone"], sub["title"]) == ("柳江区", "孙九", "13600001234", "保密在身边")


def test_no_metadata_is_recorded_with_contact_warning(clips, inbox):
    shutil.copy(clips["valid"], inbox / "无名.mp4")
    run_once(inbox.parent)
    [sub] = listing(inbox.parent)
    assert sub["outcome"] == "needs_review"
    assert [(c["id"], c["code"]) for c in sub["checks"] if c["status"] == "warn"] == [("contact_info", "missing")]


class _GbkInfo(zipfile.ZipInfo):
    """Write the name as raw GBK bytes without the UTF-8 flag, as Chinese Windows does."""

    def _encodeFilenameFlags(self):  # noqa: N802 (zipfile's name)
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def test_zip_with_gbk_names(clips, inbox):
    with zipfile.ZipFile(inbox / "柳南区作品.zip", "w") as zf:
        zf.writestr(_GbkInfo("柳南区/守护秘密.mp4"), clips["valid"].read_bytes())
        zf.writestr(_GbkInfo("柳南区/报名.txt"), "单位：柳南区\n联系人：周十\n电话：13500001234\n".encode("gbk"))
        zf.writestr(_GbkInfo("__MACOSX/._守护秘密.mp4"), b"junk")
    raw_names = [i.filename for i in zipfile.ZipFile(inbox / "柳南区作品.zip").infolist()]
    assert "柳南区/守护秘密.mp4" not in raw_names   # zipfile alone would get this wrong
    run_once(inbox.parent)
    [sub] = listing(inbox.parent)
    assert [f["original_name"] for f in sub["files"]] == ["柳南区/守护秘密.mp4"]
    assert (sub["unit"], sub["contact"], sub["phone"]) == ("柳南区", "周十", "13500001234")
    assert sub["outcome"] == "accepted", sub["checks"]
    assert strip_date(done_files(inbox.parent)) == ["通过/柳南区作品.zip", "通过/柳南区作品.zip.结果.txt"]
    assert not (inbox.parent / "data" / "work").exists() or not any((inbox.parent / "data" / "work").iterdir())


def test_zip_with_parent_paths_is_rejected_and_nothing_escapes(clips, inbox, tmp_path):
    with zipfile.ZipFile(inbox / "evil.zip", "w") as zf:
        zf.writestr("../../escaped.mp4", clips["valid"].read_bytes())
        zf.writestr("ok.mp4", clips["valid"].read_bytes())
    run_once(inbox.parent)
    [sub] = listing(inbox.parent)
    assert sub["outcome"] == "rejected"
    assert ("archive", "unsafe_path") in [(c["id"], c["code"]) for c in sub["checks"]]
    assert not list(tmp_path.parent.rglob("escaped.mp4"))


def test_zip_bomb_is_rejected_not_expanded(inbox):
    write_folder_config(inbox.parent, max_zip_total_bytes=20 * 1024 * 1024)
    with zipfile.ZipFile(inbox / "bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("zeros.mp4", "w") as fh:
            block = bytes(1024 * 1024)
            for _ in range(200):
                fh.write(block)
    assert (inbox / "bomb.zip").stat().st_size < 1024 * 1024
    run_once(inbox.parent)
    [sub] = listing(inbox.parent)
    assert sub["outcome"] == "rejected"
    assert ("archive", "too_large_unpacked") in [(c["id"], c["code"]) for c in sub["checks"]]
    work = inbox.parent / "data" / "work"
    assert not work.exists() or not any(p.is_file() for p in work.rglob("*"))


def test_rar_and_7z_are_rejected_asking_for_mp4_or_zip(inbox):
    (inbox / "a.rar").write_bytes(b"Rar!\x1a\x07\x01\x00" + b"\x00" * 100)
    (inbox / "b.7z").write_bytes(b"7z\xbc\xaf\x27\x1c" + b"\x00" * 100)
    run_once(inbox.parent)
    subs = listing(inbox.parent)
    assert len(subs) == 2
    for sub in subs:
        assert sub["outcome"] == "rejected"
        container = next(c for c in sub["checks"] if c["id"] == "container")
        assert container["code"] == "unsupported_archive"
        assert "MP4" in container["message"] and "ZIP" in container["message"]


@pytest.mark.parametrize("point", ["store_copy", "before_commit", "after_record", "after_note"])
def test_kill_9_then_restart_records_once(clips, inbox, point, backend):
    name = "鱼峰区-吴一-13400001234-断电.mp4"
    shutil.copy(clips["valid"], inbox / name)
    marker = inbox.parent / "reached"
    proc = subprocess.Popen(INTAKE + ["run"], cwd=inbox.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "INTAKE_FAILPOINT": point, "INTAKE_FAILPOINT_MARKER": str(marker)})
    try:
        wait_until(marker.exists, 60, "the failpoint")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert (inbox / name).exists(), "the file left the inbox before it was done"

    out = run_once(inbox.parent)
    assert out.returncode == 0, out.stderr
    subs = listing(inbox.parent)
    assert len(subs) == 1
    assert subs[0]["outcome"] == "accepted"
    assert inbox_files(inbox.parent) == []
    assert strip_date(done_files(inbox.parent)) == [f"通过/{name}", f"通过/{name}.结果.txt"]
    stored = [p for p in (inbox.parent / "data" / "store").rglob("*.mp4")]
    assert len(stored) == 1


def test_sigterm_stops_cleanly(inbox):
    proc = subprocess.Popen(INTAKE + ["run"], cwd=inbox.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    log = inbox.parent / "data" / "logs" / "intake.log"
    try:
        # The folder's first healthy pass comes after the stop signals are in place.
        wait_until(lambda: (inbox.parent / "data" / "status" / "folder.json").exists(), 30, "the first pass")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0
    assert "微视频作品接收已启动" in out
    assert "Traceback" not in err
    assert "已停止" in log.read_text(encoding="utf-8")
