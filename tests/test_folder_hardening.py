"""The drop folder against hostile and careless input, end to end through the real watcher.

Links at any level, FIFOs, devices, paused copies, look-alike files, long names, odd zips and
sidecars, and an item that makes processing fail every time: each ends recorded (or, for what is
not a regular file of the inbox, refused and left alone), and nothing outside the inbox is read or moved.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import pytest

from intake.pipeline import stages as pipeline
from intake.pipeline.views import submission_views
from tests.configs import add_config
from tests import cli, mails
from tests.cli import INTAKE, listing
from tests.folders import Running, done_files, inbox_files, strip_date, write_folder_config
from tests.waiting import wait_until

pytestmark = pytest.mark.slow   # a long module: scheduled first (conftest.py)

WRITER = r"""
import os, sys, time
path, data_file, pause, mode = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
data = open(data_file, "rb").read()
half = len(data) // 2
fh = open(path, "wb")
fh.write(data[:half]); fh.flush(); os.fsync(fh.fileno())
if mode == "reopen":
    fh.close()
print("half", flush=True)
time.sleep(pause)   # the copy's pause is the behaviour under test, not a wait for it
if mode == "reopen":
    fh = open(path, "ab")
fh.write(data[half:]); fh.flush()
fh.close()
print("done", flush=True)
"""


def stops_within(proc: subprocess.Popen, seconds: float) -> None:
    """SIGTERM ``proc``; it must exit cleanly (0) within ``seconds``."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=seconds + 15)
    assert time.monotonic() - sent < seconds
    assert proc.returncode == 0


