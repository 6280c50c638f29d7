"""The short Chinese result note written beside each processed file in done/."""

from __future__ import annotations

import os
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


def render_result_note(view: dict[str, Any]) -> str:
    outcome = Outcome(view["outcome"])
    problems = [
        {"label": check_label(c["id"]), "status_label": STATUS_LABELS[Status(c["status"])], "message": c["message"]}
        for c in view["checks"] if c["status"] != "pass"
    ]
    return ENV.get_template("result_note.txt.j2").render(
        title="“寻找最美保密法治代言人”微视频作品处理结果",
        sub=view, received=view["received_at"][:16].replace("T", " "),
        file_names="、".join(f["original_name"] for f in view["files"]) or "（无视频文件）",
        outcome_label=OUTCOME_LABELS[outcome], problems=problems, advice=ADVICE[outcome])


def write_result_note(path: Path, view: dict[str, Any]) -> Path:
    """Write atomically, UTF-8 with BOM and CRLF, so Windows Notepad shows it right."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render_result_note(view).replace("\r\n", "\n").replace("\n", "\r\n")
    # A short temp name: the note's own name may already use the whole 255 bytes a name may have.
    temp = path.with_name(f".{uuid.uuid4().hex[:12]}.note.part")
    temp.write_bytes(text.encode("utf-8-sig"))
    os.replace(temp, path)
    return path
