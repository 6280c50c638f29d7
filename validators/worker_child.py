"""A long-lived worker child (``python -m MODULE --serve FD``) on a Unix socket: how it is started, ended and
heard from. The OCR worker and the MediaInfo workers are both made of one.

- Its own session: a kill reaches what it started too, and a Ctrl-C meant for us does not half-kill it.
- Nothing of ours is inherited but the socket (stdin and stdout are /dev/null, stderr a temporary file),
  so a command's pipes close when the command ends, whatever the worker does; an idle worker ends by
  itself when our end of the socket closes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from validators import children

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def child_env() -> dict[str, str]:
    """This process's environment, with this very package importable by a child (installed or not)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    return env


class WorkerChild:
    """The running child and our end of its socket. Raises OSError when it cannot be started."""

    def __init__(self, module: str, env: dict[str, str] | None = None):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(
                # -P: the working folder (where a clerk may keep whatever was handed in) is not importable.
                [sys.executable, "-P", "-m", module, "--serve", str(theirs.fileno())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr,
                env=env if env is not None else child_env(), pass_fds=(theirs.fileno(),), start_new_session=True)
        except OSError:
            ours.close()
            self.stderr.close()
            raise
        finally:
            theirs.close()
        self.sock = ours

    def alive(self) -> bool:
        return self.proc.poll() is None

    def end(self, kill: bool = False) -> None:
        """Close its socket (an idle worker then exits) and reap it; ``kill`` when it is busy or stuck."""
        self.sock.close()
        if kill:
            children.kill_group(self.proc)
        self._reap(5)
        self.stderr.close()

    def exit_code(self) -> int:
        """How it ended, once it has (its socket closed under us): waited for, killed if it lingers."""
        self.sock.close()
        return self._reap(10)

    def last_words(self) -> str:
        """Its last line on stderr (where its traceback ends), or ""."""
        self.stderr.seek(0)
        lines = [line.strip() for line in self.stderr.read().decode("utf-8", "replace").splitlines() if line.strip()]
        return lines[-1][:300] if lines else ""

    def _reap(self, seconds: float) -> int:
        try:
            return self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            children.kill_group(self.proc)
            return self.proc.wait()