def kill_if_running(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def views(run: Running) -> list[dict]:
    return submission_views(run.watcher.services.db)


def stored(cwd: Path) -> list[Path]:
    store = cwd / "data" / "store"
    if not store.exists():
        return []
    return sorted(p for p in store.rglob("*") if p.is_file() and p.relative_to(store).parts[0] != "tmp")


def check_codes(sub: dict) -> set[tuple[str, str]]:
    return {(c["id"], c["code"]) for c in sub["checks"]}


@pytest.fixture
def inbox(workdir) -> Path:
    write_folder_config(workdir)
    (workdir / "inbox").mkdir()
    return workdir / "inbox"


@pytest.fixture
def outside(tmp_path, clips) -> Path:
    """A folder beside the work folder, with a video and a sidecar nobody dropped."""
    folder = tmp_path.parent / f"{tmp_path.name}-outside"
    folder.mkdir()
    (folder / "secret.mp4").write_bytes(clips["valid"].read_bytes())
    (folder / "secret.txt").write_text("单位：外部单位\n联系人：不该读\n电话：13800000000\n", encoding="utf-8")
    return folder


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


# -- links and odd files --------------------------------------------------------------------------


def test_linked_folder_is_skipped_and_outside_files_stay(clips, inbox, outside):
    before = snapshot(outside)
    (inbox / "柳南区").symlink_to(outside, target_is_directory=True)
    (inbox / "ok.mp4").write_bytes(clips["valid"].read_bytes())
    out = cli.run("run", "--once", cwd=inbox.parent)
    assert out.returncode == 0, out.stderr
    subs = listing(inbox.parent)
    assert [f["original_name"] for s in subs for f in s["files"]] == ["ok.mp4"]
    assert snapshot(outside) == before
    assert strip_date(done_files(inbox.parent)) == ["待复核/ok.mp4", "待复核/ok.mp4.结果.txt"]
    log = (inbox.parent / "data" / "logs" / "intake.log").read_text(encoding="utf-8")
    assert "链接文件夹" in log and "柳南区" in log


def test_fifo_and_device_swaps_never_block_and_sigterm_stops_within_seconds(clips, inbox, outside):
    """`intake watch` as a real process: queued files become a FIFO, a /dev/zero link and an outside link."""
    write_folder_config(inbox.parent, settle_seconds=1.5)
    names = ("fifo.mp4", "zero.mp4", "outside.mp4")
    for name in names:
        (inbox / name).write_bytes(clips["valid"].read_bytes())
    before = snapshot(outside)
    proc = subprocess.Popen(INTAKE + ["watch"], cwd=inbox.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert "微视频作品接收已启动" in proc.stdout.readline()   # the start-up scan has queued all three
        swap = inbox / ".swap"
        os.mkfifo(swap)
        os.replace(swap, inbox / "fifo.mp4")
        swap.symlink_to("/dev/zero")
        os.replace(swap, inbox / "zero.mp4")
        swap.symlink_to(outside / "secret.mp4")
        os.replace(swap, inbox / "outside.mp4")
        (inbox / "later.mp4").write_bytes(clips["valid"].read_bytes())
        wait_until(lambda: any(p.endswith("later.mp4") for p in done_files(inbox.parent)), 90, "later.mp4 processed")
        stops_within(proc, 8)
    finally:
        kill_if_running(proc)
    subs = listing(inbox.parent)
    assert [f["original_name"] for s in subs for f in s["files"]] == ["later.mp4"]
    assert len(stored(inbox.parent)) == 1   # /dev/zero never streamed into the store
    assert sorted(p.name for p in inbox.iterdir()) == ["fifo.mp4", "outside.mp4", "zero.mp4"]   # left alone
    assert (inbox / "fifo.mp4").is_fifo() and (inbox / "zero.mp4").is_symlink() and (inbox / "outside.mp4").is_symlink()
    assert snapshot(outside) == before
    log = (inbox.parent / "data" / "logs" / "intake.log").read_text(encoding="utf-8")
    assert "命名管道" in log and "已停止" in log


def test_queued_file_swapped_for_link_to_outside_file_is_not_stored_or_moved(clips, inbox, outside):
    write_folder_config(inbox.parent, settle_seconds=1.5)
    before = snapshot(outside)
    link = inbox / "link.mp4"
    link.write_bytes(clips["valid"].read_bytes())
    with Running(inbox.parent) as run:
        wait_until(lambda: link in run.watcher.tracker.seen, 30, "link.mp4 queued")
        swap = inbox / ".swap"
        swap.symlink_to(outside / "secret.mp4")
        os.replace(swap, link)
        (inbox / "real.mp4").write_bytes(clips["valid"].read_bytes())
        run.wait_for(1)
        # A wrong record of the link would come before a file dropped now is done.
        (inbox / "after.mp4").write_bytes(mails.variant(clips["valid"].read_bytes(), "after"))
        run.wait_for(2)
    assert [s["files"][0]["original_name"] for s in views(run)] == ["real.mp4", "after.mp4"]
    assert len(stored(inbox.parent)) == 2
    assert (inbox / "link.mp4").is_symlink() and snapshot(outside) == before


def test_sidecar_link_is_ignored_and_huge_sidecar_is_bounded(clips, inbox, outside):
    (inbox / "链接.mp4").write_bytes(clips["valid"].read_bytes())
    (inbox / "链接.txt").symlink_to(outside / "secret.txt")
    (inbox / "大.mp4").write_bytes(clips["valid"].read_bytes())
    with (inbox / "大.txt").open("wb") as fh:   # sparse: 4 GB on paper, nothing on disk
        fh.write("单位：柳南区\n联系人：张三\n电话：13800138000\n".encode("utf-8"))
        fh.truncate(4 * 1024 ** 3)

    def limit_memory():   # reading the sidecar whole would need 4 GB
        resource.setrlimit(resource.RLIMIT_AS, (1536 * 1024 ** 2, resource.RLIM_INFINITY))

    out = subprocess.run(INTAKE + ["run", "--once"], cwd=inbox.parent, capture_output=True, text=True, timeout=300,
                         preexec_fn=limit_memory)
    assert out.returncode == 0, out.stderr
    subs = {s["files"][0]["original_name"]: s for s in listing(inbox.parent)}
    assert set(subs) == {"链接.mp4", "大.mp4"}
    assert subs["链接.mp4"]["unit"] is None and subs["链接.mp4"]["contact"] is None
    assert (subs["大.mp4"]["unit"], subs["大.mp4"]["contact"]) == ("柳南区", "张三")
    assert (inbox / "链接.txt").is_symlink()
    assert (outside / "secret.txt").exists()
    assert sorted(strip_date(done_files(inbox.parent))) == [
        "待复核/链接.mp4", "待复核/链接.mp4.结果.txt", "通过/大.mp4", "通过/大.mp4.结果.txt", "通过/大.txt"]


# -- copies that pause, files that look alike --------------------------------------------------------


@pytest.mark.parametrize("mode", ["holds_open", "reopen"])
def test_paused_copy_is_recorded_complete(clips, workdir, mode):
    """A writer writes half, pauses longer than the settle time, then finishes."""
    write_folder_config(workdir, settle_seconds=0.6)   # a cut-short result waits 4 × 0.6 s: past the 1.2 s pause
    (workdir / "inbox").mkdir()
    data = clips["valid"].read_bytes()
    target = workdir / "inbox" / "柳南区-张三-13800138000-慢.mp4"
    with Running(workdir) as run:
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(clips["valid"]), "1.2", mode],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout.readline().strip() == "half"
            assert writer.stdout.readline().strip() == "done"
            assert writer.wait(30) == 0
        finally:
            if writer.poll() is None:
                writer.kill()
        run.wait_for(1)
        # A late second record would come before a file dropped now is done.
        later = workdir / "inbox" / "柳北区-李四-13800138001-后到.mp4"
        later.write_bytes(mails.variant(data, "after"))
        run.wait_for(2)
    sub, after = views(run)   # never a truncated record beside it
    assert after["files"][0]["original_name"] == later.name
    assert sub["outcome"] == "accepted", sub["checks"]
    assert sub["files"][0]["size_bytes"] == len(data)
    sha = sub["files"][0]["sha256"]
    assert (workdir / "data" / "store" / sha[:2] / sha[2:4] / f"{sha}.mp4").read_bytes() == data
    assert strip_date(done_files(workdir)) == sorted(f"通过/{name}{end}" for name in (target.name, later.name)
                                                     for end in ("", ".结果.txt"))


def test_two_different_videos_with_one_name_size_and_mtime_are_both_kept(clips, inbox):
    first = clips["valid"].read_bytes()
    second = first.replace(b"Lavf", b"Lavg", 1)   # the encoder's name in the metadata: both still play
    assert len(first) == len(second) and first != second
    path = inbox / "作品.mp4"
    stamp = (1_700_000_000, 1_700_000_000)
    with Running(inbox.parent) as run:
        path.write_bytes(first)
        os.utime(path, stamp)
        run.wait_for(1)
        path.write_bytes(second)
        os.utime(path, stamp)
        run.wait_for(2)
    assert [s["outcome"] for s in views(run)] == ["needs_review", "needs_review"]   # no contact info: one folder
    kept = sorted(p for p in (inbox.parent / "done").rglob("*.mp4"))
    assert sorted(p.name for p in kept) == ["作品 (2).mp4", "作品.mp4"]
    assert sorted(p.read_bytes() for p in kept) == sorted([first, second])


def test_name_of_250_bytes_is_recorded_moved_and_answered(clips, inbox):
    name = "保" * 82 + ".mp4"
    assert len(name.encode()) == 250
    (inbox / name).write_bytes(clips["valid"].read_bytes())
    with Running(inbox.parent) as run:
        run.wait_for(1)
    assert inbox_files(inbox.parent) == []
    [video] = (inbox.parent / "done").rglob("*.mp4")
    [note] = (inbox.parent / "done").rglob("*.结果.txt")
    assert video.name.startswith("保") and video.suffix == ".mp4"
    assert note.name == video.name + ".结果.txt" and len(note.name.encode()) <= 255
    assert views(run)[0]["files"][0]["original_name"] == name


def test_deep_path_gets_a_short_source_ref(clips, inbox):
    folder = inbox.joinpath(*["深" * 80] * 13)   # over 1,000 characters below the inbox
    folder.mkdir(parents=True)
    (folder / "作品.mp4").write_bytes(clips["valid"].read_bytes())
    with Running(inbox.parent) as run:
        run.wait_for(1)
    [ref] = [view["source_ref"] for view in views(run)]
    assert len(ref) < 1000
    assert [p.name for p in (inbox.parent / "done").rglob("*.mp4")] == ["作品.mp4"]


def test_truncated_file_still_ends_recorded_after_the_longer_wait(clips, inbox):
    (inbox / "柳南区-张三-13800138000-断.mp4").write_bytes(clips["truncated"].read_bytes())
    with Running(inbox.parent) as run:
        run.wait_for(1)
    [sub] = views(run)
    assert sub["outcome"] == "rejected"
    assert check_codes(sub) & {("container", "no_moov"), ("integrity", "truncated")}


def test_control_characters_leave_no_trace_in_done_names(clips, inbox):
    (inbox / "作品\x1b[31m\x07.mp4").write_bytes(clips["valid"].read_bytes())
    with Running(inbox.parent) as run:
        run.wait_for(1)
    names = [p.name for p in (inbox.parent / "done").rglob("*") if p.is_file()]
    assert sorted(names) == ["作品[31m.mp4", "作品[31m.mp4.结果.txt"]


# -- zips and sidecars ------------------------------------------------------------------------------


def test_zip_with_duplicate_names_keeps_both(clips, inbox):
    other = clips["no_audio"].read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # zipfile warns about the duplicate name: that is the point
        with zipfile.ZipFile(inbox / "两个.zip", "w") as zf:
            zf.writestr("作品.mp4", clips["valid"].read_bytes())
            zf.writestr("作品.mp4", other)
    with Running(inbox.parent) as run:
        run.wait_for(1)
    [sub] = views(run)
    assert [f["original_name"] for f in sub["files"]] == ["作品.mp4", "作品 (2).mp4"]
    assert len({f["sha256"] for f in sub["files"]}) == 2


@pytest.mark.parametrize("entries, code", [
    (["a", "a/b.mp4"], "path_conflict"),
    (["a/b.mp4", "a"], "path_conflict"),
    (["/".join(["长" * 80] * 20) + "/x.mp4"], "name_too_long"),
    (["长" * 90 + ".mp4"], "name_too_long"),
], ids=["file-then-folder", "folder-then-file", "path-over-4096", "name-over-255"])
def test_zip_path_clash_or_long_path_is_a_recorded_rejection(clips, inbox, entries, code):
    with zipfile.ZipFile(inbox / "坏.zip", "w") as zf:
        for entry in entries:
            zf.writestr(entry, clips["valid"].read_bytes())
    with Running(inbox.parent) as run:
        run.wait_for(1)
    [sub] = views(run)
    assert sub["outcome"] == "rejected"
    [archive] = [c for c in sub["checks"] if c["id"] == "archive"]
    assert (archive["status"], archive["code"]) == ("fail", code)
    assert "压缩包" in archive["message"]
    assert strip_date(done_files(inbox.parent)) == ["不合格/坏.zip", "不合格/坏.zip.结果.txt"]


def test_utf16_sidecar_of_odd_length_is_read_with_replacements(clips, inbox):
    (inbox / "作品.mp4").write_bytes(clips["valid"].read_bytes())
    text = "单位：柳南区\r\n联系人：张三\r\n电话：13800138000\r\n"
    (inbox / "作品.txt").write_bytes(b"\xff\xfe" + text.encode("utf-16-le") + b"\x00")
    (inbox / "作品.srt").write_bytes(b"\xff\xfe" + "1\r\n00:00:00,000 --> 00:00:02,000\r\n你好\r\n".encode("utf-16-le")
                                   + b"\x00\xd8")   # a lone surrogate at the end
    with zipfile.ZipFile(inbox / "包.zip", "w") as zf:
        zf.writestr("视频.mp4", clips["valid"].read_bytes())
        zf.writestr("视频.txt", b"\xff\xfe" + "单位：柳北区\r\n".encode("utf-16-le") + b"\x00")
    with Running(inbox.parent) as run:
        run.wait_for(2)
    subs = {s["files"][0]["original_name"]: s for s in views(run)}
    sub = subs["作品.mp4"]
    assert (sub["unit"], sub["contact"], sub["phone"]) == ("柳南区", "张三", "13800138000")
    assert subs["视频.mp4"]["unit"] == "柳北区"
    assert inbox_files(inbox.parent) == []


# -- an item that always fails ------------------------------------------------------------------------


def test_item_that_always_fails_ends_recorded_for_review(clips, inbox, monkeypatch):
    add_config(inbox.parent, "processing:\n  retry_seconds: 0.2\n  retry_max_seconds: 0.4\n  max_attempts: 3\n")
    calls = []

    def explode(task, services):
        calls.append(task.source_ref)
        if any(f.original_name == "坏.mp4" for f in task.files):
            raise RuntimeError("boom")

    stages = list(pipeline.STAGES)
    stages.insert(stages.index(pipeline.check_contact), explode)
    monkeypatch.setattr(pipeline, "STAGES", stages)
    (inbox / "坏.mp4").write_bytes(clips["valid"].read_bytes())
    (inbox / "好.mp4").write_bytes(clips["valid"].read_bytes())
    with Running(inbox.parent) as run:
        run.wait_for(2)
    subs = {s["title"]: s for s in views(run)}
    bad = subs["坏"]
    assert bad["outcome"] == "needs_review"
    assert ("processing_error", "processing_error") in check_codes(bad)
    assert "boom" in next(c["message"] for c in bad["checks"] if c["id"] == "processing_error")
    assert len([r for r in calls if "坏" in r]) == 3
    assert sorted(strip_date(done_files(inbox.parent))) == [
        "待复核/坏.mp4", "待复核/坏.mp4.结果.txt", "待复核/好.mp4", "待复核/好.mp4.结果.txt"]


def test_a_failing_item_and_a_failing_watcher_show_in_doctor(clips, inbox, monkeypatch):
    add_config(inbox.parent, "processing:\n  retry_seconds: 600\n  max_attempts: 3\n")

    def explode(task, services):
        raise RuntimeError("解析说明文件时崩溃")

    stages = list(pipeline.STAGES)
    stages.insert(stages.index(pipeline.check_contact), explode)
    monkeypatch.setattr(pipeline, "STAGES", stages)
    (inbox / "坏.mp4").write_bytes(clips["valid"].read_bytes())
    with Running(inbox.parent) as run:
        wait_until(lambda: run.watcher.services.db.claims.failing_items(), 60, "the first failed try to be counted")
    assert [p.name for p in inbox.iterdir()] == ["坏.mp4"]   # it waits in the inbox for its next try

    doctor = cli.run("doctor", "--no-mailbox", cwd=inbox.parent)
    assert doctor.returncode == 1
    lines = doctor.stdout.splitlines()
    folder = next(line for line in lines if line.startswith("✗ 投递文件夹接收：最近一次失败"))
    assert "坏.mp4" in folder and "解析说明文件时崩溃" in folder
    retrying = next(line for line in lines if line.startswith("✗ 处理出错的作品：1 件正在等待重试"))
    assert "已失败 1 次" in retrying and "RuntimeError: 解析说明文件时崩溃" in retrying


# -- found by an attack on the hardened folder ----------------------------------------------------------


def test_a_path_too_long_to_name_is_skipped_and_the_rest_goes_on(clips, inbox, caplog):
    fd = os.open(inbox, os.O_RDONLY)
    try:
        for level in range(100):   # 100 × 50 bytes: past PATH_MAX, reachable only step by step
            name = f"d{level:02d}_" + "x" * 45
            os.mkdir(name, dir_fd=fd)
            deeper = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = deeper
        out = os.open("deep.mp4", os.O_WRONLY | os.O_CREAT, dir_fd=fd)
        os.write(out, clips["valid"].read_bytes())
        os.close(out)
    finally:
        os.close(fd)
    (inbox / "after.mp4").write_bytes(clips["valid"].read_bytes())
    with Running(inbox.parent) as run:
        run.wait_for(1)
        wait_until(lambda: "路径太长" in caplog.text, 30, "the long path to be reported")
    try:
        assert [s["title"] for s in views(run)] == ["after"]
        assert sum("路径太长" in r.getMessage() for r in caplog.records) == 1   # said once, not at every rescan
    finally:
        shutil.rmtree(inbox / ("d00_" + "x" * 45))   # fd-based: any depth


def test_a_fifo_in_the_inbox_is_reported_once_and_left_alone(clips, inbox, caplog):
    os.mkfifo(inbox / "管道.mp4")
    (inbox / "好.mp4").write_bytes(clips["valid"].read_bytes())
    with Running(inbox.parent) as run:
        run.wait_for(1)
        wait_until(lambda: "命名管道（FIFO）" in caplog.text, 30, "the FIFO to be reported")
    assert (inbox / "管道.mp4").exists() and [s["title"] for s in views(run)] == ["好"]


BILLION_LAUGHS = ("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                  + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
                  + "unit: *i\n联系人: *i\n单位: 柳南区\n")


def test_sidecars_that_expand_or_nest_without_end_are_read_as_text(clips, inbox):
    (inbox / "笑.mp4").write_bytes(clips["valid"].read_bytes())
    (inbox / "笑.yaml").write_text(BILLION_LAUGHS, encoding="utf-8")
    (inbox / "深.mp4").write_bytes(clips["valid"].read_bytes())
    (inbox / "深.json").write_text("[" * 50000 + "]" * 50000, encoding="utf-8")

    def limit_memory():   # the old reader turned the aliases into gigabytes of text
        resource.setrlimit(resource.RLIMIT_AS, (1536 * 1024 ** 2, resource.RLIM_INFINITY))

    out = subprocess.run(INTAKE + ["run", "--once"], cwd=inbox.parent, capture_output=True, text=True, timeout=120,
                         preexec_fn=limit_memory)
    assert out.returncode == 0, out.stderr
    subs = {s["title"]: s for s in listing(inbox.parent)}
    assert (subs["笑"]["unit"], subs["笑"]["contact"]) == ("柳南区", "*i")   # plain text, never expanded
    assert subs["深"]["unit"] is None
    assert all(not any(c["id"] == "processing_error" for c in s["checks"]) for s in subs.values())
    assert inbox_files(inbox.parent) == []


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA],
                         ids=["deflate", "bzip2", "lzma"])
