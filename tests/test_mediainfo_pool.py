"""MediaInfo's worker children: reused from file to file, replaced when they die, hang or grow, and a
missing library is a ToolError, never a verdict on the file."""

from __future__ import annotations

import os
import signal

import pytest

from core.errors import ToolError
from validators import mediainfo_pool
from validators.mediainfo_pool import POOL, ProbeFailed, probe_media, start_probe
from validators.opened import OpenedFile
from tests.waiting import wait_until


@pytest.fixture
def pool():
    POOL.close()
    yield POOL
    POOL.close()


def idle_pids(pool) -> list[int]:
    return [worker.proc.pid for worker in pool._idle]


def test_one_worker_reads_file_after_file(pool, clips):
    first = probe_media(clips["valid"], 30)
    [pid] = idle_pids(pool)
    second = probe_media(clips["no_audio"], 30)
    assert idle_pids(pool) == [pid]
    assert first.audio and first.video and not second.audio
    assert first.general["format"] == "MPEG-4"


def test_a_prestarted_worker_waits_in_the_pool_and_reads_the_first_file(pool, clips):
    mediainfo_pool.prestart()   # what `intake validate` does before its own modules load
    [pid] = idle_pids(pool)
    assert probe_media(clips["valid"], 30).video
    assert idle_pids(pool) == [pid]   # that worker read it: none was started for the file


def test_a_worker_imports_nothing_from_the_folder_it_is_started_in(pool, clips, tmp_path, monkeypatch):
    # A clerk may run `intake validate` in a folder of handed-in files: none of them may be importable.
    (tmp_path / "pymediainfo.py").write_text(f"open({str(tmp_path / 'imported')!r}, 'w').close()\n")
    monkeypatch.chdir(tmp_path)
    assert probe_media(clips["valid"], 30).video
    assert not (tmp_path / "imported").exists()


def test_a_worker_that_dies_mid_file_fails_that_file_only(pool, clips):
    with OpenedFile.open(clips["valid"]) as opened, start_probe(opened, 30) as probing:
        worker = probing._worker
        os.kill(worker.proc.pid, signal.SIGSEGV)   # as a crash in the C library on a hostile file would
        with pytest.raises(ProbeFailed) as failed:
            probing.facts()
    assert failed.value.reason.startswith(f"exit {-signal.SIGSEGV}")
    assert idle_pids(pool) == []
    assert probe_media(clips["valid"], 30).video   # the next file gets a fresh worker


def test_a_worker_killed_while_idle_is_replaced(pool, clips):
    probe_media(clips["valid"], 30)
    [pid] = idle_pids(pool)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: pool._idle[0].proc.poll() is not None, 10)
    assert probe_media(clips["valid"], 30).video
    assert idle_pids(pool) and idle_pids(pool) != [pid]


def test_a_hanging_worker_times_out_and_is_ended(pool, clips):
    with OpenedFile.open(clips["valid"]) as opened, start_probe(opened, 0.5) as probing:
        proc = probing._worker.proc
        os.kill(proc.pid, signal.SIGSTOP)
        with pytest.raises(ProbeFailed) as failed:
            probing.facts()
    assert failed.value.reason == "timeout"
    assert proc.poll() is not None
    assert idle_pids(pool) == []


def test_a_worker_stopped_before_it_answered_is_not_reused(pool, clips):
    with OpenedFile.open(clips["valid"]) as opened:
        probing = start_probe(opened, 30)
        proc = probing._worker.proc
        probing.stop()
    assert proc.poll() is not None
    assert idle_pids(pool) == []


def test_a_worker_that_grew_is_replaced(pool, clips, monkeypatch):
    monkeypatch.setattr(mediainfo_pool, "MAX_RSS_MB", 1)
    assert probe_media(clips["valid"], 30).video
    assert idle_pids(pool) == []


def test_missing_mediainfo_is_a_tool_error(pool, clips, tmp_path, monkeypatch):
    broken = tmp_path / "pymediainfo"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('no libmediainfo here')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    with pytest.raises(ToolError) as failed:
        probe_media(clips["valid"], 30)
    assert failed.value.message == "MediaInfo 无法加载。"
    assert idle_pids(pool) == []
