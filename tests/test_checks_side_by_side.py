"""MediaInfo and the decode check run side by side (validators/examine.py, tools.py, children.py):
the decode reads the spans of the file's real length, and no child outlives the checks."""

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


class FakeProbing:
    """What start_probe returns, with facts (or a failure) of the test's choosing."""

    def __init__(self, facts: MediaFacts | None = None, failure: str | None = None):
        self._facts, self._failure = facts, failure

    def facts(self) -> MediaFacts:
        if self._failure:
            raise ProbeFailed(self._failure)
        return self._facts

    def stop(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


@pytest.fixture
def decodes(monkeypatch) -> list[tools.Decoding]:
    """Every decode started during the test, in order."""
    started: list[tools.Decoding] = []

    def start_decode(source, spans, timeout):
        decoding = real(source, spans, timeout)
        started.append(decoding)
        return decoding

    real = tools.start_decode
    monkeypatch.setattr(examine, "start_decode", start_decode)
    return started


def test_the_decode_follows_mediainfo_when_it_says_the_file_is_longer(clips, decodes, monkeypatch):
    real_facts = mediainfo.probe_media(clips["valid"], 30)   # 10.24 s, as the boxes say too
    longer = MediaFacts({**real_facts.general, "duration": 60000}, real_facts.video, real_facts.audio)
    monkeypatch.setattr(examine, "start_probe", lambda f, timeout: FakeProbing(longer))
    report = examine_file(clips["valid"], RULES, content=False)
    assert [d.spans for d in decodes] == [[(None, 2, False), (10.24 - 2, None, False)], [(None, 2, False), (60 - 2, None, False)]]
    assert [c.code for c in report.checks if c.check_id == "integrity"] == ["ok"]


def test_the_decode_started_with_mediainfo_is_the_one_used(clips, decodes):
    report = examine_file(clips["corrupt_middle"], RULES, deep=True, content=False)
    assert [d.spans for d in decodes] == [[(None, None, False)]]
    assert [c.code for c in report.checks if c.check_id == "integrity"] == ["decode_error"]


def test_a_failed_probe_stops_the_decode(clips, decodes, monkeypatch):
    monkeypatch.setattr(examine, "start_probe", lambda f, timeout: FakeProbing(failure="exit 2: crashed"))
    report = examine_file(clips["valid"], RULES, deep=True, content=False)
    assert [(c.check_id, c.code) for c in report.checks][-1] == ("integrity", "probe_failed")
    [decoding] = decodes
    assert all(child._proc.returncode is not None for child in decoding._running)   # killed and reaped
    assert not children._running


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
