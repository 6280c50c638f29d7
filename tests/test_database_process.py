"""The database in a helper process (intake/database_process.py): `intake ingest` loads SQLAlchemy in a
process started with the command, and records through it exactly as it would on a thread."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone

import pytest

from core.errors import DatabaseError, UsageError
from intake.database_process import DatabaseHelper, send
from intake.entry import command_of
from intake.services import database_address, open_database
from intake.config import load_config
from intake.records import record_of
from intake.task import Source, SubmissionTask
from tests.cli import INTAKE, listing
from tests.conftest import OPEN_CONTEST, REPO

INGEST = ["ingest", "--unit", "柳南区", "--contact", "张三", "--phone", "13800138000"]


def intake(workdir, *args: str) -> subprocess.CompletedProcess:
    """A real `intake` process, as a clerk starts it (the helper starts only in a real process)."""
    return subprocess.run(INTAKE + list(args), cwd=workdir, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.fixture
def helper(workdir):
    started = DatabaseHelper.launch()
    config = load_config(workdir / "config.yaml")
    started.name(database_address(config))
    yield started
    started.close()


def test_the_subcommand_is_found_past_the_groups_options():
    assert command_of(["ingest", "a.mp4"]) == "ingest"
    assert command_of(["--config", "ingest", "validate", "a.mp4"]) == "validate"   # "ingest" is the config's path
    assert command_of(["--config=x.yaml", "ingest", "--unit", "validate"]) == "ingest"
    assert command_of(["--version"]) is None and command_of([]) is None


def test_a_helper_answers_as_the_database_and_its_errors_come_back_as_they_are(helper, workdir):
    assert helper.opened() is helper   # a fresh helper is still loading SQLAlchemy: opened() waits for it
    db = open_database(load_config(workdir / "config.yaml"))   # the database the thread would open
    db.add_submission(record_of(SubmissionTask(source=Source.CLI, received_at=datetime.now(timezone.utc),
                                               unit="柳南区")))
    assert helper.last_submission_id() == db.last_submission_id() == 1
    assert helper.earlier_submissions_of_unit("柳南区", before=None) == [1]
    with pytest.raises(UsageError, match="编号为 999 的作品"):   # the Database's own error, message and class intact
        helper.submission(999)
    assert helper.last_submission_id() == 1   # and it goes on answering


def test_an_ingest_records_through_the_helper_with_the_duplicate_found_in_its_transaction(clips, workdir):
    first = intake(workdir, *INGEST, str(clips["valid"]))
    assert first.returncode == 0, first.stderr
    again = intake(workdir, *INGEST, str(clips["valid"]))
    # The duplicate callback runs in this process, called from inside the helper's transaction.
    assert again.returncode == 3, again.stderr
    assert "已登记作品 #2：待复核" in again.stdout and "[duplicate] 与第 1 号作品" in again.stdout
    second = next(s for s in listing(workdir) if s["id"] == 2)
    assert second["outcome"] == "needs_review"
    [stored] = [p for p in (workdir / "data" / "store").rglob("*.mp4")]
    assert stored.read_bytes() == clips["valid"].read_bytes()


def test_an_ingest_whose_database_cannot_open_in_the_helper_says_so_and_stores_nothing(clips, workdir):
    (workdir / "config.yaml").write_text(OPEN_CONTEST + "database:\n  url: nosuchdriver://x/y\n", encoding="utf-8")
    out = intake(workdir, *INGEST, str(clips["valid"]))
    assert out.returncode == 1
    assert "错误：数据库地址 nosuchdriver://x/y 无效" in out.stderr and "Traceback" not in out.stderr
    assert [p for p in (workdir / "data" / "store").rglob("*") if p.is_file()] == []


def test_a_helper_that_dies_is_a_database_error_not_a_hang(helper):
    assert helper.last_submission_id() == 0
    helper._process.kill()
    helper._process.wait()
    with pytest.raises(DatabaseError, match="数据库辅助进程意外退出"):
        helper.last_submission_id()


def test_a_helper_ignores_ctrl_c_and_ends_when_its_parent_closes(helper):
    assert helper.last_submission_id() == 0
    helper._process.send_signal(signal.SIGINT)   # a terminal's Ctrl-C reaches the whole process group
    assert helper.last_submission_id() == 0
    helper._sock.close()
    assert helper._process.wait(timeout=30) == 0


def test_a_helper_that_is_never_asked_ends_with_the_command(clips, workdir):
    out = intake(workdir, "ingest", str(workdir / "no-such.mp4"))
    assert out.returncode == 2 and "no-such.mp4" in out.stderr
    assert not (workdir / "data" / "intake.db").exists()   # never named, so never opened (nor created)


def test_the_entry_starts_children_early_only_for_commands_that_use_them(workdir):
    probe = ("import json, sys; from intake import entry, database_process as d; "
             "from validators.mediainfo_pool import POOL; entry.start_early(sys.argv[1:]); "
             "print(json.dumps([d._early is not None, len(POOL._idle)])); d._early and d._early.close(); POOL.close()")
    started = {}
    for args in (["validate", "x.mp4"], ["ingest", "x.mp4"], ["--config", "ingest", "list"], ["ingest", "--help"]):
        out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60,
                             cwd=workdir, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
        started[" ".join(args)] = json.loads(out.stdout)
    # [the database helper started, MediaInfo workers waiting]
    assert started == {"validate x.mp4": [False, 1], "ingest x.mp4": [True, 1], "--config ingest list": [False, 0],
                       "ingest --help": [False, 0]}


def test_a_helper_records_in_postgresql_too(postgres, workdir):
    helper = DatabaseHelper.launch()
    try:
        helper.name({"url": postgres.new_database()})
        assert helper.last_submission_id() == 0
        assert helper.earlier_submissions_of_unit("柳南区") == []
    finally:
        helper.close()


def test_a_helper_imports_nothing_from_the_folder_it_is_started_in(workdir):
    # The clerk's folder holds whatever was handed in: `intake` run there must not import a module from it.
    (workdir / "core").mkdir()
    (workdir / "core" / "__init__.py").write_text(f"open({str(workdir / 'imported')!r}, 'w').close()\n")
    helper = DatabaseHelper.launch()
    try:
        helper.name({"url": f"sqlite:///{workdir / 'data' / 'intake.db'}"})
        assert helper.last_submission_id() == 0
    finally:
        helper.close()
    assert not (workdir / "imported").exists()


def test_a_helper_whose_parent_goes_away_mid_call_ends_quietly(workdir, capfd):
    helper = DatabaseHelper.launch()   # started here, so that its stderr is the one captured
    helper.name({"url": f"sqlite:///{workdir / 'data' / 'intake.db'}"})
    helper.opened()
    send(helper._sock, ("call", "last_submission_id", (), {}))
    helper._sock.close()   # the parent killed or interrupted before the answer came
    assert helper._process.wait(timeout=30) == 0
    assert "Traceback" not in capfd.readouterr().err


def test_an_unexpected_error_in_the_helper_keeps_where_it_happened(helper):
    with pytest.raises(AttributeError) as raised:
        helper.add_submission(None)
    # The log of an internal error shows the helper's frames, not only the parent's `raise`.
    assert "storage/database.py" in "".join(traceback.format_exception(raised.value))
    assert helper.last_submission_id() == 0


def test_a_callback_runs_in_the_parent_and_its_unpicklable_error_still_comes_back(helper):
    asked = []
    attempts, _ = helper.note_failure("folder:a.mp4", "坏了", lambda n: asked.append(n) or 60)
    assert (attempts, asked) == (1, [1])   # called here, from inside the helper's transaction

    class Unpicklable(Exception):   # a local class: pickle cannot name it
        pass

    def refuse(n):
        raise Unpicklable("不能跨进程")

    with pytest.raises(DatabaseError, match="数据库操作失败：Unpicklable: 不能跨进程"):
        helper.note_failure("folder:a.mp4", "又坏了", refuse)
    assert helper.note_failure("folder:a.mp4", "第三次", lambda n: 60)[0] == 2   # in step, the failed try undone


HANGING_PARENT = r"""
import sys, time
from intake.database_process import DatabaseHelper
helper = DatabaseHelper.launch()
helper.name({"url": sys.argv[1]})
helper.start()   # the helper now connects to a server that never answers
print(helper._process.pid, flush=True)
time.sleep(600)
"""


def test_a_helper_waiting_on_a_silent_server_ends_when_its_parent_is_killed(workdir):
    import socket

    silent = socket.create_server(("127.0.0.1", 0))   # accepts into its backlog, never answers
    url = f"postgresql+psycopg://x@127.0.0.1:{silent.getsockname()[1]}/db"
    parent = subprocess.Popen([sys.executable, "-c", HANGING_PARENT, url], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        helper_pid = int(parent.stdout.readline())
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 30
        while _alive(helper_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(helper_pid)
    finally:
        parent.kill()
        silent.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_silent_database_server_is_an_error_after_the_connect_timeout_not_a_hang(workdir):
    import socket

    silent = socket.create_server(("127.0.0.1", 0))   # accepts into its backlog, never answers
    try:
        (workdir / "config.yaml").write_text(
            OPEN_CONTEST + f"database:\n  url: postgresql+psycopg://x@127.0.0.1:{silent.getsockname()[1]}/db\n"
            "  connect_timeout_seconds: 3\n", encoding="utf-8")
        begun = time.monotonic()
        # A real process with a deadline: without the timeout it would wait forever.
        out = subprocess.run(INTAKE + ["list"], cwd=workdir, capture_output=True, text=True, timeout=30,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
        assert out.returncode == 1 and "错误：无法连接或升级数据库" in out.stderr, out.stderr
        assert time.monotonic() - begun < 15   # a 3 s attempt, not forever
        silent.setblocking(False)
        tried = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                silent.accept()[0].close()
                tried += 1
        assert tried == 1   # one connection: an unreachable server is not tried again for the upgrade
    finally:
        silent.close()