def test_a_zip_with_damaged_compressed_data_is_rejected_as_corrupt(clips, inbox, method):
    payload = clips["valid"].read_bytes()
    archive = inbox.parent / "坏.zip"
    with zipfile.ZipFile(archive, "w", compression=method) as zf:
        zf.writestr("作品.mp4", payload)
    data = bytearray(archive.read_bytes())
    start = 30 + len("作品.mp4".encode()) + 200   # inside the first entry's compressed data
    data[start:start + 190] = b"\xff" * 190
    (inbox / "坏.zip").write_bytes(bytes(data))
    (inbox / "好.mp4").write_bytes(payload)
    with Running(inbox.parent) as run:
        run.wait_for(2)
    subs = {s["title"]: s for s in views(run)}
    [archive_check] = [c for c in subs["坏"]["checks"] if c["id"] == "archive"]
    assert (subs["坏"]["outcome"], archive_check["code"]) == ("rejected", "corrupt_archive")
    assert subs["好"]["outcome"] != "rejected"
    assert sorted(strip_date(done_files(inbox.parent)))[:2] == ["不合格/坏.zip", "不合格/坏.zip.结果.txt"]


SLOW_FFMPEG = """#!/bin/sh
# The decode check of a small but heavy file (4K at 1000 fps) can take minutes: stand in for one.
case "$*" in *"-f null"*) exec sleep {seconds};; esac
exec {real} "$@"
"""


