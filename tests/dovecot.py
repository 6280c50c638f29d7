"""A throwaway Dovecot for tests: loopback, passwd-file auth, maildir in a temp folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

from tests.waiting import wait_until

USER = "bmjfgxck@163.com"
PASSWORD = "authcode-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _running_in_group(group: int) -> bool:
    """Whether a process of ``group`` still runs (a zombie holds no port or file; PID 1 reaps it later)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] not in ("Z", "X"):
            return True
    return False


class Dovecot:
    def __init__(self, root: Path, capability: str | None = None):
        self.root = root
        self.port = free_port()
        self.capability = capability
        self.config = root / "dovecot.conf"
        self.log = root / "dovecot.log"
        self.mail = root / "mail"

    def write_config(self) -> None:
        r = self.root
        (r / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        for sub in ("base", "state", "mail"):
            (r / sub).mkdir(exist_ok=True)
        shutil.chown(self.mail, "nobody", "nogroup")
        cap = f"imap_capability = {self.capability}\n" if self.capability else ""
        self.config.write_text(f"""
base_dir = {r}/base
state_dir = {r}/state
log_path = {self.log}
info_log_path = {self.log}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# a refused login is answered at once: no first-failure delay, and no growing penalty (anvil's, below)
auth_failure_delay = 0
mail_location = maildir:{self.mail}/%u
imap_id_log = *
{cap}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {r}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={self.mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  chroot =
}}
default_internal_user = nobody
default_login_user = nobody
""")

    def start(self) -> "Dovecot":
        self.write_config()
        subprocess.run(["dovecot", "-c", str(self.config)], check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        try:
            wait_until(self._greets, 15, "dovecot to start")
        except AssertionError:
            raise RuntimeError(f"dovecot did not start: {self.log_text()}") from None
        return self

    def _greets(self) -> bool:
        """Whether Dovecot answers a connection with its greeting."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                return s.recv(100).startswith(b"* OK")
        except OSError:
            return False

    def _refuses(self) -> bool:
        """Whether nothing listens on the port any more."""
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
        except OSError:
            return True
        return False

    def stop(self) -> None:
        subprocess.run(["dovecot", "-c", str(self.config), "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        with contextlib.suppress(AssertionError):   # still listening after 10 s: the next start will say so
            wait_until(self._refuses, 10, "dovecot to stop")

    def kill(self) -> None:
        """Stop at once, for good: ``stop`` waits some 3 s for Dovecot's graceful shutdown, too long for every test."""
        try:
            group = os.getpgid(int((self.root / "base" / "master.pid").read_text()))
        except (OSError, ValueError):
            return self.stop()
        os.killpg(group, signal.SIGKILL)
        with contextlib.suppress(AssertionError):
            wait_until(lambda: not _running_in_group(group), 10, "dovecot's processes to end", interval=0.01)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def maildir(self, folder: str = "INBOX") -> Path:
        base = self.mail / USER
        return base if folder == "INBOX" else base / f".{folder}"


@contextlib.contextmanager
def running_dovecot(capability: str | None = None) -> Iterator[Dovecot]:
    """A started throwaway Dovecot, stopped and removed afterwards."""
    # Its workers run as nobody: the folder must be reachable by them, unlike pytest's 0700 tmp.
    root = Path(tempfile.mkdtemp(prefix="intake-dovecot-"))
    root.chmod(0o755)
    server = Dovecot(root, capability=capability).start()
    try:
        yield server
    finally:
        server.kill()
        shutil.rmtree(root, ignore_errors=True)
