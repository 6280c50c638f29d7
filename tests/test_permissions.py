"""Who may read what intake keeps (issue 23, item 15): under the usual umask 022 the database (account hashes,
session tokens, contacts), the stored videos, thumbnails, the log and the notes in done/ were all readable by
every local account. Real `intake` processes, real file modes, and (as root) a real read as ``nobody``."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from tests.cli import INTAKE, run
from tests.configs import add_config
from tests.folders import write_folder_config

NOBODY = 65534


@contextlib.contextmanager
def usual_umask():
    """Children start under umask 022, as from a login shell."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def intake(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    with usual_umask():
        out = subprocess.run(INTAKE + list(args), cwd=cwd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out


def open_to_world(path: Path) -> bool:
    return bool(path.stat().st_mode & 0o007)


def readable_by_nobody(path: Path) -> bool:
    """Whether the account ``nobody`` can read ``path`` (list it, for a folder)."""
    command = ["ls", str(path)] if path.is_dir() else ["cat", str(path)]
    return subprocess.run(command, user=NOBODY, capture_output=True).returncode == 0


def test_nothing_intake_makes_is_readable_by_other_accounts(workdir, clips):
    write_folder_config(workdir)
    (workdir / "inbox").mkdir()
    dropped = "柳南区-张三-13800138000-守护秘密.mp4"
    shutil.copy(clips["valid"], workdir / "inbox" / dropped)
    intake("run", "--once", cwd=workdir)
    intake("report", "-o", "报告.html", cwd=workdir)   # thumbnails in the store
    data, done = workdir / "data", workdir / "done"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    made = [p for p in (*data.rglob("*"), *done.rglob("*"), workdir / "报告.html")]
    names = {p.name for p in made}
    assert {"intake.db", "intake.log"} <= names and any(n.endswith(".结果.txt") for n in names)
    assert any(p.parent.name == "thumbs" and p.suffix == ".jpg" for p in made)
    assert any(p.suffix == ".mp4" and "store" in p.parts for p in made)
    # (the staff's own file is moved as it is, into done/'s closed folders)
    assert [p for p in made if open_to_world(p) and p.name != dropped] == []
    assert not open_to_world(done)
    if os.geteuid() == 0:   # as the red team did: try to read them as nobody
        for path in (data / "intake.db", data / "logs" / "intake.log", data, done,
                     next(p for p in made if p.name.endswith(".结果.txt"))):
            assert not readable_by_nobody(path), path


def test_data_made_before_is_closed_at_the_next_start(workdir):
    """An installation from before: data/ 0755 with intake.db 0644 (and its WAL), done/ 0755."""
    with usual_umask():
        assert run("migrate").returncode == 0     # in this process: umask 022, as the old versions left it
    data = workdir / "data"
    database = data / "intake.db"
    (workdir / "done").mkdir()
    for path in (data, workdir / "done"):
        path.chmod(0o755)
    database.chmod(0o644)
    # another process has the database open: its write-ahead log is there, with the database's mode
    with contextlib.closing(sqlite3.connect(database)) as other:
        other.execute("PRAGMA journal_mode=WAL")
        other.execute("CREATE TABLE scratch (x)")
        wal = data / "intake.db-wal"
        assert stat.S_IMODE(wal.stat().st_mode) == 0o644
        intake("list", cwd=workdir)
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in (data, database, wal, workdir / "done")} == \
        {"data": 0o750, "intake.db": 0o640, "intake.db-wal": 0o640, "done": 0o750}


def test_a_world_readable_password_file_is_warned_about(workdir, tmp_path):
    secret = workdir / "imap.txt"
    secret.write_text("授权码\n", encoding="utf-8")
    secret.chmod(0o644)
    add_config(workdir, "mailbox:\n  password_file: imap.txt\n")
    doctor = run("doctor")
    assert f"✗ 授权码文件：{secret} 其他用户也能读取" in doctor.stdout
    assert f"请运行：chmod 600 {secret}（只让运行 intake 的用户可读）。" in doctor.stdout
    installed = run("service", "install", "--user", "-o", tmp_path / "intake.service")
    assert installed.returncode == 0, installed.stderr
    assert f"警告：存放授权码的 {secret} 其他用户也能读取。请运行：chmod 600 {secret}" in installed.stdout
    assert "UMask=0027" in (tmp_path / "intake.service").read_text(encoding="utf-8").splitlines()
    secret.chmod(0o600)
    assert f"✓ 授权码文件：{secret} 只有所有者可读" in run("doctor").stdout
    assert "警告" not in run("service", "install", "--user", "-o", tmp_path / "intake.service").stdout


@pytest.mark.parametrize("command", [("migrate",), ("doctor", "--no-mailbox")])
def test_migrate_and_doctor_make_the_data_folder_as_every_command_does(workdir, command):
    write_folder_config(workdir)
    with usual_umask():
        run(*command)
    assert stat.S_IMODE((workdir / "data").stat().st_mode) == 0o700
