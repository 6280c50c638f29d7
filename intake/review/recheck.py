"""A recorded submission judged again, with the config now in force (``intake recheck``, and what an edit asks).

What the stored record can answer is asked again: the contact details, the unit (matched from ``unit_raw``), the
deadline, the quota (among the unit's works recorded before it) and, unless ``media`` is False, each stored
file's media checks. The opening-phrase and sensitive-content results stay unless ``content`` is True (they run
OCR, and the texts that came beside a file were not kept), or unless the frame scan is on and the file's picture
was never scanned whole. What it cannot answer (a mail's findings and text, a zip's archive check, a duplicate,
a processing error) stays as it was.

Each recheck stores a new check run announced by a ``rechecked`` event. A change of unit, or between rejected
and not, asks the quota of the unit's later works again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from core.errors import ChangedMeanwhile
from core.numbers import size_text
from intake.inbox.done import Refreshed, follow_outcome
from intake.pipeline.services import Services
from intake.pipeline.stages import SUBMISSION_CHECKS, take_opening_phrase
from intake.pipeline.recording import check_row
from intake.pipeline.repair import needs_remux, remux_file
from intake.pipeline.task import MediaTask, Source, SubmissionTask
from storage.check_runs import snapshot
from storage.filestore import StoredBlob
from storage.records import CheckRun, FileRepair, FileRun, StoredSubmission
from validators.checks import REPAIR_CODES, check_size
from validators.examine import examine_file
from validators.results import CheckResult, Outcome, Status, warned

# What a recheck asks again of the submission itself (the mail's own text keeps the result it was recorded with).
ASKABLE = frozenset(SUBMISSION_CHECKS) - {"sensitive_content"}
MEDIA_CHECKS = frozenset({"size", "container", "streams", "duration", "integrity"})
CONTENT_CHECKS = frozenset({"opening_phrase", "sensitive_content"})
REASONS = {"rechecked": "重新检查", "edited": "修改信息"}   # what a note rewritten after a run says happened
MAX_REREADS = 3   # a submission edited while it was being rechecked is read again, at most this often


@dataclass
class Rechecked:
    """One submission judged again: its outcome before and after, and the results that are new or changed."""

    submission_id: int
    before: Outcome
    after: Outcome
    changed: list[dict[str, Any]] = field(default_factory=list)   # as the event holds them: id, status, ...
    cause: int | None = None   # the submission whose change asked this one's quota again
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)   # edited fields: {old, new}
    moved: Refreshed | None = None   # its file in done/, moved to the folder of a new outcome (or None)


@dataclass
class Judged:
    """A stored submission as a task, judged again; ``run`` is what to store (None: nothing was asked)."""

    sub: StoredSubmission
    task: SubmissionTask
    positions: list[int]
    run: CheckRun | None = None

    @property
    def units(self) -> set[str]:
        """The units whose later works' quota may have changed: the unit before and after."""
        return {u for u in (self.sub.unit, self.task.unit) if u}

    def rejected_changed(self) -> bool:
        return (self.sub.outcome == Outcome.REJECTED.value) != self.task.rejected


def stored_task(services: Services, submission_id: int) -> Judged:
    """The recorded submission (NotFound for an unknown id) as a task: its fields, its latest results as
    checks, and its stored files ready to be looked at again."""
    sub = services.db.submissions.get(submission_id)
    paths = services.db.submissions.stored_paths(submission_id)
    task = SubmissionTask(
        source=Source(sub.source), received_at=sub.received_at, source_ref=sub.source_ref, unit=sub.unit,
        unit_raw=sub.unit_raw, contact=sub.contact, phone=sub.phone, title=sub.title, subject=sub.subject,
        speaker=sub.speaker, topic=sub.topic, message_key=sub.message_key, sender=sub.sender, submission_id=sub.id)
    task.checks = [_result(c) for c in sub.checks if c.media_file_id is None]
    for stored in sub.files:
        blob = (StoredBlob(stored.sha256, stored.size_bytes, paths[stored.position], already_present=True)
                if stored.sha256 and stored.position in paths else None)
        original = (StoredBlob(stored.original.sha256, stored.original.size_bytes, stored.original.stored_path,
                               already_present=True) if stored.original else None)
        task.files.append(MediaTask(source_path=None, original_name=stored.original_name, size_bytes=stored.size_bytes,
                                    blob=blob, extra_checks=[_result(c) for c in sub.checks
                                                             if c.media_file_id == stored.id],
                                    original=original, repair=stored.repair))
    return Judged(sub, task, [f.position for f in sub.files])


def look_again(services: Services, judged: Judged, content: bool = False) -> dict[int, MediaTask]:
    """Each stored file looked at again (media checks, and content checks if ``content``), by position."""
    for item in judged.task.files:
        _look_again(item, services, content)
    return dict(zip(judged.positions, judged.task.files))


