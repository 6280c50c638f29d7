"""Wait for a condition with a deadline: tests never sleep a fixed time."""

from __future__ import annotations

import threading
import time


def wait_until(condition, timeout: float = 60, what: str = "condition", interval: float = 0.1):
    """Poll ``condition`` every ``interval`` seconds until it returns something true; return that, or fail after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def run_in_thread_until(target, stop, condition, timeout: float, what: str, *args, **kwargs) -> threading.Thread:
    """Run ``target(*args, **kwargs)`` on a thread until ``condition`` holds; ``stop`` is set and the thread
    joined afterwards, whatever happened. Returns the (finished) thread."""
    thread = threading.Thread(target=target, args=args, kwargs=kwargs)
    thread.start()
    try:
        wait_until(condition, timeout, what)
    finally:
        stop.set()
        thread.join(timeout)
    return thread
