"""Every item ends recorded: bounded retries with backoff, then a record that says processing failed.

The attempts are counted in the database, so that a restart does not start the count again. After
``processing.max_attempts`` tries that failed through the item's own fault, it is recorded as 待复核 with
``processing_error``, so that it never blocks the items behind it. Failures of the infrastructure (the database
or the mailbox away, a full disk) are not the item's fault: they never give up on it, they only wait.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from core.errors import DatabaseError, DuplicateSource, IntakeError, StorageError
from core.textsafe import one_line
from intake.pipeline.recording import record_submission
from storage.records import FailingItem
from validators.results import warned

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    give_up: bool           # record the item now as processing_error
    attempts: int           # failed tries counted so far (0 when the fault was not the item's)
    delay_seconds: float    # wait this long before the next try


def blames_item(exc: BaseException) -> bool:
    """True when the item itself made processing fail; an infrastructure that is away is not its fault."""
    if isinstance(exc, IntakeError):
        return exc.item_fault
    return isinstance(exc, Exception)


def describe(exc: BaseException) -> str:
    """One line saying what failed, for the log, the attempts table and the reviewer's message."""
    if isinstance(exc, IntakeError):
        text = exc.message
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return one_line(text, 300) or type(exc).__name__


def is_due(state: FailingItem | None) -> bool:
    """False while an earlier failure (``db.claims.failure_state``) is still waiting out its backoff."""
    return state is None or state.next_at <= datetime.now(timezone.utc)


def note_failure(services, ref: str, exc: BaseException) -> Verdict:
    """Count a failed try at ``ref`` (only if it was the item's fault) and say what to do next."""
    cfg = services.config.processing
    if not blames_item(exc):
        return Verdict(False, 0, cfg.retry_seconds)
    try:   # the wait doubles with each attempt, up to retry_max_seconds
        failing = services.db.claims.note_failure(
            ref, describe(exc), lambda n: min(cfg.retry_max_seconds, cfg.retry_seconds * 2 ** max(0, n - 1)))
    except (DatabaseError, StorageError) as db_exc:
        log.error("无法记录 %s 的失败次数：%s", ref, db_exc)
        return Verdict(False, 0, cfg.retry_seconds)
    wait = max(0.0, (failing.next_at - datetime.now(timezone.utc)).total_seconds())
    return Verdict(failing.attempts >= cfg.max_attempts, failing.attempts, wait)


def processing_error_check(exc: BaseException, attempts: int, file_names: list[str]):
    names = "、".join(file_names[:10]) or "无"
    return warned(
        "processing_error", "processing_error",
        f"处理这件作品时反复出错（共尝试 {attempts} 次），自动检查没有完成：{describe(exc)}。"
        f"作品已经登记，请评审人员人工查看原始邮件或文件（文件：{names}）。",
        advice="作品已经收到，但自动检查没有完成，工作人员将人工查看，暂不需要处理。",
        attempts=attempts, error=describe(exc), files=file_names[:50])


def record_processing_error(task, services, exc: BaseException, attempts: int) -> int:
    """Record ``task`` by its identity alone as 待复核 with ``processing_error`` (its files' names kept in the
    check); if even that is refused, the bare identity, so the item still ends recorded."""
    file_names = [one_line(m.original_name, 200) or "" for m in task.files]
    task.files = []
    task.checks = [processing_error_check(exc, attempts, file_names)]
    try:
        submission_id = record_submission(services.db, task)
    except DuplicateSource as dup:
        submission_id = dup.submission_id
    except DatabaseError as again:
        if not again.item_fault:
            raise
        log.error("登记 %s 时数据库再次拒绝（%s），只登记来源和时间", task.source_ref, again)
        for name in ("unit", "unit_raw", "contact", "phone", "title", "subject", "speaker", "topic", "sender",
                     "body_text"):
            setattr(task, name, None)
        task.title = "（原标题无法保存）"
        submission_id = record_submission(services.db, task)
    task.submission_id = submission_id
    if task.source_ref:
        services.db.claims.clear_failures(task.source_ref)
    log.error("%s 多次处理失败，已登记为作品 #%s（待复核，processing_error）", task.source_ref or task.source, submission_id)
    return submission_id
