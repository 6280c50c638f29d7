"""A long-lived worker child (``python -m MODULE --serve FD``) on a Unix socket: started, ended and heard from.

It has its own session (a kill reaches what it started, a Ctrl-C meant for us does not half-kill it), and
inherits nothing of ours but the socket, so a command's pipes close when the command ends, whatever the
worker does; an idle worker ends by itself when our end of the socket closes.
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


def last_line(stderr: bytes) -> str:
    """A child's last line on stderr (where its traceback ends), or ""."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


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
        self.stderr.seek(0)
        return last_line(self.stderr.read())

    def _reap(self, seconds: float) -> int:
        try:
            return self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            children.kill_group(self.proc)
            return self.proc.wait()
