"""Plain data views of recorded submissions, shared by ``intake list``, notes, receipts and reports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from core.timefmt import local_iso
from intake.labels import DECISION_LABELS
from intake.pipeline.secrecy import secrecy_of

if TYPE_CHECKING:  # the database pulls in SQLAlchemy
    from intake.config import ContestConfig
    from storage.database import Database
    from storage.records import StoredDecision, StoredSubmission

# The fields of ``intake list --json`` read as recorded, in the order shown.
SUBMISSION_FIELDS = ("id", "source", "source_ref", "received_at", "unit", "unit_raw", "contact", "phone", "title",
                     "title_source", "subject", "sender", "body_text", "speaker", "topic", "outcome", "check_run")
FILE_FIELDS = ("sha256", "original_name", "size_bytes", "duration_seconds", "outcome", "container", "video_codec",
               "audio_codec", "width", "height", "repair")

def submission_views(db: Database, outcome: str | None = None, unit: str | None = None,
                     contest: ContestConfig | None = None) -> list[dict[str, Any]]:
    """What ``intake list --json`` and the reports show: submissions with their latest decision. ``unit`` keeps
    one unit's works, as recorded or written, and with ``contest`` the listed unit it means (柳南 → 柳南区)."""
    subs = db.submissions.all(outcome=outcome)
    if unit:
        names = unit_names(unit, contest)
        subs = [x for x in subs if x.unit in names or x.unit_raw == unit]
    history = db.judging.decisions()
    return [view_of(x, history.get(x.id, [])) for x in subs]


def unit_names(typed: str, contest: ContestConfig | None = None) -> set[str]:
    """The recorded unit names a unit filter means: as typed, and the listed unit it matches (if any)."""
    found = listed_unit(typed, contest) if contest is not None else None
    return {typed, found} if found else {typed}


def listed_unit(typed: str, contest: ContestConfig) -> str | None:
    """The unit on the list that ``typed`` names (柳南, 柳南区委保密办 → 柳南区), or None.
    A near miss does not count: a filter must not list another unit's works."""
    from intake.pipeline.contest_rules import UnitMatcher

    found = UnitMatcher(contest).match(typed)
    return found.unit if found.how in ("exact", "alias", "contains") else None


def submission_view(db: Database, submission_id: int) -> dict[str, Any]:
    """One submission as ``intake list --json`` shows it; NotFound for an unknown id."""
    return view_of(db.submissions.get(submission_id), db.judging.decisions([submission_id]).get(submission_id, []))


def decision_json(decision: StoredDecision) -> dict[str, Any]:
    return {"decision": decision.decision, "label": DECISION_LABELS.get(decision.decision, decision.decision),
            "note": decision.note, "reviewer": decision.reviewer, "at": local_iso(decision.at),
            "forced": decision.forced, "reasons": list(decision.reasons)}


def own_decisions(view: dict[str, Any], judge: str) -> dict[str, Any]:
    """``view`` with only ``judge``'s own decisions: what a judge reads while scoring is still open, so that
    judges decide without seeing each other's decisions and notes."""
    own = [d for d in view.get("decisions") or [] if d.get("reviewer") == judge]
    return {**view, "decision": own[-1] if own else None, "decisions": own}


def view_of(sub: StoredSubmission, decisions: Sequence[StoredDecision] = ()) -> dict[str, Any]:
    """The object of ``intake list --json`` for one submission; ``decisions`` oldest first."""
    file_positions = {f.id: f.position for f in sub.files}
    checks = []
    for check in sub.checks:
        item = {"id": check.check_id, "status": check.status, "code": check.code, "message": check.message,
                "advice": (check.details or {}).get("advice") or ""}
        if check.media_file_id is not None:
            item["file"] = file_positions.get(check.media_file_id)
        if check.check_id == "sensitive_content":   # what the scan covered and found, for scripts and the desk
            item["details"] = {k: v for k, v in (check.details or {}).items() if k != "advice"}
        checks.append(item)
    view = {name: getattr(sub, name) for name in SUBMISSION_FIELDS}
    # title_source: given | file_name | subject, None for works recorded before 0013; body_text: the mail's body
    # (bounded), hidden with the sender by blind review; check_run: 1 as recorded, +1 for each recheck or edit.
    view["received_at"] = local_iso(sub.received_at)
    return {
        **view,
        "decision": decision_json(decisions[-1]) if decisions else None,
        "decisions": [decision_json(d) for d in decisions],
        # A repaired file: what was done ('remux', 'shrink'), and the content as it arrived, kept.
        "files": [{**{name: getattr(f, name) for name in FILE_FIELDS}, "original": {
            "sha256": f.original_sha256, "size_bytes": f.original.size_bytes if f.original else None,
        } if f.original_sha256 else None} for f in sub.files],
        "checks": checks,
        "secrecy": secrecy_of(checks),   # what the secrecy scan found or could not read (intake.pipeline.secrecy)
        # 超大附件: the download links the mail gave instead of its video, while they are still to be fetched
        "links": [{"name": link.get("name"), "url": link.get("url"), "size_bytes": link.get("size_bytes"),
                   "expires": link.get("expires")}
                  for check in sub.checks if check.check_id == "large_attachment_link" and check.media_file_id is None
                  for link in (check.details or {}).get("links") or []],
    }
