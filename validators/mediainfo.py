"""MediaInfo in a child process per file: a crash in the C library (a hostile file) ends the child, and is a
verdict on that file alone, never a crash of the intake. The child reads the file's open descriptor, never a path.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ProbeFailed, ToolError
from validators import children
from validators.opened import OpenedFile
from validators.worker_child import child_env

MISSING = ("MediaInfo 无法加载。", "请重新安装依赖：pip install pymediainfo（并确认已安装 libmediainfo）。")
LIBRARY_MISSING = 3   # the child's exit status when pymediainfo or libmediainfo cannot load


@dataclass(frozen=True)
class MediaFacts:
    """What MediaInfo says of a file, reduced to what the checks use."""

    general: dict[str, Any] = field(default_factory=dict)
    video: list[dict[str, Any]] = field(default_factory=list)
    audio: list[dict[str, Any]] = field(default_factory=list)
    text: list[dict[str, Any]] = field(default_factory=list)


class Probing:
    """MediaInfo under way (``start_probe``): ``facts()`` waits for what it found; ``stop()`` (or leaving a
    ``with`` block) ends a child still reading."""

    def __init__(self, running: children.Running):
        self._running = running

    @property
    def pid(self) -> int:
        return self._running.pid

    def stop(self) -> None:
        self._running.stop()

    def __enter__(self) -> "Probing":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def facts(self) -> MediaFacts:
        """What MediaInfo found; raises ProbeFailed (a property of the file) or ToolError (MediaInfo missing)."""
        try:
            done = self._running.result()
        except subprocess.TimeoutExpired as exc:
            raise ProbeFailed("timeout") from exc
        if done.returncode == LIBRARY_MISSING:
            raise ToolError(*MISSING)
        if done.returncode != 0:
            said = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise ProbeFailed(f"exit {done.returncode}: {said[0][:300]}")
        try:
            answer = json.loads(done.stdout)
        except ValueError as exc:
            raise ProbeFailed(f"unreadable output: {exc}") from exc
        if "facts" not in answer:
            raise ProbeFailed(str(answer.get("error") or "no answer")[:500])
        facts = answer["facts"]
        return MediaFacts(facts.get("general", {}), facts.get("video", []), facts.get("audio", []),
                          facts.get("text", []))


def probe_media(source: Path | OpenedFile, timeout: float) -> MediaFacts:
    """MediaInfo's view of ``source``, read in a child so that a crash in the C library stays there."""
    with start_probe(source, timeout) as probing:
        return probing.facts()


def start_probe(source: Path | OpenedFile, timeout: float) -> Probing:
    """Start MediaInfo on ``source`` and return at once (``probe_media`` waits; a caller that holds the Probing
    can end the child, as a stop request does)."""
    if not isinstance(source, OpenedFile):
        with OpenedFile.open(source) as opened:
            return start_probe(opened, timeout)
    try:
        # -P: the working folder (where a clerk may keep whatever was handed in) is not importable.
        running = children.start([sys.executable, "-P", "-m", "validators.mediainfo_child", source.proc_path],
                                 timeout=timeout, pass_fds=(source.fd,), env=child_env())
    except OSError as exc:
        raise ToolError(f"无法启动 MediaInfo：{exc.strerror or exc}", MISSING[1]) from exc
    return Probing(running)
