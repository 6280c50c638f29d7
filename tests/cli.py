"""Runs the ``intake`` command in-process, as a user would from a shell, but without a new interpreter.

A real process costs half a second or more of imports; keep one (``INTAKE``) only for what needs it:
signals, kill -9, the long-running service and processes racing each other.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from intake.cli import cli

INTAKE = [sys.executable, "-m", "intake"]


@dataclass(frozen=True)
class Result:
    """What a shell would see: the same fields as ``subprocess.CompletedProcess``."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Both streams, as a terminal would show them one after the other."""
        return self.stdout + self.stderr


@contextlib.contextmanager
def _process_state_restored():
    """``intake run``/``poll`` set up the root logger and signal handlers; put them back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    signals = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    cwd = os.getcwd()
    try:
        yield
    finally:
        os.chdir(cwd)
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        for sig, handler in signals.items():
            signal.signal(sig, handler)


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str | None] | None = None,
        input: str | None = None) -> Result:
    """``intake ARGS`` in ``cwd`` (default: the current folder), with ``env`` set on top of ours."""
    with _process_state_restored():
        if cwd is not None:
            os.chdir(cwd)
        result = CliRunner().invoke(cli, [str(a) for a in args], prog_name="intake", env=env, input=input,
                                    catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


def ingest(path: Path, unit: str, contact: str = "张三", phone: str = "13800138000",
           codes: tuple[int, ...] = (0, 3, 4)) -> Result:
    """``intake ingest PATH`` for ``unit``; it must exit with one of ``codes`` (0 accepted, 3 to review, 4 rejected)."""
    out = run("ingest", path, "--unit", unit, "--contact", contact, "--phone", phone)
    assert out.returncode in codes, out.stderr
    return out


def listing(cwd: Path | None = None) -> list[dict]:
    """The submissions ``intake list --json`` shows."""
    out = run("list", "--json", cwd=cwd)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def checks(sub: dict, check_id: str) -> list[tuple[str, str, str]]:
    """(status, code, message) of each of a listed submission's checks named ``check_id``."""
    return [(c["status"], c["code"], c["message"]) for c in sub["checks"] if c["id"] == check_id]
