"""StableFiles (intake/inbox/watcher.py) with a fake clock: when a dropped file counts as completely copied."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from intake.inbox.watcher import MAX_RETRY_DELAY, StableFiles


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def watched(folder: Path, clock: Clock, settle: float, size: int = 1, **kwargs) -> tuple[Path, StableFiles]:
    """A dropped file, already added to a new StableFiles."""
    video = folder / "a.mp4"
    video.write_bytes(b"x" * size)
    files = StableFiles(settle=settle, clock=clock, **kwargs)
    files.add(video)
    return video, files


def test_a_file_is_ready_once_unchanged_for_the_settle_time(tmp_path, clock):
    video, files = watched(tmp_path, clock, 2.0, size=10)
    assert files.ready() == []           # first look: its size is new
    clock.now += 1.9
    assert files.ready() == []
    clock.now += 0.1
    assert files.ready() == [video]
    assert len(files) == 1               # ready is not taken: the caller discards it when done
    files.discard(video)
    assert len(files) == 0 and files.ready() == []


def test_a_growing_file_starts_its_wait_again(tmp_path, clock):
    video, files = watched(tmp_path, clock, 2.0, size=10)
    files.ready()
    clock.now += 1.5
    with video.open("ab") as fh:
        fh.write(b"more")
    assert files.ready() == []
    clock.now += 1.5                     # 3 s since it was added, only 1.5 s since it last grew
    assert files.ready() == []
    clock.now += 0.5
    assert files.ready() == [video]


def test_a_touched_file_of_the_same_size_waits_again(tmp_path, clock):
    video, files = watched(tmp_path, clock, 1.0, size=10)
    files.ready()
    clock.now += 0.9
    st = video.stat()
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    clock.now += 0.5
    assert files.ready() == []           # the new mtime is seen now: the wait starts here
    clock.now += 0.9
    assert files.ready() == []
    clock.now += 0.1
    assert files.ready() == [video]


def test_no_settle_time_means_ready_at_the_first_look(tmp_path, clock):
    video, files = watched(tmp_path, clock, 0)
    assert files.ready() == [video]


def test_adding_again_keeps_the_first_sighting(tmp_path, clock):
    video, files = watched(tmp_path, clock, 1.0)
    files.ready()
    clock.now += 1.0
    files.add(video)                     # a second event for the same path
    assert files.ready() == [video]


def test_a_file_that_cannot_be_opened_yet_waits(tmp_path, clock):
    locked = {tmp_path / "a.mp4"}
    video, files = watched(tmp_path, clock, 0, can_open=lambda p: p not in locked)
    assert files.ready() == []
    locked.clear()
    assert files.ready() == [video]


def test_a_vanished_file_is_dropped_quietly(tmp_path, clock):
    refused: list = []
    video, files = watched(tmp_path, clock, 0, on_refused=lambda p, why: refused.append((p, why)))
    video.unlink()
    assert files.ready() == [] and len(files) == 0 and refused == []


def test_a_file_swapped_for_a_link_or_fifo_is_refused(tmp_path, clock):
    link, fifo = tmp_path / "link.mp4", tmp_path / "fifo.mp4"
    (tmp_path / "real.mp4").write_bytes(b"x")
    files_seen: list[tuple[Path, str]] = []
    files = StableFiles(settle=0, clock=clock, on_refused=lambda p, why: files_seen.append((p, why)))
    for path in (link, fifo):
        path.write_bytes(b"x")
        files.add(path)
    link.unlink()
    link.symlink_to(tmp_path / "real.mp4")
    fifo.unlink()
    os.mkfifo(fifo)
    assert files.ready() == []
    assert len(files) == 0
    assert sorted(files_seen) == [(fifo, "是命名管道（FIFO），不是普通文件，不会读取"),
                                  (link, "是符号链接，不是普通文件，不会读取")]


def test_failures_back_off_doubling_up_to_the_limit(tmp_path, clock):
    video, files = watched(tmp_path, clock, 0)
    delays = [files.failed(video) for _ in range(10)]
    assert delays == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 600.0, 600.0, 600.0]
    assert MAX_RETRY_DELAY == 600.0
    assert files.ready() == []
    clock.now += 599.9
    assert files.ready() == []
    clock.now += 0.1
    assert files.ready() == [video]


def test_a_given_delay_and_a_postponement(tmp_path, clock):
    video, files = watched(tmp_path, clock, 0)
    assert files.failed(video, delay=30.0) == 30.0
    clock.now += 30.0
    assert files.ready() == [video]
    files.postpone(video, 3.0)           # another worker has it: no failure counted
    assert files.ready() == []
    clock.now += 3.0
    assert files.ready() == [video]
    assert files.seen[video].failures == 1


def test_unknown_paths_are_ignored(tmp_path, clock):
    files = StableFiles(settle=0, clock=clock)
    assert files.failed(tmp_path / "none.mp4") == 0.0
    files.postpone(tmp_path / "none.mp4", 5)
    files.discard(tmp_path / "none.mp4")
    assert len(files) == 0
