"""Add a file to a recorded submission (a video downloaded from a 超大附件 link), checking it first.

Once the file is added, what waited for it is settled in the same transaction: the 超大附件 warning
(and a link's stated size over the limit, which the file's own size check now replaces) no longer
counts against the outcome, and the speaker and topic of the file's opening phrase fill a submission
that has none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from intake.mail.findings import LINK_TOO_LARGE
from intake.pipeline import (Services, duplicate_found, inspect_files, remux_near_misses, store_files,
                             take_opening_phrase)
from intake.records import record_files
from intake.task import MediaTask, Source, SubmissionTask
from validators.results import CheckResult, Status

if TYPE_CHECKING:
    from storage.models import Submission

ATTACHED = "attached"   # the code of a check settled by an attached file


@dataclass
class Attached:
    """What ``attach_file`` did: the submission's new outcome, the file's task, and what it settled."""

    outcome: str
    media: MediaTask
    settled: list[str] = field(default_factory=list)      # check ids no longer open (large_attachment_link, size)
    filled: dict[str, str] = field(default_factory=dict)  # speaker / topic taken from the file


def attach_file(services: Services, submission_id: int, path: Path, actor: str | None = None) -> Attached:
    """Store and check ``path``, append it to the submission, settle what waited for it."""
    sub = services.db.submission(submission_id)   # fails early, in Chinese, for an unknown id
    task = SubmissionTask(source=Source.ATTACH, received_at=datetime.now(timezone.utc),
                          files=[MediaTask(source_path=path, original_name=path.name)])
    for stage in (store_files, inspect_files, remux_near_misses, take_opening_phrase):
        stage(task, services)
    media = task.files[0]
    settle = settled_checks(sub, media)
    fill = {name: value for name, value in (("speaker", task.speaker), ("topic", task.topic))
            if value and not getattr(sub, name)}
    outcome = record_files(services.db, submission_id, task.files, actor=actor, on_duplicate=duplicate_found,
                           settle=settle, fill=fill)
    return Attached(outcome, media, [c.check_id for c in settle.values()], fill)


def settled_checks(sub: Submission, media: MediaTask) -> dict[int, CheckResult]:
    """The submission's open 超大附件 checks that ``media`` answers, by row id, each with what replaces it.

    A mail with several links stays open until as many files have been added as it had links.
    """
    links = [c for c in sub.checks if c.media_file_id is None and c.status != "pass"
             and c.check_id == "large_attachment_link"]
    if not links:
        return {}
    expected = max(len(c.details.get("links") or []) for c in links) or 1
    added = len(sub.files) + 1
    if added < expected:
        return {}
    names = "、".join(f"“{f.original_name}”" for f in sub.files) + ("、" if sub.files else "") + f"“{media.original_name}”"
    out = {c.id: CheckResult("large_attachment_link", Status.PASS, ATTACHED, f"“超大附件”中的视频已下载并补登：{names}。",
                             {"attached": added}) for c in links}
    for c in sub.checks:
        if c.media_file_id is None and c.check_id == "size" and c.code == LINK_TOO_LARGE:
            out[c.id] = CheckResult("size", Status.PASS, ATTACHED,
                                    "下载链接标明的大小已由补登的文件核实，以该文件的“文件大小”检查为准。")
    return out
