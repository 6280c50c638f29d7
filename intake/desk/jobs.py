"""Files the desk makes from a stored video on the first request and keeps (posters, strips of frames, the copies
blind judges get): at most a few ffmpegs at once however many pages ask, one job per content however many
requests ask for it, and a failure remembered so that it is not tried again on every request."""

from __future__ import annotations

import threading
import time
from typing import Callable


class Jobs:
    """One kind of made file: ``makers`` at once; a request waits ``wait_seconds`` for its turn."""

    def __init__(self, makers: int, wait_seconds: float, retry_seconds: float = 600):
        self._making = threading.BoundedSemaphore(makers)
        self.wait_seconds = wait_seconds
        self.retry_seconds = retry_seconds
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._failed: dict[str, float] = {}   # key → when it could not be made

    def made_once(self, key: str, done: Callable[[], bool], make: Callable[[], bool]) -> bool | None:
        """True when what ``key`` names is there (made now by ``make`` if need be), False when it could not be
        made (remembered for ``retry_seconds``), None when another request is still making it, or the makers are
        all busy, after ``wait_seconds``: the caller then answers 503 and asks again later, so that a slow or
        hanging ffmpeg holds one worker thread for seconds, not every page of the desk for as long as it hangs."""
        if self._failed_lately(key):
            return False
        if done():
            return True
        lock = self._lock_for(key)
        if not lock.acquire(timeout=self.wait_seconds):
            return None
        try:
            if done():
                return True
            if self._failed_lately(key):   # found so while this request waited for the lock
                return False
            if not self._making.acquire(timeout=self.wait_seconds):
                return None
            try:
                made = make()
            finally:
                self._making.release()
            if not made:
                self._failed[key] = time.monotonic()
            return made
        finally:
            lock.release()

    def _failed_lately(self, key: str) -> bool:
        return time.monotonic() - self._failed.get(key, -self.retry_seconds) < self.retry_seconds

    def _lock_for(self, key: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(key, threading.Lock())