def judge(services: Services, judged: Judged, asked: Iterable[str], media: bool = False,
          content: bool = False, looked: dict[int, MediaTask] | None = None) -> Judged:
    """Ask the submission checks in ``asked`` again (and the media checks if ``media``), in the pipeline's
    order; ``judged.run`` becomes the results to store. ``looked`` hands in files already looked at again
    (``look_again``) for a submission read anew: a file added since keeps its results."""
    task, asked = judged.task, set(asked) & ASKABLE
    if media and looked is None:
        looked = look_again(services, judged, content)
    if looked is not None:
        task.files = [looked.get(position, item) for position, item in zip(judged.positions, task.files)]
        take_opening_phrase(task, services)   # fills a speaker or topic still empty, never one a reviewer set
    if "contact_info" in asked:
        asked.add("unit")   # the contact check reads the unit as written: the unit is matched again after it
    task.checks = [c for c in task.checks if c.check_id not in asked]
    if "unit" in asked:
        task.unit = task.unit_raw if task.unit_raw is not None else task.unit
    for check_id, stage in SUBMISSION_CHECKS.items():
        if check_id in asked:
            stage(task, services)   # the quota counts only the works recorded before this one
    files = tuple(FileRun(position, tuple(check_row(c) for c in item.checks), item.media() if item.report else None,
                          _repaired_now(judged, position, item))
                  for position, item in zip(judged.positions, task.files)
                  if position in looked) if looked is not None else ()
    judged.run = CheckRun(checks=tuple(check_row(c) for c in task.checks), files=files)
    return judged


def recheck(services: Services, submission_ids: list[int] | None, media: bool = True, content: bool = False,
            actor: str | None = None) -> Iterator[Rechecked]:
    """Judge the submissions (None: all of them) again, oldest first, and record each new run; yields what
    each recheck found, and each later work whose quota changed as a consequence."""
    db = services.db
    ids = sorted(set(submission_ids)) if submission_ids is not None else db.submissions.ids()
    for submission_id in ids:
        db.submissions.get(submission_id)   # an unknown number stops everything before any work
    asked = sorted(ASKABLE)
    data = {"asked": asked, "media": media, "content": content,
            "deadline": services.config.contest.deadline.isoformat()}
    for submission_id in ids:
        judged = stored_task(services, submission_id)
        looked = look_again(services, judged, content) if media else None   # the slow part: done once
        for attempt in range(MAX_REREADS):
            if attempt:   # an edit (or another recheck) came in meanwhile: judge what it left
                judged = stored_task(services, submission_id)
            judge(services, judged, asked, looked=looked)
            task = judged.task   # the unit as matched now; a speaker or topic the opening phrase gave where none was
            changes = {name: getattr(task, name) for name in ("unit", "unit_raw", "speaker", "topic")}
            try:
                done = record_run(services, judged, "rechecked", data, changes=changes, actor=actor)
                break
            except ChangedMeanwhile:
                if attempt == MAX_REREADS - 1:
                    raise
        yield done
        if judged.rejected_changed() or judged.sub.unit != judged.task.unit:
            yield from requota_later(services, judged.units, submission_id, set(ids), actor)


def record_run(services: Services, judged: Judged, kind: str, data: dict[str, Any],
               changes: dict[str, str | None] | None = None, actor: str | None = None) -> Rechecked:
    """Store ``judged.run`` (and ``changes`` to the fields) with a ``kind`` event; say what changed."""
    earlier = _shown(judged.sub)
    record = services.db.submissions.record_check_run(judged.sub.id, judged.run, kind, data, changes=changes,
                                                      actor=actor, expected=snapshot(judged.sub))
    new = record.get("checks", [])
    outcome = record.get("outcome", {"old": judged.sub.outcome, "new": judged.sub.outcome})
    # Its file in done/ and the note beside it say what the record says now.
    refreshed = follow_outcome(services, judged.sub.id, _reason(kind, data), actor=actor)
    return Rechecked(judged.sub.id, Outcome(outcome["old"]), Outcome(outcome["new"]),
                     [c for c in new if _key(c) not in earlier], cause=data.get("cause"),
                     changes=record.get("changes", {}),
                     moved=refreshed if refreshed and refreshed.moved_from else None)


def _reason(kind: str, data: dict[str, Any]) -> str:
    """What a note written again after this run says happened."""
    cause = data.get("cause")
    if cause == "attach":
        return "补登文件"
    if isinstance(cause, int):
        return f"因作品 #{cause} 的变化重新核对名额"
    return REASONS.get(kind, kind)