def test_sigterm_ends_a_long_check_at_once_and_the_file_waits_for_the_next_run(clips, inbox, ffmpeg_bin):
    slow = inbox.parent / "slowbin"
    slow.mkdir()
    seconds = f"300.{os.getpid()}{time.monotonic_ns() % 10 ** 6}"   # our own stand-in, told apart from any other
    (slow / "ffmpeg").write_text(SLOW_FFMPEG.format(real=ffmpeg_bin, seconds=seconds), encoding="utf-8")
    (slow / "ffmpeg").chmod(0o755)
    (inbox / "重.mp4").write_bytes(clips["valid"].read_bytes())
    env = {**os.environ, "INTAKE_FFMPEG": str(slow / "ffmpeg")}
    proc = subprocess.Popen(INTAKE + ["watch"], cwd=inbox.parent, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: stored(inbox.parent), 60, "the file to be stored (its checks come next)")
        wait_until(lambda: _running_sleeps(seconds), 30, "the slow decode check to start")
        stops_within(proc, 5)
    finally:
        kill_if_running(proc)
    assert not _running_sleeps(seconds)   # the child went with it
    assert listing(inbox.parent) == []   # nothing half-checked was recorded
    assert [p.name for p in inbox.iterdir()] == ["重.mp4"]
    again = cli.run("watch", "--once", cwd=inbox.parent)
    assert again.returncode == 0, again.stderr
    [sub] = listing(inbox.parent)
    assert sub["title"] == "重" and sub["outcome"] != "rejected"


