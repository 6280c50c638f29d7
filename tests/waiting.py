"""Wait for a condition with a deadline: tests never sleep a fixed time."""

from __future__ import annotations

import time


def wait_until(condition, timeout: float = 60, what: str = "condition"):
    """Poll ``condition`` until it returns something true; return that, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
