"""Corrections at the same moment (issue 23, item 14): `intake edit` processes and 保存修改 on the desk racing on one
work. Each correction must be read, compared and written in one transaction: every run listed once, every
check once per run, each audit event's "old" value the value it really replaced, a stale desk form refused,
never a 500. Real SQLite, real processes and threads, the real server."""

from __future__ import annotations

import os
import subprocess
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from alembic import command

from intake.desk.accounts import add_account
from storage.database import Database, alembic_config
from storage.models import StoredRun, UTCDateTime
from tests.cli import INTAKE
from tests.desks import PASSWORD, logged_in, make_desk, running_desk
from tests.waiting import wait_until

START_CONTACT = "张三"


@pytest.fixture(scope="module")
def desk(clips, tmp_path_factory):
    root = tmp_path_factory.mktemp("races")
    ids = make_desk(root, clips)
    with running_desk(root) as (port, services):
        for name in ("clerk2", "clerk3"):
            add_account(services.db, name, "clerk", PASSWORD)
        yield root, port, ids, services


def edit_process(root, submission_id: int, contact: str, **env) -> subprocess.Popen:
    return subprocess.Popen(INTAKE + ["edit", str(submission_id), "--contact", contact, "--reviewer", contact],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env})


def assert_consistent(services, submission_id: int, start: str) -> None:
    """Runs listed once, checks once per run, and the contacts' audit chain unbroken from ``start``."""
    with services.db.engine.connect() as conn:
        runs = [r for (r,) in conn.execute(sa.select(StoredRun.run).where(StoredRun.submission_id == submission_id))]
        rows = conn.execute(sa.text("SELECT run, media_file_id, check_id FROM check_results WHERE submission_id = :s"),
                            {"s": submission_id}).all()
    assert sorted(runs) == list(range(1, max(runs) + 1))
    twice = [key for key, n in Counter(map(tuple, rows)).items() if n > 1]
    assert twice == [], f"checks stored twice in one run: {twice}"
    sub = services.db.submissions.get(submission_id)
    assert sub.check_run == max(runs)
    value = start
    for event in services.db.audit.events(submission_id):
        change = (event.data.get("changes") or {}).get("contact")
        if event.kind == "edited" and change:
            assert change["old"] == value, (event.actor, change)
            value = change["new"]
    assert sub.contact == value
    [contact_info] = [c for c in sub.checks if c.check_id == "contact_info"]
    assert contact_info.status == "pass"


def test_two_edit_commands_at_once_are_stored_one_after_the_other(desk, tmp_path):
    """The first holds its write transaction (a pause point) while the second arrives: the second waits, then
    works from what the first left. Before, both read the same state: two runs numbered alike, every check
    listed twice, and an audit event whose "old" value was not the value it replaced."""
    root, port, ids, services = desk
    sid = ids["accepted"]
    marker, release = tmp_path / "reached", tmp_path / "go-on"
    first = edit_process(root, sid, "李四", INTAKE_FAILPOINT="check_run_locked", INTAKE_FAILPOINT_MARKER=str(marker),
                         INTAKE_FAILPOINT_RELEASE=str(release))
    try:
        wait_until(marker.exists, 60, "the first edit to hold its transaction")
        second = edit_process(root, sid, "王五")
        release.touch()
        outs = [p.communicate(timeout=120) for p in (first, second)]
    finally:
        for proc in (first,):
            if proc.poll() is None:
                proc.kill()
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    assert_consistent(services, sid, START_CONTACT)
    edits = [e for e in services.db.audit.events(sid) if e.kind == "edited"]
    assert [(e.actor, e.data["changes"]["contact"]) for e in edits[-2:]] == [
        ("李四", {"old": START_CONTACT, "new": "李四"}), ("王五", {"old": "李四", "new": "王五"})]


