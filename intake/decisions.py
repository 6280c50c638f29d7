"""A reviewer's decision on a recorded submission, with the one rule the desk enforces: a work the checks
rejected is shortlisted only when the reviewer insists (``force``), and the log says so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import UsageError
from intake.labels import check_label

if TYPE_CHECKING:  # the database pulls in SQLAlchemy
    from storage.database import Database


@dataclass(frozen=True)
class Decided:
    submission_id: int
    decision: str
    reviewer: str
    forced: bool            # a rejected work shortlisted on the reviewer's insistence
    failed_checks: tuple[str, ...]   # Chinese names of the failed checks (empty unless forced)


def failed_check_names(db: Database, submission_id: int) -> tuple[str, ...]:
    """The Chinese names of a submission's failed checks, each once, in order; empty unless it is rejected."""
    sub = db.submission(submission_id)
    if sub.outcome != "rejected":
        return ()
    return tuple(dict.fromkeys(check_label(c.check_id) for c in sub.checks if c.status == "fail")) or ("检查结果",)


def decide(db: Database, submission_id: int, decision: str, note: str | None, reviewer: str | None,
           force: bool = False) -> Decided:
    """Record ``decision``; shortlisting a rejected work raises UsageError unless ``force``."""
    failed = failed_check_names(db, submission_id) if decision == "shortlist" else ()
    if failed and not force:
        raise UsageError(f"作品 #{submission_id} 的检查结果是不合格（{'、'.join(failed)}），一般不应入围，未记录。",
                         "确需入围时（评审认为问题可以接受），请加 --force 再执行一次；导出时会注明。")
    recorded = db.record_decision(submission_id, decision, note, reviewer, forced=bool(failed))
    return Decided(submission_id, decision, recorded["reviewer"], bool(failed), failed)
