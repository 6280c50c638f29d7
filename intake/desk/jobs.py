"""Long work of the desk (pictures of a stored video, the copies blind judges get, a recheck or an export started
from a page), done on worker threads of its own rather than in a request, which waits for it without holding a
thread. One job per key however many requests ask (twelve requests for one poster make one ffmpeg), at most
``workers`` at once, and a failure remembered for ``retry_seconds`` so that an unreadable file is not tried again
on every request.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger(__name__)

KEEP_SECONDS = 3600   # a finished job stays readable (its result, its error) this long
# Work started from a page and done by then is answered as it was before there were jobs (the page with what it
# did); longer work sends the page to its progress, which follows it to the end.
ANSWER_WITHIN = 5.0


class JobFailed(Exception):
    """What a job says when it cannot be done: ``message`` (Chinese) for the page, ``status`` for HTTP."""

    def __init__(self, message: str, status: int = 500):
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class Job:
    """One piece of long work: its state (``queued``, ``running``, ``done``, ``failed``), progress and outcome."""

    id: str
    key: str
    owner: str | None
    state: str = "queued"
    progress: str = ""
    result: Any = None
    error: str | None = None
    status: int = 500
    started_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    future: Future = field(default_factory=Future, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def report(self, progress: str) -> None:
        self.progress = progress

    async def wait(self, seconds: float | None = None) -> bool:
        """Wait up to ``seconds`` (default ANSWER_WITHIN) for the job to finish, holding no thread; whether it has."""
        seconds = ANSWER_WITHIN if seconds is None else seconds
        if not self.finished and seconds > 0:
            try:
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self.future)), seconds)
            except asyncio.TimeoutError:
                pass
        return self.finished

    def seconds(self) -> int:
        return int((self.finished_at or time.monotonic()) - self.started_at)


class Jobs:
    """One kind of long work, ``workers`` at a time."""

    def __init__(self, name: str, workers: int, retry_seconds: float = 600):
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=f"desk-{name}")
        self.retry_seconds = retry_seconds
        self._jobs: dict[str, Job] = {}      # by id
        self._by_key: dict[str, Job] = {}    # the latest job of each key
        self._lock = threading.Lock()

    def start(self, key: str, work: Callable[[Job], Any], owner: str | None = None, join: bool = True) -> Job | None:
        """The job for ``key``: the one queued or running (``join``; else None), or the one that failed within
        ``retry_seconds``; else ``work(job)`` started anew, which returns the result or raises JobFailed."""
        with self._lock:
            self._forget_old()
            found = self._by_key.get(key)
            if found is not None and not found.finished and not join:
                return None
            if found is not None and (not found.finished or (
                    found.state == "failed" and time.monotonic() - found.finished_at < self.retry_seconds)):
                return found
            job = Job(uuid.uuid4().hex, key, owner)
            self._jobs[job.id] = job
            self._by_key[key] = job
        try:
            self._pool.submit(self._run, job, work)
        except RuntimeError:   # closed: the desk is stopping
            self._finish(job, "failed", error="工作台正在停止，请稍后再试。", status=503)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: Job, work: Callable[[Job], Any]) -> None:
        job.state = "running"
        try:
            result = work(job)
        except JobFailed as exc:
            self._finish(job, "failed", error=exc.message, status=exc.status)
        except Exception as exc:  # noqa: BLE001 (a page must hear that it failed, not wait for ever)
            log.exception("工作台的后台任务 %s 出错", job.key)
            self._finish(job, "failed", error=f"处理时出错：{exc.__class__.__name__}。详情见日志。")
        else:
            self._finish(job, "done", result=result)

    def _finish(self, job: Job, state: str, result: Any = None, error: str | None = None, status: int = 500) -> None:
        job.result, job.error, job.status = result, error, status
        job.finished_at = time.monotonic()
        job.state = state
        job.future.set_result(state)

    def _forget_old(self) -> None:
        now = time.monotonic()
        old = [j for j in self._jobs.values() if j.finished and now - j.finished_at > max(KEEP_SECONDS,
                                                                                          self.retry_seconds)]
        for job in old:
            del self._jobs[job.id]
            if self._by_key.get(job.key) is job:
                del self._by_key[job.key]
