"""Child processes (ffmpeg, MediaInfo) that a stop request ends at once.

A decode check can run for minutes, yet the service must stop within seconds of SIGTERM: every child is
in a registry, and ``cancel_all`` kills them all, so the interrupted check raises ``Cancelled`` and nothing
half-checked is recorded. Each child has its own process group: a kill reaches whatever it started too
(a grandchild holding our pipes would keep us waiting), and a Ctrl-C meant for us does not half-kill it.
"""

from __future__ import annotations

from core.errors import Cancelled
import contextlib
import os
import signal
import subprocess
import tempfile
import threading
from typing import Callable

_lock = threading.Lock()
_running: set[subprocess.Popen] = set()
_cancelled = threading.Event()


def run(args: list[str], *, timeout: float, **popen_kwargs) -> subprocess.CompletedProcess:
    """Like ``subprocess.run(args, capture_output=True, timeout=…)``, but ended by ``cancel_all``."""
    return start(args, timeout=timeout, **popen_kwargs).result()


def run_lines(args: list[str], *, timeout: float, on_line: Callable[[str], None],
              **popen_kwargs) -> subprocess.CompletedProcess:
    """Like ``run``, but each line of stdout goes to ``on_line`` as it comes (a progress feed) instead of being
    kept; an exception from ``on_line`` ends the child and is raised."""
    if _cancelled.is_set():
        raise Cancelled()
    timed_out = threading.Event()
    # stderr goes to a file: a pipe nobody reads while stdout is followed could fill and stall the child.
    with tempfile.TemporaryFile() as errors, subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, start_new_session=True,
            **popen_kwargs) as proc:
        with tracked(proc):
            timer = threading.Timer(timeout, lambda: (timed_out.set(), kill_group(proc)))
            timer.start()
            try:
                for raw in proc.stdout:
                    on_line(raw.decode("utf-8", "replace").rstrip("\r\n"))
                proc.wait()
            except BaseException:
                kill_group(proc)
                proc.wait()
                raise
            finally:
                timer.cancel()
        errors.seek(0)
        err = errors.read()
    if timed_out.is_set():
        raise subprocess.TimeoutExpired(args, timeout)
    return subprocess.CompletedProcess(args, proc.returncode, b"", err)


class Running:
    """A child started by ``start``, its pipes drained by a thread (a full one never stalls it): ``result()``
    waits for it, ``stop()`` kills it (both may be called)."""

    def __init__(self, args: list[str], timeout: float, popen_kwargs: dict):
        self.args = args
        self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, start_new_session=True, **popen_kwargs)
        with _lock:
            _running.add(self._proc)
        if _cancelled.is_set():   # cancel_all ran between ``start``'s check and the registration: result() says so
            kill_group(self._proc)
        self._outcome: tuple[bytes, bytes] | BaseException | None = None
        self._reader = threading.Thread(target=self._collect, args=(timeout,), name="child-reader", daemon=True)
        self._reader.start()

    def _collect(self, timeout: float) -> None:
        proc = self._proc
        try:
            self._outcome = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            kill_group(proc)
            proc.communicate()
            self._outcome = exc
        except BaseException as exc:  # noqa: BLE001 (re-raised in the caller's thread by result())
            kill_group(proc)
            self._outcome = exc
        finally:
            with _lock:
                _running.discard(proc)

    def result(self) -> subprocess.CompletedProcess:
        """Like ``run``'s: raises TimeoutExpired after the timeout, Cancelled after ``cancel_all``."""
        try:
            self._reader.join()
        except BaseException:   # Ctrl-C while waiting: the child is in its own session, so end it here
            self.stop()
            raise
        if _cancelled.is_set():
            raise Cancelled()
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        out, err = self._outcome
        return subprocess.CompletedProcess(self.args, self._proc.returncode, out, err)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def stop(self) -> None:
        """Kill the child (and what it started) and wait for it to be reaped."""
        if self._proc.poll() is None:   # once reaped, its pid (and group id) may belong to someone else
            kill_group(self._proc)
        self._reader.join()


def start(args: list[str], *, timeout: float, **popen_kwargs) -> Running:
    """Start a child now and collect it later with ``result()``; the same registry and rules as ``run``."""
    if _cancelled.is_set():
        raise Cancelled()
    return Running(args, timeout, popen_kwargs)


def cancel_all() -> None:
    """End every running child and refuse new ones (safe to call from a signal handler)."""
    _cancelled.set()
    with _lock:
        running = list(_running)
    for proc in running:
        kill_group(proc)


@contextlib.contextmanager
def tracked(proc: subprocess.Popen):
    """While the body waits on ``proc`` (started with ``start_new_session``: ``run``'s children, the OCR
    worker), a stop request kills it and whatever it started; the body then ends with ``Cancelled``."""
    with _lock:
        _running.add(proc)
    try:
        if _cancelled.is_set():   # cancel_all ran before ``proc`` was registered
            kill_group(proc)
            raise Cancelled()
        yield
    except Exception:
        if _cancelled.is_set():
            raise Cancelled() from None
        raise
    finally:
        with _lock:
            _running.discard(proc)
    if _cancelled.is_set():
        raise Cancelled()


def kill_group(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and whatever it started (its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:   # already gone
        pass
