"""MediaInfo in a child per file: it reads the open file, a crash or a hang is a verdict on that file alone,
a stop ends it, and a missing library is a ToolError, never a verdict on the file."""

from __future__ import annotations

import os
import signal

import pytest

from core.errors import ProbeFailed, ToolError
from validators.mediainfo import probe_media, start_probe
from validators.opened import OpenedFile


def test_it_reads_the_files_streams(clips):
    first = probe_media(clips["valid"], 30)
    second = probe_media(clips["no_audio"], 30)
    assert first.audio and first.video and not second.audio
    assert first.general["format"] == "MPEG-4"


def test_the_child_imports_nothing_from_the_folder_it_is_started_in(clips, tmp_path, monkeypatch):
    # A clerk may run `intake validate` in a folder of handed-in files: none of them may be importable.
    (tmp_path / "pymediainfo.py").write_text(f"open({str(tmp_path / 'imported')!r}, 'w').close()\n")
    monkeypatch.chdir(tmp_path)
    assert probe_media(clips["valid"], 30).video
    assert not (tmp_path / "imported").exists()


def test_a_child_that_dies_mid_file_fails_that_file_only(clips):
    with OpenedFile.open(clips["valid"]) as opened, start_probe(opened, 30) as probing:
        os.kill(probing.pid, signal.SIGSEGV)   # as a crash in the C library on a hostile file would
        with pytest.raises(ProbeFailed) as failed:
            probing.facts()
    assert failed.value.reason.startswith(f"exit {-signal.SIGSEGV}")
    assert probe_media(clips["valid"], 30).video   # the next file is read as ever


def test_a_hanging_child_times_out_and_is_ended(clips):
    with OpenedFile.open(clips["valid"]) as opened, start_probe(opened, 0.5) as probing:
        os.kill(probing.pid, signal.SIGSTOP)
        with pytest.raises(ProbeFailed) as failed:
            probing.facts()
        pid = probing.pid
    assert failed.value.reason == "timeout"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)   # reaped


def test_a_probe_stopped_before_it_answered_ends_its_child(clips):
    with OpenedFile.open(clips["valid"]) as opened:
        probing = start_probe(opened, 30)
        os.kill(probing.pid, signal.SIGSTOP)   # still reading
        probing.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(probing.pid, 0)


def test_missing_mediainfo_is_a_tool_error(clips, tmp_path, monkeypatch):
    broken = tmp_path / "pymediainfo"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('no libmediainfo here')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    with pytest.raises(ToolError) as failed:
        probe_media(clips["valid"], 30)
    assert failed.value.message == "MediaInfo 无法加载。"
