"""Add a file to a recorded submission (a video downloaded from a 超大附件 link), checking it first.

What waited for the file (the 超大附件 warning, a link's stated size over the limit, "no video received") is
settled in the same transaction, and its opening phrase fills a speaker and topic still empty. A work that
stops or starts being rejected frees or takes its unit's place: the quota of the unit's works is asked again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from intake.inbox.done import Refreshed, follow_outcome
from intake.mail.findings import LINK_TOO_LARGE
from intake.pipeline.services import Services
from intake.pipeline.stages import FILE_STAGES, duplicate_found
from intake.pipeline.recording import record_files
from intake.pipeline.task import MediaTask, Source, SubmissionTask
from validators.results import CheckResult, Outcome, Status

if TYPE_CHECKING:
    from intake.review.recheck import Rechecked
    from storage.records import StoredSubmission

ATTACHED = "attached"   # the code of a check settled by an attached file


@dataclass
class Attached:
    """What ``attach_file`` did: the submission's new outcome, the file's task, and what it settled."""

    outcome: str
    media: MediaTask
    settled: list[str] = field(default_factory=list)      # check ids no longer open (large_attachment_link, size)
    filled: dict[str, str] = field(default_factory=dict)  # speaker / topic taken from the file
    moved: Refreshed | None = None   # the work's file in done/, moved to the folder of its new outcome


def attach_file(services: Services, submission_id: int, path: Path, actor: str | None = None) -> Attached:
    """Store and check ``path``, append it to the submission, settle what waited for it."""
    sub = services.db.submissions.get(submission_id)   # fails early, in Chinese, for an unknown id
    task = SubmissionTask(source=Source.ATTACH, received_at=datetime.now(timezone.utc),
                          files=[MediaTask(source_path=path, original_name=path.name)])
    for stage in FILE_STAGES:
        stage(task, services)
    media = task.files[0]
    settle = settled_checks(sub, media)
    fill = {name: value for name, value in (("speaker", task.speaker), ("topic", task.topic))
            if value and not getattr(sub, name)}
    outcome = record_files(services.db, submission_id, task.files, actor=actor, on_duplicate=duplicate_found,
                           settle=settle, fill=fill)
    attached = Attached(outcome, media, [c.check_id for c in settle.values()], fill)
    if sub.unit and (sub.outcome == Outcome.REJECTED.value) != (outcome == Outcome.REJECTED.value):
        requota = _ask_quota_again(services, submission_id, actor)
        attached.outcome, attached.moved = requota.after.value, requota.moved
    # Its file in done/ (a folder submission's) follows the outcome, and its note tells of the file.
    refreshed = follow_outcome(services, submission_id, "补登文件", actor=actor)
    if refreshed is not None and refreshed.moved_from is not None:
        attached.moved = refreshed
    return attached


def _ask_quota_again(services: Services, submission_id: int, actor: str | None) -> Rechecked:
    """The work's quota (and that of its unit's later works) after it became rejected or stopped being so."""
    from intake.review.recheck import judge, record_run, requota_later, stored_task

    judged = judge(services, stored_task(services, submission_id), ["quota"])
    done = record_run(services, judged, "rechecked", {"asked": ["quota"], "cause": "attach"}, actor=actor)
    list(requota_later(services, judged.units, submission_id, {submission_id}, actor))   # each recorded by its own run
    return done


def settled_checks(sub: StoredSubmission, media: MediaTask) -> dict[int, CheckResult]:
    """The open 超大附件 checks ``media`` answers, by row id, each with what replaces it. A mail with several
    links stays open until as many files have been added as it had links."""
    links = [c for c in sub.checks if c.media_file_id is None and c.status != "pass"
             and c.check_id == "large_attachment_link"]
    if not links:
        return _no_video_settled(sub, media)
    expected = max(len(c.details.get("links") or []) for c in links) or 1
    added = len(sub.files) + 1
    if added < expected:
        return {}
    names = "、".join(f"“{f.original_name}”" for f in sub.files) + ("、" if sub.files else "") + f"“{media.original_name}”"
    out = {c.id: CheckResult("large_attachment_link", Status.PASS, ATTACHED, f"“超大附件”中的视频已下载并补登：{names}。",
                             {"attached": added}) for c in links}
    sizes = {c.id: CheckResult("size", Status.PASS, ATTACHED, "下载链接标明的大小已由补登的文件核实，以该文件的“文件大小”检查为准。")
             for c in sub.checks if c.media_file_id is None and c.check_id == "size" and c.code == LINK_TOO_LARGE}
    return out | sizes | _no_video_settled(sub, media)


def _no_video_settled(sub: StoredSubmission, media: MediaTask) -> dict[int, CheckResult]:
    """A "no video received" failure, answered by the file now added (its own checks judge it)."""
    return {c.id: CheckResult("files", Status.PASS, ATTACHED, f"已补登视频文件“{media.original_name}”。")
            for c in sub.checks if c.media_file_id is None and c.check_id == "files" and c.status != "pass"}
