"""Records a reviewer can rely on: one first holder under concurrency, bounded retries that end recorded,
outside text the database always accepts, and no recording into a SQLite file that is gone."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.errors import DatabaseError, DatabaseGone
from intake.config import load_config
from intake.pipeline.recording import record_submission
from intake.pipeline.retries import is_due, note_failure, record_processing_error
from intake.pipeline.services import open_services
from intake.pipeline.task import MediaTask, Source, SubmissionTask
from intake.pipeline.views import submission_view
from tests.configs import add_config
from tests.cli import INTAKE, listing, run

pytestmark = pytest.mark.slow   # a long module: scheduled first (conftest.py)


def _services(workdir: Path, extra: str = ""):
    if extra:
        add_config(workdir, extra)
    return open_services(load_config(workdir / "config.yaml"))


def test_concurrent_ingests_of_one_file_have_exactly_one_first_holder(clips, workdir, backend):
    assert run("migrate").returncode == 0
    runs = [subprocess.Popen(INTAKE + ["ingest", str(clips["valid"]), "--unit", unit, "--contact", "张三",
                                       "--phone", "13800138000"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for unit in ("柳南区", "柳北区", "城中区", "鱼峰区")]
    for proc in runs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode not in (1, 2), err
    subs = listing()
    assert len(subs) == 4
    duplicates = {s["id"]: [c for c in s["checks"] if c["id"] == "duplicate"] for s in subs}
    firsts = [sid for sid, found in duplicates.items() if not found]
    assert len(firsts) == 1, duplicates
    for sid, found in duplicates.items():
        if sid != firsts[0]:
            assert len(found) == 1 and f"与第 {firsts[0]} 号作品" in found[0]["message"]


def test_an_item_that_keeps_failing_ends_recorded_as_processing_error(workdir, backend):
    services = _services(workdir, "processing:\n  max_attempts: 2\n  retry_seconds: 600\n")
    ref = "folder:坏文件.mp4:1:2:3"
    first = note_failure(services, ref, RuntimeError("解析时崩溃"))
    assert (first.give_up, first.attempts) == (False, 1) and 590 < first.delay_seconds <= 600
    assert not is_due(services.db.claims.failure_state(ref))          # backing off: the source skips it for now
    second = note_failure(services, ref, RuntimeError("解析时崩溃"))
    assert (second.give_up, second.attempts) == (True, 2)

    task = SubmissionTask(source=Source.FOLDER, source_ref=ref, received_at=datetime.now(timezone.utc),
                          title="坏\x00文件" + "长" * 600, unit="柳南区",
                          files=[MediaTask(source_path=None, original_name="坏文件.mp4")])
    submission_id = record_processing_error(task, services, RuntimeError("解析时崩溃"), second.attempts)
    view = submission_view(services.db, submission_id)
    assert view["outcome"] == "needs_review"
    assert view["files"] == []
    assert "\x00" not in view["title"] and view["title"].startswith("坏文件长")
    [check] = view["checks"]
    assert (check["id"], check["status"], check["code"]) == ("processing_error", "warn", "processing_error")
    assert "共尝试 2 次" in check["message"] and "RuntimeError: 解析时崩溃" in check["message"]
    assert "坏文件.mp4" in check["message"]
    assert services.db.claims.failure_state(ref) is None and is_due(services.db.claims.failure_state(ref))


def test_an_unreachable_database_is_never_the_items_fault(workdir):
    services = _services(workdir)
    verdict = note_failure(services, "mail:x:INBOX:1:7", DatabaseError("数据库连接中断"))
    assert (verdict.give_up, verdict.attempts) == (False, 0)
    assert services.db.claims.failure_state("mail:x:INBOX:1:7") is None


def test_outside_text_the_database_would_refuse_is_stored_clean(workdir, backend):
    services = _services(workdir)
    subject = "主题" * 300 + "\x00尾"
    sender = "a" * 390 + "@163.com"
    task = SubmissionTask(source=Source.MAIL, source_ref="mail:acc:INBOX:1:1", received_at=datetime.now(timezone.utc),
                          title=subject, sender=sender, unit="柳南\udcb5区", contact="张\x1b[31m三",
                          message_key="acc|<" + "长" * 2000 + "@x>")
    submission_id = record_submission(services.db, task)
    view = submission_view(services.db, submission_id)
    assert view["title"] == "主题" * 300 + "尾"
    assert view["unit"] == "柳南\ufffd区"
    assert "\x1b" not in view["contact"]


def test_recording_stops_when_the_sqlite_file_is_deleted_or_replaced(workdir):
    services = _services(workdir)
    db_file = workdir / "data" / "intake.db"
    task = SubmissionTask(source=Source.CLI, received_at=datetime.now(timezone.utc), title="一")
    record_submission(services.db, task)
    db_file.unlink()
    with pytest.raises(DatabaseGone) as gone:
        record_submission(services.db, SubmissionTask(source=Source.CLI, received_at=datetime.now(timezone.utc)))
    assert "被删除" in gone.value.message and str(db_file) in gone.value.message

    services = _services(workdir)   # a fresh start opens (and creates) the file anew
    other = workdir / "data" / "other.db"
    other.write_bytes(db_file.read_bytes())
    os.replace(other, db_file)
    with pytest.raises(DatabaseGone) as replaced:
        record_submission(services.db, SubmissionTask(source=Source.CLI, received_at=datetime.now(timezone.utc)))
    assert "被替换" in replaced.value.message


def test_a_duplicate_found_in_a_retried_transaction_is_stored_once_and_kept_on_the_task():
    from intake.pipeline.stages import duplicate_found
    from storage.filestore import StoredBlob

    class RetryingSubmissions:
        """Runs the recording transaction twice, as a locked SQLite file makes the real one do (``db.submissions``)."""

        def add(self, record, on_duplicate=None):
            earlier = {"id": 7, "unit": "柳南区", "received_at": datetime(2024, 4, 1, tzinfo=timezone.utc)}
            self.rows = [[on_duplicate(index, earlier) for index, _ in enumerate(record.files)] for _ in range(2)]
            self.record = record
            return 8

    blob = StoredBlob(sha256="0" * 64, size_bytes=1, relative_path="00/x.mp4", already_present=True)
    task = SubmissionTask(source="folder", received_at=datetime.now(timezone.utc),
                          files=[MediaTask(source_path=None, original_name="作品.mp4", size_bytes=1, blob=blob)])
    submissions = RetryingSubmissions()
    assert record_submission(SimpleNamespace(submissions=submissions), task, on_duplicate=duplicate_found) == 8
    assert task.source is Source.FOLDER and submissions.record.source == "folder"
    first, again = submissions.rows
    assert first == again and first[0].check_id == "duplicate" and first[0].status == "warn"
    assert "与第 7 号作品（柳南区" in first[0].message and first[0].details == {
        "earlier_submission_id": 7, "advice": "这个视频在 2024-04-01 08:00 已经收到过，内容完全相同，无需再次发送。"}
    assert [c.check_id for c in task.files[0].checks] == ["duplicate"] and task.outcome.value == "needs_review"
    recorded = submissions.record
    assert recorded.files[0].checks == () and recorded.outcome == "accepted"   # storage adds the row itself
