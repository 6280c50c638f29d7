"""Check results as data, and the outcome derived from them (by core.outcome's rule)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from core.outcome import Outcome, Status, outcome_of_statuses


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict. ``check_id`` and ``code`` are a public interface.

    Two texts, for two readers: ``message`` tells the reviewer what was found (numbers, ids, what to
    look at); ``advice`` tells the submitter what to fix and how to send the work again, and is all a
    receipt quotes. Advice names no command, no internal number and no reviewer's task.
    """

    check_id: str
    status: Status
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    advice: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"id": self.check_id, "status": self.status.value, "code": self.code, "message": self.message,
                "advice": self.advice}


def passed(check_id: str, message: str, **details: Any) -> CheckResult:
    return CheckResult(check_id, Status.PASS, "ok", message, details)


def warned(check_id: str, code: str, message: str, *, advice: str = "", **details: Any) -> CheckResult:
    return CheckResult(check_id, Status.WARN, code, message, details, advice)


def failed(check_id: str, code: str, message: str, *, advice: str = "", **details: Any) -> CheckResult:
    return CheckResult(check_id, Status.FAIL, code, message, details, advice)


def outcome_of(results: Iterable[CheckResult]) -> Outcome:
    """rejected if any check fails, needs_review if any warns, else accepted."""
    return outcome_of_statuses(r.status for r in results)


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    order = [Outcome.ACCEPTED, Outcome.NEEDS_REVIEW, Outcome.REJECTED]
    return max(outcomes, key=order.index, default=Outcome.ACCEPTED)
