"""Several workers and faults: every item recorded exactly once, nothing lost, a clear Chinese error."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import types
from pathlib import Path

import imapclient
import pytest

from core.errors import DatabaseError
from intake.config import load_config
from intake.pipeline.services import open_services
from tests import mails, media
from tests.cli import INTAKE, listing, run
from tests.conftest import OPEN_CONTEST, require_tool
from tests.dovecot import PASSWORD, USER, Dovecot
from tests.mailboxes import append
from tests.waiting import wait_until

pytestmark = pytest.mark.slow   # a long module: scheduled first (conftest.py)


def configure(folder: Path, port: int | None = None, url: str | None = None, extra: str = "") -> None:
    text = OPEN_CONTEST + "watch:\n  settle_seconds: 0.2\n  poll_interval_seconds: 0.5\n"
    if port:
        text += (f"mailbox:\n  enabled: true\n  host: 127.0.0.1\n  port: {port}\n  tls: false\n  username: {USER}\n"
                 "  poll_seconds: 1\n")
    if url:
        text += f"database:\n  url: {url}\n"
    (folder / "config.yaml").write_text(text + extra, encoding="utf-8")


def unseen(server: Dovecot) -> int:
    client = imapclient.IMAPClient("127.0.0.1", port=server.port, ssl=False)
    client.login(USER, PASSWORD)
    client.select_folder("INBOX", readonly=True)
    count = len(client.search(["UNSEEN"]))
    client.logout()
    return count


ITEMS = 40   # mails, and files in the folder


def test_two_workers_share_postgres_mailbox_and_folder(clips, workdir, dovecot, postgres, monkeypatch):
    small = media.clip(workdir / "small.mp4", 1, size="64x48", rate=5)
    data = small.read_bytes()
    # Forty of each: enough for both workers to take part (asserted below), at a fraction of a real burst's cost.
    append(dovecot, *[mails.foxmail_gbk(mails.variant(data, f"m{i}")) if i % 2 else mails.no_video()
                      for i in range(ITEMS)])
    inbox = workdir / "inbox"
    inbox.mkdir()
    for i in range(ITEMS):
        (inbox / f"柳南区-张三-13800000000-作品{i:03d}.mp4").write_bytes(mails.variant(data, f"f{i}"))
    configure(workdir, dovecot.port, postgres.new_database())
    env = {**os.environ, "INTAKE_IMAP_PASSWORD": PASSWORD}
    workers = [subprocess.Popen(INTAKE + ["run", "--once"], cwd=workdir, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err
    subs = listing(workdir)
    assert len(subs) == 2 * ITEMS
    assert len({s["source_ref"] for s in subs}) == 2 * ITEMS
    assert sorted({s["source"] for s in subs}) == ["folder", "mail"]
    assert sum(s["source"] == "folder" for s in subs) == ITEMS
    assert list(inbox.iterdir()) == []
    assert unseen(dovecot) == 0
    # both workers did part of the work
    assert all("作品 #" in out for out, _ in outputs)


def test_kill_9_while_marking_a_mail(clips, workdir, dovecot, monkeypatch):
    append(dovecot, mails.foxmail_gbk(clips["valid"].read_bytes()))
    configure(workdir, dovecot.port)
    marker = workdir / "reached"
    env = {**os.environ, "INTAKE_IMAP_PASSWORD": PASSWORD, "INTAKE_FAILPOINT": "before_mark",
           "INTAKE_FAILPOINT_MARKER": str(marker)}
    proc = subprocess.Popen(INTAKE + ["poll"], cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_until(marker.exists, 60, "the failpoint")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert unseen(dovecot) == 1            # recorded, not yet marked
    out = run("poll", "--once", cwd=workdir, env={"INTAKE_IMAP_PASSWORD": PASSWORD})
    assert out.returncode == 0, out.stderr
    assert len(listing(workdir)) == 1
    assert unseen(dovecot) == 0


def test_imap_server_restarted_in_the_middle_of_polling(clips, workdir, dovecot, monkeypatch):
    monkeypatch.setenv("INTAKE_IMAP_PASSWORD", PASSWORD)
    configure(workdir, dovecot.port, extra="")
    from intake.mail.poller import MailPoller

    poller = MailPoller(open_services(load_config(workdir / "config.yaml")))
    poller.cfg = poller.cfg.model_copy(update={"idle": False, "reconnect_max_seconds": 2})
    stop = threading.Event()
    seen = []
    thread = threading.Thread(target=poller.run, args=(stop,), kwargs={"on_result": seen.append})
    thread.start()
    try:
        append(dovecot, *[mails.no_video() for _ in range(3)])
        wait_until(lambda: len(seen) >= 3, 30, "the first three mails")
        dovecot.restart()                    # the connection drops under the poller
        append(dovecot, *[mails.no_video() for _ in range(3)])
        wait_until(lambda: len(seen) >= 6, 60, "the three mails after the restart")
    finally:
        stop.set()
        thread.join(20)
    assert len(seen) == 6
    assert len(listing(workdir)) == 6


def test_database_unreachable_at_start_up(workdir):
    configure(workdir, url="postgresql+psycopg://intake@127.0.0.1:1/intake")
    out = run("run", "--once", cwd=workdir)
    assert out.returncode == 1
    assert out.stderr.startswith("错误：无法连接或升级数据库 postgresql+psycopg://intake@127.0.0.1:1/intake")
    assert "Traceback" not in out.stderr


def test_database_unreachable_mid_run_keeps_the_file(clips, workdir):
    from tests.postgres import Postgres, bin_dir

    if bin_dir() is None:
        require_tool("initdb")
    server = Postgres().start()
    proc = None
    try:
        configure(workdir, url=server.new_database())
        (workdir / "inbox").mkdir()
        proc = subprocess.Popen(INTAKE + ["run"], cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: (workdir / "data" / "status" / "folder.json").exists(), 60, "the first pass")
        server._as_postgres(server.bin / "pg_ctl", "-D", server.data, "-m", "fast", "stop")
        shutil.copy(clips["valid"], workdir / "inbox" / "柳北区-甲-13800000000-断库.mp4")
        log = workdir / "data" / "logs" / "intake.log"
        wait_until(lambda: "数据库" in log.read_text(encoding="utf-8"), 60, "the database error in the log")
        assert (workdir / "inbox" / "柳北区-甲-13800000000-断库.mp4").exists()
        server._as_postgres(server.bin / "pg_ctl", "-D", server.data, "-l", server.root / "log", "-w", "-o",
                            f"-p {server.port} -k {server.root} -c listen_addresses=127.0.0.1", "start")
        wait_until(lambda: not (workdir / "inbox" / "柳北区-甲-13800000000-断库.mp4").exists(), 120,
                   "the file to be recorded once the database is back")
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        assert not (workdir / "inbox" / "柳北区-甲-13800000000-断库.mp4").exists()
        assert len(listing(workdir)) == 1
        assert "数据库操作失败" in log.read_text(encoding="utf-8")
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        server.stop()


def test_full_disk_while_storing(clips, workdir):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    store = workdir / "small-disk"
    store.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(store)], check=True)
    try:
        (workdir / "config.yaml").write_text(OPEN_CONTEST + f"storage:\n  root: {store}\n", encoding="utf-8")
        out = run("ingest", str(clips["valid"]), "--unit", "柳南区", cwd=workdir)
        assert out.returncode == 1
        assert "错误：无法把文件存入文件库" in out.stderr and "磁盘空间不足" in out.stderr
        assert listing(workdir) == []
        assert [p for p in store.rglob("*") if p.is_file()] == []   # no partial file left behind
    finally:
        subprocess.run(["umount", str(store)], check=False)


def test_sqlite_locked_is_retried(clips, workdir, monkeypatch):
    (workdir / "config.yaml").write_text(OPEN_CONTEST + "database:\n  busy_timeout_seconds: 0.2\n", encoding="utf-8")
    services = open_services(load_config(workdir / "config.yaml"))
    holder = sqlite3.connect(workdir / "data" / "intake.db", check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    threading.Timer(1.0, holder.rollback).start()
    services.db.audit.record("probe", {"x": 1})   # blocked for a second, then it goes through
    holder.close()
    assert [e.kind for e in services.db.audit.events() if e.kind != "schema_migrated"] == ["probe"]

    holder = sqlite3.connect(workdir / "data" / "intake.db")
    holder.execute("BEGIN EXCLUSIVE")
    waits: list[float] = []   # the backoff between tries, said rather than slept
    monkeypatch.setattr("storage.writers.time", types.SimpleNamespace(sleep=waits.append))
    try:
        with pytest.raises(DatabaseError) as err:
            services.db.audit.record("probe", {"x": 2})
        assert err.value.message == "数据库一直被其他程序占用（database is locked），本次未能写入。"
        assert waits == [0.2, 0.4, 0.8, 1.6, 3.2]
    finally:
        holder.rollback()
        holder.close()
