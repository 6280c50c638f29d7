"""Terminal text for check results."""

from __future__ import annotations

import click

from validators.results import CheckResult, Outcome, Status

MARKS = {Status.PASS: "✓", Status.WARN: "!", Status.FAIL: "✗"}
COLOURS = {Outcome.ACCEPTED: "green", Outcome.NEEDS_REVIEW: "yellow", Outcome.REJECTED: "red"}


def outcome_text(outcome: Outcome) -> str:
    return click.style(outcome.label, fg=COLOURS[outcome], bold=True)


def check_lines(checks: list[CheckResult], verbose: bool = False) -> list[str]:
    lines = []
    for check in checks:
        if check.status is Status.PASS and not verbose:
            continue
        lines.append(f"  {MARKS[check.status]} [{check.check_id}] {check.message}")
    return lines
