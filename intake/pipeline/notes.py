"""Texts rendered from templates: the result note written beside each processed file in done/ (for the
staff, quoting the reviewer's messages), and the receipt's body (for the submitter, quoting only the advice)."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from intake.labels import OUTCOME_LABELS, STATUS_LABELS, check_label
from validators.results import Outcome, Status

ENV = Environment(loader=PackageLoader("intake", "templates"), autoescape=False, undefined=StrictUndefined,
                  keep_trailing_newline=True)

ADVICE = {
    Outcome.ACCEPTED: "作品已登记，等待评审人员初步筛选。",
    Outcome.NEEDS_REVIEW: "作品已登记，上述问题将由评审人员复核；如能补充或更正，请联系市国家保密局。",
    Outcome.REJECTED: "作品不符合征集要求，请按上述提示修改后重新报送。",
}


# The line of a result note that names its submission: how done/ tells whose a file is (intake.inbox.done).
OWNER_LINE = re.compile(r"^登记编号：#(\d+)\s*$", re.MULTILINE)
NOTE_READ_CAP = 64 * 1024


def render_result_note(view: dict[str, Any], updated: str | None = None) -> str:
    """The note for the staff; ``updated`` says when and why it was written again after a change."""
    outcome = Outcome(view["outcome"])
    problems = [
        {"label": check_label(c["id"]), "status_label": STATUS_LABELS[Status(c["status"])], "message": c["message"]}
        for c in view["checks"] if c["status"] != "pass"
    ]
    return ENV.get_template("result_note.txt.j2").render(
        title="“寻找最美保密法治代言人”微视频作品处理结果",
        sub=view, received=view["received_at"][:16].replace("T", " "), updated=updated,
        file_names="、".join(f["original_name"] for f in view["files"]) or "（无视频文件）",
        outcome_label=OUTCOME_LABELS[outcome], problems=problems, advice=ADVICE[outcome])


RECEIPT_CLOSING = {
    Outcome.ACCEPTED: "作品已登记，请等待初步筛选结果。",
    Outcome.NEEDS_REVIEW: "作品已登记，上述情况将由工作人员核实；如需补充或更正，请按提示办理。",
    Outcome.REJECTED: "作品不符合征集要求，请按上述提示修改后重新报送。",
}
# For a check recorded without advice (before checks carried it): never the reviewer's message.
FALLBACK_ADVICE = {Status.WARN: "工作人员将核实这一情况，暂不需要处理。", Status.FAIL: "不符合征集要求，请修改后重新报送。"}


def receipt_items(view: dict[str, Any]) -> list[str]:
    """What the submitter is told, one line per problem: the advice, after the file's name for a file's check."""
    files = view["files"]
    items: list[str] = []
    for check in view["checks"]:
        status = Status(check["status"])
        if status is Status.PASS:
            continue
        advice = check.get("advice") or f"{check_label(check['id'])}：{FALLBACK_ADVICE[status]}"
        position = check.get("file")
        if position is not None and 0 <= position < len(files) and len(files) > 1:
            advice = f"{files[position]['original_name']}：{advice}"
        if advice not in items:
            items.append(advice)
    return items


def render_receipt(view: dict[str, Any], contact_line: str = "") -> str:
    """The receipt's body: the outcome, the advice of every check that did not pass, and ``contact_line`` last."""
    outcome = Outcome(view["outcome"])
    return ENV.get_template("receipt.txt.j2").render(
        title=view.get("title") or "（未注明）", received=view["received_at"][:16].replace("T", " "),
        file_names="、".join(f["original_name"] for f in view["files"]) or _no_files(view),
        outcome_label=OUTCOME_LABELS[outcome], items=receipt_items(view), closing=RECEIPT_CLOSING[outcome],
        contact_line=contact_line.strip())


def _no_files(view: dict[str, Any]) -> str:
    """What the receipt says in place of the file list when no file was recorded."""
    ids = {c["id"] for c in view["checks"]}
    if "large_attachment_link" in ids:
        return "（以“超大附件”下载链接发送）"
    if "processing_error" in ids:
        return "（附件处理出错，工作人员将核实）"
    return "（未收到视频文件）"


def owner_line(submission_id: int) -> str:
    """The note's line that names its submission, as the template writes it."""
    return f"登记编号：#{submission_id}\r\n"


def note_owner(path: Path) -> int | None:
    """The submission a result note was written for (its 登记编号), or None: no note, or not one of ours."""
    try:
        with open(path, "rb") as fh:
            text = fh.read(NOTE_READ_CAP).decode("utf-8-sig", "replace")
    except OSError:
        return None
    found = OWNER_LINE.search(text)
    return int(found[1]) if found else None


def write_result_note(path: Path, view: dict[str, Any], updated: str | None = None) -> Path:
    """Write atomically, UTF-8 with BOM and CRLF, so Windows Notepad shows it right."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render_result_note(view, updated).replace("\r\n", "\n").replace("\n", "\r\n")
    # A short temp name: the note's own name may already use the whole 255 bytes a name may have.
    temp = path.with_name(f".{uuid.uuid4().hex[:12]}.note.part")
    temp.write_bytes(text.encode("utf-8-sig"))
    os.replace(temp, path)
    return path
