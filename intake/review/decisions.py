"""A reviewer's decision on a recorded submission, with the one rule the desk enforces: a work the checks
rejected, or one the secrecy scan flagged, is shortlisted only when the reviewer insists (``force``), and the
log says so, with what was overridden."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import UsageError
from intake.labels import UNATTRIBUTED, check_label
from intake.pipeline.secrecy import flag_summary
from intake.pipeline.views import submission_view

if TYPE_CHECKING:  # the database pulls in SQLAlchemy
    from storage.database import Database

FORCE_HINT = "确需入围时（评审已人工核实、认为可以接受），请加 --force 再执行一次；审计日志和导出时会注明。"


@dataclass(frozen=True)
class Decided:
    submission_id: int
    decision: str
    reviewer: str
    forced: bool                     # shortlisted on the reviewer's insistence
    reasons: tuple[str, ...] = ()    # what was overridden (empty unless forced)


def reasons_to_insist(db: Database, submission_id: int) -> tuple[str, ...]:
    """Why shortlisting the work takes ``force``: its failed checks, and what the secrecy scan found on it."""
    view = submission_view(db, submission_id)
    reasons = []
    if view["outcome"] == "rejected":
        failed = dict.fromkeys(check_label(c["id"]) for c in view["checks"] if c["status"] == "fail")
        reasons.append(f"检查结果是不合格（{'、'.join(failed) or '检查结果'}）")
    if view["secrecy"]["found"]:
        reasons.append(flag_summary({"found": view["secrecy"]["found"]}))
    return tuple(reasons)


def command_line_reviewer(db: Database, given: str | None, default: str | None) -> str:
    """Who a decision made at the command line is recorded under: ``--reviewer``, else ``desk.default_reviewer``,
    else the desk account named as the system user running it (the user behind sudo), else nobody named
    (UNATTRIBUTED). Never the bare system user: "root" says nothing of which judge decided."""
    from storage.writers import current_actor

    for name in (given, default):
        if name and name.strip():
            return name   # as given: stored as any outside text is, shown through the terminal's door
    login = current_actor()
    return login if db.accounts.get(login) is not None else UNATTRIBUTED


def decide(db: Database, submission_id: int, decision: str, note: str | None, reviewer: str,
           force: bool = False) -> Decided:
    """Record ``decision`` by ``reviewer``; shortlisting a rejected or flagged work raises UsageError unless
    ``force``."""
    reasons = reasons_to_insist(db, submission_id) if decision == "shortlist" else ()
    if reasons and not force:
        raise UsageError(f"作品 #{submission_id} {'；'.join(reasons)}，一般不应入围，未记录。", FORCE_HINT)
    recorded = db.judging.record_decision(submission_id, decision, note, reviewer, forced=bool(reasons),
                                          reasons=reasons)
    return Decided(submission_id, decision, recorded.reviewer, bool(reasons), reasons)