def test_simultaneous_corrections_from_the_desk_and_the_command_line(desk):
    """8 保存修改 from four accounts and 6 `intake edit` processes at once: no 500, stale forms refused with a
    clear message, and a record that reads as one correction after another."""
    root, port, ids, services = desk
    sid = ids["mail"]
    start = services.db.submissions.get(sid).contact
    clients = [logged_in(port, name) for name in ("clerk", "clerk2", "clerk3", "admin") for _ in range(2)]
    pages = [c.get(f"/entries/{sid}").text for c in clients]
    forms = []
    for n, (client, page) in enumerate(zip(clients, pages)):
        version = page.split('name="version" value="', 1)[1].split('"', 1)[0]
        forms.append({"csrf": client.csrf(), "version": version, "contact": f"联系人{n}", "phone": "13800000002"})
    gate = threading.Barrier(len(clients) + 1)

    def save(client, form):
        gate.wait()
        return client.post(f"/entries/{sid}/edit", form)

    with ThreadPoolExecutor(len(clients)) as pool:
        replies = [pool.submit(save, c, f) for c, f in zip(clients, forms)]
        gate.wait()
        commands = [edit_process(root, sid, f"命令{n}") for n in range(6)]
        outs = [p.communicate(timeout=180) for p in commands]
        replies = [r.result() for r in replies]
    assert [p.returncode for p in commands] == [0] * 6, outs
    statuses = Counter(r.status for r in replies)
    assert set(statuses) <= {303, 409} and statuses[303] >= 1, statuses
    for reply in replies:
        if reply.status == 409:
            assert "在您打开页面之后已被修改" in reply.text and "请刷新页面，核对最新内容后再修改。" in reply.text
    assert_consistent(services, sid, start)


def test_a_stale_form_is_refused_and_changes_nothing(desk):
    root, port, ids, services = desk
    sid = ids["xss"]
    first, second = logged_in(port, "clerk"), logged_in(port, "clerk2")
    stale_page = second.get(f"/entries/{sid}").text
    version = stale_page.split('name="version" value="', 1)[1].split('"', 1)[0]
    page = first.get(f"/entries/{sid}").text
    mine = page.split('name="version" value="', 1)[1].split('"', 1)[0]
    assert first.post(f"/entries/{sid}/edit", {"csrf": first.csrf(), "version": mine, "title": "新作品名"}).status == 303
    before = services.db.submissions.get(sid)
    refused = second.post(f"/entries/{sid}/edit", {"csrf": second.csrf(), "version": version, "contact": "赵六"})
    assert refused.status == 409
    assert "在您打开页面之后已被修改（可能有其他人同时在修改），本次修改没有保存。 请刷新页面，核对最新内容后再修改。" in refused.text
    after = services.db.submissions.get(sid)
    assert (after.contact, after.title, after.check_run) == (before.contact, "新作品名", before.check_run)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres").new_database()
    return f"sqlite:///{tmp_path / 'old.db'}"


def test_the_run_numbers_migration_survives_a_run_stored_twice(database_url):
    """A database where the race already stored run 2 twice (every check listed twice) upgrades, keeps those rows
    as they are, and from then on refuses a second run of the same number."""
    db = Database(database_url)
    cfg = alembic_config()
    now = datetime(2024, 4, 1, tzinfo=timezone.utc)
    submissions = sa.table("submissions", *(sa.column(c) for c in ("id", "source", "title", "outcome", "check_run")),
                           sa.column("received_at", UTCDateTime), sa.column("recorded_at", UTCDateTime))
    results = sa.table("check_results", *(sa.column(c) for c in ("submission_id", "check_id", "status", "code",
                                                                 "message", "run")))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0011")
        conn.execute(submissions.insert(), [{"id": 1, "source": "cli", "title": "作品", "outcome": "needs_review",
                                             "check_run": 2, "received_at": now, "recorded_at": now}])
        conn.execute(results.insert(), [
            {"submission_id": 1, "check_id": "contact_info", "status": "pass", "code": "ok", "message": "齐全", "run": 1},
            *[{"submission_id": 1, "check_id": "contact_info", "status": "warn", "code": "missing",
               "message": f"缺联系人（写入 {n}）", "run": 2} for n in (1, 2)]])
    db.migrate()
    with db.engine.connect() as conn:
        assert sorted(conn.execute(sa.text("SELECT submission_id, run FROM check_runs")).all()) == [(1, 1), (1, 2)]
        assert conn.execute(sa.text("SELECT count(*) FROM check_results WHERE run = 2")).scalar() == 2
    from storage.records import CheckRow, CheckRun

    run = CheckRun(checks=(CheckRow("contact_info", "pass", "ok", "齐全"),))
    data = db.submissions.record_check_run(1, run, "rechecked")
    assert data["run"] == 3
    with pytest.raises(sa.exc.IntegrityError), db.session() as s:
        s.add(StoredRun(submission_id=1, run=3))
