"""A throwaway PostgreSQL cluster for tests: initdb in a temp folder, loopback only, trust auth.

The server refuses to run as root, so it runs as the ``postgres`` system user (Debian's package creates it).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from tests.dovecot import free_port


def bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Postgres:
    def __init__(self):
        self.bin = bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="intake-pg-"))
        self.port = free_port()
        self.data = self.root / "data"

    def _as_postgres(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(a) for a in args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)

    def start(self) -> "Postgres":
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                          "--locale=C.UTF-8")
        self._as_postgres(self.bin / "pg_ctl", "-D", self.data, "-l", self.root / "log", "-w", "-o",
                          f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                          "-c max_connections=60", "start")
        return self

    def stop(self) -> None:
        try:
            self._as_postgres(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def new_database(self, template: str | None = None) -> str:
        """A fresh database, empty or a copy of ``template`` (a URL from here, with no one connected to it).

        Returns its SQLAlchemy URL.
        """
        name = f"t_{uuid.uuid4().hex[:12]}"
        copy = f" TEMPLATE {template.rsplit('/', 1)[-1]}" if template else ""
        self._as_postgres(self.bin / "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c",
                          f"CREATE DATABASE {name}{copy}")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"
