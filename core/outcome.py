"""A check's status and a submission's outcome, and the one rule that derives the outcome from the statuses
(here, below both validators and storage, which apply it)."""

from __future__ import annotations

from enum import Enum
from typing import Iterable


class Status(str, Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


class Outcome(str, Enum):
    ACCEPTED = "accepted"
    NEEDS_REVIEW = "needs_review"
    REJECTED = "rejected"


def outcome_of_statuses(statuses: Iterable[Status | str]) -> Outcome:
    """rejected if any status is a failure, needs_review if any warns, else accepted."""
    statuses = {Status(s) for s in statuses}
    if Status.FAIL in statuses:
        return Outcome.REJECTED
    if Status.WARN in statuses:
        return Outcome.NEEDS_REVIEW
    return Outcome.ACCEPTED