def requota_later(services: Services, units: set[str], after: int, skip: set[int],
                  actor: str | None = None) -> Iterator[Rechecked]:
    """Ask the quota of the units' works recorded after ``after`` again; record it where it changed."""
    later = sorted({i for unit in units for i in services.db.submissions.later_of_unit(unit, after)} - skip)
    for submission_id in later:
        stored = stored_task(services, submission_id)
        before = [check_row(c) for c in stored.task.checks]
        judged = judge(services, stored, ["quota"])
        if list(judged.run.checks) == before:
            continue   # its quota reads as before
        yield record_run(services, judged, "rechecked", {"asked": ["quota"], "cause": after}, actor=actor)


def _look_again(item: MediaTask, services: Services, content: bool) -> None:
    """Replace a file's media checks by a new look at its stored copy; keep what cannot be asked again."""
    rules = services.config.rules
    earlier = item.extra_checks
    kept = [c for c in earlier if c.check_id not in MEDIA_CHECKS | CONTENT_CHECKS]
    earlier_content = [c for c in earlier if c.check_id in CONTENT_CHECKS]
    if item.blob is None:   # what was read of it where it arrived (the secrecy scan) stays
        item.extra_checks = [_size_of_unstored(item.size_bytes, rules)] + earlier_content + kept
        return
    ask_content = content or (rules.sensitive.scan and not whole_scan(earlier_content))
    path = services.store.path_of(item.blob.relative_path)
    try:
        damage = _damage(path, item.blob)
        if damage is None:
            item.report = examine_file(path, rules, deep=services.deep, name=item.original_name, content=ask_content)
        code, found = "stored_file_damaged", f"文件库中这个文件的存档{damage}"
    except OSError as exc:
        damage, code, found = exc, "stored_file_missing", f"文件库中找不到这个文件的存档（{exc.strerror or exc}）"
    if damage is not None:   # the store's fault, not the submitter's: the earlier results stand
        item.extra_checks = [c for c in earlier if c.code not in ("stored_file_missing", "stored_file_damaged")] + [
            warned("integrity", code, f"{found}，无法重新检查，保留此前的检查结果。请检查文件库（storage.root）。",
                   advice="主办方正在核对已收到的文件，暂不需要处理；如需重新发送，会另行通知。",
                   path=item.blob.relative_path)]
        return
    item.extra_checks = ([] if ask_content else earlier_content) + kept
    # The file judged is a repaired one: what was done to it stays said where its check passes again.
    repairs = {c.check_id: c for c in earlier if c.code in REPAIR_CODES}
    item.report.checks = [repairs.get(c.check_id, c) if c.status is Status.PASS else c for c in item.report.checks]
    if rules.repair.remux and needs_remux(item):
        remux_file(item, services)   # one that failed before (our disk was full, say) is tried again


def _repaired_now(judged: Judged, position: int, item: MediaTask) -> FileRepair | None:
    """What the file became if this recheck repaired it (its content is no longer the one stored)."""
    stored = next(f for f in judged.sub.files if f.position == position)
    if item.repair and item.blob is not None and item.original is not None and item.blob.sha256 != stored.sha256:
        return FileRepair(item.blob, item.original, item.repair)
    return None


def whole_scan(content: list[CheckResult]) -> bool:
    """Whether the content results include a secrecy scan that read the picture. Where the scan is on, a file
    without one (recorded before the whole video was scanned, rejected by another check then, or with the scan
    switched off) is read again by any recheck."""
    return any(c.check_id == "sensitive_content" and "scanned_seconds" in c.details and c.code != "not_scanned"
               for c in content)


def _damage(path, blob: StoredBlob) -> str | None:
    """How the stored copy differs from what was recorded (size, then SHA-256), or None if it is intact."""
    size = path.stat().st_size
    if size != blob.size_bytes:
        return f"与登记时不一致（现为 {size_text(size)}，登记时为 {size_text(blob.size_bytes)}）"
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256")
    if digest.hexdigest() != blob.sha256:
        return "内容与登记时不一致（SHA-256 不符）"
    return None


def _size_of_unstored(size: int, rules) -> CheckResult:
    check = check_size(size, rules)
    if check.status is Status.FAIL:
        return check
    return warned("size", "not_stored",
                  f"文件大小 {size_text(size)}，收到时超过当时的大小上限，没有保存，无法检查其内容。"
                  "请取得原文件后用 intake attach 补登。",
                  advice=f"视频文件（{size_text(size)}）收到时超过大小上限，没有保存。请重新发送视频文件。",
                  size_bytes=size)


def _result(record) -> CheckResult:
    details = dict(record.details or {})
    return CheckResult(record.check_id, Status(record.status), record.code, record.message, details,
                       advice=details.get("advice", ""))


def _shown(sub: StoredSubmission) -> set[tuple]:
    positions = {f.id: f.position for f in sub.files}
    return {(positions.get(c.media_file_id), c.check_id, c.status, c.code, c.message) for c in sub.checks}


def _key(check: dict[str, Any]) -> tuple:
    return (check["file"], check["id"], check["status"], check["code"], check["message"])
