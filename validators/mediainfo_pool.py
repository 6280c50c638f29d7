"""MediaInfo in long-lived worker children: a crash in the C library stays in the child, and a service
(or a command that checks many files) pays the child's start-up once, not once per file.

Each worker is a ``validators.mediainfo_child --serve`` process on a Unix socket; the file's open
descriptor travels with the request, so the worker never opens a path.

- ``start_probe`` takes an idle worker (or starts one) and sends the request at once; MediaInfo reads
  while the caller starts the decode check. ``Probing.facts()`` waits for the answer.
- A worker goes back to the pool only after a clean answer. One that timed out, was stopped while busy,
  died, grew past ``MAX_RSS_MB`` or served ``MAX_REQUESTS`` is ended, and the next request starts another.
- At most ``MAX_IDLE`` wait in the pool (the mailbox and the folder may check files at the same time).
- While a request runs, a stop request (children.cancel_all) kills its worker, like any other child.
- An idle worker ends by itself when this process exits: its socket closes.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import FailedOnFile, ToolError
from validators import children
from validators.opened import OpenedFile
from validators.socket_messages import receive, send
from validators.worker_child import WorkerChild

MAX_IDLE = 2
MAX_REQUESTS = 500
MAX_RSS_MB = 200
MISSING = ("MediaInfo 无法加载。", "请重新安装依赖：pip install pymediainfo（并确认已安装 libmediainfo）。")


class ProbeFailed(FailedOnFile):
    """MediaInfo crashed, hung or returned nothing for this file (a property of the file)."""


@dataclass(frozen=True)
class MediaFacts:
    """What MediaInfo says of a file, reduced to what the checks use."""

    general: dict[str, Any] = field(default_factory=dict)
    video: list[dict[str, Any]] = field(default_factory=list)
    audio: list[dict[str, Any]] = field(default_factory=list)
    text: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "MediaFacts":
        return cls(data.get("general", {}), data.get("video", []), data.get("audio", []), data.get("text", []))


class Worker(WorkerChild):
    """One MediaInfo child and our end of its socket, with the number of files it has read."""

    def __init__(self) -> None:
        try:
            super().__init__("validators.mediainfo_child")
        except OSError as exc:
            raise ToolError(f"无法启动 MediaInfo：{exc.strerror or exc}", MISSING[1]) from exc
        self.requests = 0


class _Pool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[Worker] = []
        self._pid = os.getpid()

    def take(self) -> Worker:
        with self._lock:
            if self._pid != os.getpid():   # a forked copy of us: those workers talk to the parent
                self._idle, self._pid = [], os.getpid()
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.end()
        return Worker()

    def give_back(self, worker: Worker, rss_mb: float) -> None:
        worker.requests += 1
        if worker.requests < MAX_REQUESTS and rss_mb <= MAX_RSS_MB:
            self.keep(worker)
        else:
            worker.end()

    def keep(self, worker: Worker) -> None:
        """Let ``worker`` wait for the next request, or end it if enough are waiting."""
        with self._lock:
            if len(self._idle) < MAX_IDLE and self._pid == os.getpid():
                self._idle.append(worker)
                return
        worker.end()

    def close(self) -> None:
        """End every idle worker (tests; a service that wants its children gone before it exits)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.end()


POOL = _Pool()


def prestart() -> None:
    """Start a worker now, to wait in the pool: a command about to check files starts it before its own
    modules load, so that libmediainfo loads beside them. A worker that cannot start is the first
    probe's error to report, not this one's."""
    try:
        worker = Worker()
    except ToolError:
        return
    POOL.keep(worker)


class Probing:
    """MediaInfo under way (``start_probe``): ``facts()`` waits for what it found; ``stop()`` (or leaving a
    ``with`` block) ends a worker still busy with it."""

    def __init__(self, worker: Worker, timeout: float):
        self._worker: Worker | None = worker
        self._deadline = time.monotonic() + timeout
        self._timeout = timeout

    def facts(self) -> MediaFacts:
        """What MediaInfo found; raises ProbeFailed (a property of the file) or ToolError (MediaInfo missing)."""
        worker, self._worker = self._worker, None
        if worker is None:
            raise ProbeFailed("stopped")
        try:
            with children.tracked(worker.proc):
                worker.sock.settimeout(max(0.001, self._deadline - time.monotonic()))
                try:
                    reply = receive(worker.sock)
                except ConnectionResetError:   # it died with our request unread: as a closed socket
                    reply = None
        except TimeoutError as exc:
            worker.end(kill=True)
            raise ProbeFailed("timeout") from exc
        except (OSError, ValueError) as exc:
            worker.end(kill=True)
            raise ProbeFailed(f"unreadable output: {exc}") from exc
        except BaseException:   # Cancelled, Ctrl-C: the answer will never be read
            worker.end(kill=True)
            raise
        if reply is None:
            raise _died(worker)
        answer, fds = reply
        for fd in fds:
            os.close(fd)
        POOL.give_back(worker, float(answer.get("rss_mb") or 0))
        if "facts" not in answer:
            raise ProbeFailed(str(answer.get("error") or "no answer")[:500])
        return MediaFacts.from_json(answer["facts"])

    def stop(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:   # asked and never answered: it may still be reading
            worker.end(kill=True)

    def __enter__(self) -> "Probing":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _died(worker: Worker) -> Exception:
    code = worker.exit_code()
    said = worker.last_words()
    worker.end()
    if code == 3:
        return ToolError(*MISSING)
    return ProbeFailed(f"exit {code}: {said}")


def probe_media(source: Path | OpenedFile, timeout: float) -> MediaFacts:
    """MediaInfo's view of ``source``, read in a worker child so that a crash in the C library stays there."""
    with start_probe(source, timeout) as probing:
        return probing.facts()


def start_probe(source: Path | OpenedFile, timeout: float) -> Probing:
    """Send ``source`` to a MediaInfo worker and return at once (the worker holds its own copy of the
    descriptor once sent, so a path is opened only for the sending)."""
    if not isinstance(source, OpenedFile):
        with OpenedFile.open(source) as opened:
            return start_probe(opened, timeout)
    if children.cancelled():
        raise children.Cancelled()
    worker = POOL.take()
    try:
        send(worker.sock, {"op": "facts"}, (source.fd,))
    except OSError:
        # a pooled worker that died since it was last seen alive: one fresh try
        worker.end(kill=True)
        worker = Worker()
        try:
            send(worker.sock, {"op": "facts"}, (source.fd,))
        except OSError as exc:
            worker.end(kill=True)
            raise ToolError(f"无法把文件交给 MediaInfo：{exc.strerror or exc}", MISSING[1]) from exc
    return Probing(worker, timeout)
