"""MediaInfo, then the decode check (validators/examine.py, tools.py, children.py): the decode reads the spans
of the file's real length in one ffmpeg, and no child outlives the checks."""

from __future__ import annotations

from core.errors import ProbeFailed
import subprocess
import sys
import time

import pytest

from validators import children, examine, mediainfo, tools
from validators.examine import examine_file
from validators.rules import RulesConfig
from validators.mediainfo import MediaFacts

RULES = RulesConfig()


@pytest.fixture
def decodes(monkeypatch) -> list[tools.Spans]:
    """The spans of every decode run during the test, in order."""
    asked: list[tools.Spans] = []

    def decode(source, spans, timeout):
        asked.append(spans)
        return real(source, spans, timeout)

    real = tools.decode
    monkeypatch.setattr(examine, "decode", decode)
    return asked


def test_the_decode_reads_where_mediainfo_says_the_file_ends(clips, decodes, monkeypatch):
    real_facts = mediainfo.probe_media(clips["valid"], 30)   # 10.24 s, as the boxes say too
    longer = MediaFacts({**real_facts.general, "duration": 60000}, real_facts.video, real_facts.audio)
    monkeypatch.setattr(examine, "probe_media", lambda f, timeout: longer)
    report = examine_file(clips["valid"], RULES, content=False)
    assert decodes == [[(None, 2, False), (60 - 2, None, False)]]
    assert [c.code for c in report.checks if c.check_id == "integrity"] == ["ok"]


def test_one_ffmpeg_decodes_every_span_and_finds_damage_in_either(clips, tmp_path, monkeypatch):
    """The head and the tail are inputs of one ffmpeg: damage in the tail alone still fails the check."""
    started: list[list[str]] = []
    real = children.run
    monkeypatch.setattr(children, "run", lambda args, **kw: (started.append(args), real(args, **kw))[1])
    clean = tools.decode(clips["valid"], [tools.Span(None, 2), tools.Span(8, None)], 30)
    assert clean.ok and not clean.errors
    data = bytearray(clips["valid"].read_bytes())
    data[-20000:-10000] = bytes((i * 151 + 7) % 256 for i in range(10000))
    broken = tmp_path / "tail.mp4"
    broken.write_bytes(bytes(data))
    damaged = tools.decode(broken, [tools.Span(None, 2), tools.Span(8, None)], 30)
    assert not damaged.ok and damaged.errors
    assert len(started) == 2 and all(args.count("-i") == 2 for args in started)


def test_a_machine_with_many_cores_decodes_on_two_threads_a_span(clips, monkeypatch):
    """Each more decoding thread holds frames (a 1080p decode on 64 threads held 467 MB): more cores are no
    reason for more memory."""
    started: list[list[str]] = []
    real = children.run
    monkeypatch.setattr(children, "run", lambda args, **kw: (started.append(args), real(args, **kw))[1])
    monkeypatch.setattr(tools.os, "cpu_count", lambda: 64)
    assert tools.decode(clips["valid"], [tools.Span(None, None)], 30).ok
    assert tools.decode(clips["valid"], [tools.Span(None, 2), tools.Span(8, None)], 30).ok
    threads = [[args[i + 1] for i, arg in enumerate(args) if arg == "-threads"] for args in started]
    assert threads == [["2"], ["2", "2"]]


def test_the_whole_file_is_decoded_when_asked(clips, decodes):
    report = examine_file(clips["corrupt_middle"], RULES, deep=True, content=False)
    assert decodes == [[(None, None, False)]]
    assert [c.code for c in report.checks if c.check_id == "integrity"] == ["decode_error"]


def test_a_failed_probe_runs_no_decode(clips, decodes, monkeypatch):
    def crashed(f, timeout):
        raise ProbeFailed("exit 2: crashed")

    monkeypatch.setattr(examine, "probe_media", crashed)
    report = examine_file(clips["valid"], RULES, deep=True, content=False)
    assert [(c.check_id, c.code) for c in report.checks][-1] == ("integrity", "probe_failed")
    assert decodes == [] and not children._running


def sleeper(seconds: float) -> list[str]:
    """A child that runs for ``seconds``: the long check whose stopping and timeout are under test."""
    return [sys.executable, "-c", f"import time; time.sleep({seconds})"]


def test_a_background_child_is_stopped_at_once_and_times_out_like_run():
    started = time.monotonic()
    child = children.start(sleeper(30), timeout=30)
    child.stop()
    assert time.monotonic() - started < 10 and child._proc.returncode < 0
    with pytest.raises(subprocess.TimeoutExpired):
        children.start(sleeper(30), timeout=0.2).result()
    assert not children._running
    done = children.start([sys.executable, "-c", "print('fine')"], timeout=30).result()
    assert (done.returncode, done.stdout.strip()) == (0, b"fine")


def test_a_child_registered_after_a_stop_request_is_ended_at_once():
    """cancel_all may land between start()'s check and the child's registration: the child must not live out
    its timeout."""
    started = time.monotonic()
    children._cancelled.set()
    try:
        child = children.Running(sleeper(30), 30, {})
        with pytest.raises(children.Cancelled):
            child.result()
    finally:
        children._cancelled.clear()
    assert time.monotonic() - started < 10 and child._proc.returncode < 0
    assert not children._running