def _running_sleeps(seconds: str) -> list[int]:
    """Pids of our stand-in decoders (``sleep <seconds>``) that are still alive."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline[:2] == [b"sleep", seconds.encode()]:
            found.append(int(entry.name))
    return found


def test_a_file_that_cannot_be_moved_is_said_in_chinese_and_moved_later_once(clips, inbox, monkeypatch, caplog):
    from intake.inbox.door import InboxFile

    real_move = InboxFile.move_to
    refusals = []

    def move_to(self, target):   # an immutable file (chattr +i) refuses the rename; root cannot either
        if not refusals:
            refusals.append(target)
            raise PermissionError(1, "Operation not permitted")
        return real_move(self, target)

    monkeypatch.setattr(InboxFile, "move_to", move_to)
    monkeypatch.setattr("intake.inbox.watcher.MAX_RETRY_DELAY", 0.5)
    (inbox / "锁.mp4").write_bytes(clips["valid"].read_bytes())
    with Running(inbox.parent) as run:
        run.wait_for(1, timeout=90)
    assert refusals and len(views(run)) == 1
    said = [r.getMessage() for r in caplog.records if "无法把文件 锁.mp4 移出投递文件夹" in r.getMessage()]
    assert said and "Operation not permitted" in said[0]
    assert not any(r.exc_info for r in caplog.records if "锁.mp4" in r.getMessage())   # no traceback for it
    assert inbox_files(inbox.parent) == []
