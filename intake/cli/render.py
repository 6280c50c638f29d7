"""Terminal text: check results, and the one door through which outside text reaches the terminal.

Names, subjects, units and paths come from senders. Printed raw, an ESC sequence in one of them would
recolour, move or rewrite the operator's terminal; ``echo`` and ``for_terminal`` show it as ``\\x1b[…``.
"""

from __future__ import annotations

import re

import click

from core.textsafe import for_terminal
from intake.labels import OUTCOME_LABELS
from validators.results import CheckResult, Outcome, Status

MARKS = {Status.PASS: "✓", Status.WARN: "!", Status.FAIL: "✗"}
COLOURS = {Outcome.ACCEPTED: "green", Outcome.NEEDS_REVIEW: "yellow", Outcome.REJECTED: "red"}
# json.dumps escapes C0 controls itself but leaves DEL and C1 (U+009B is CSI on some terminals) raw.
_JSON_RAW_CONTROLS = re.compile("[\x7f-\x9f]")


def echo(text: str, err: bool = False) -> None:
    """Print a line that holds outside text (and no styling of ours)."""
    click.echo(for_terminal(text), err=err)


def echo_each(lines, err: bool = False) -> None:
    for line in lines:
        echo(line, err=err)


def terminal_json(text: str) -> str:
    """JSON text safe to print, still valid JSON for the same values (the controls become \\u escapes)."""
    return _JSON_RAW_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def terminal_block(text: str) -> str:
    """A whole document (CSV, HTML) safe to print: controls shown, CRLF line ends kept."""
    return "\r\n".join(for_terminal(part, keep_lines=True) for part in text.split("\r\n"))


def outcome_text(outcome: Outcome) -> str:
    return click.style(OUTCOME_LABELS[outcome], fg=COLOURS[outcome], bold=True)


def check_lines(checks: list[CheckResult], verbose: bool = False) -> list[str]:
    lines = []
    for check in checks:
        if check.status is Status.PASS and not verbose:
            continue
        # Messages quote names and phones as sent.
        lines.append(f"  {MARKS[check.status]} [{check.check_id}] {for_terminal(check.message)}")
    return lines
