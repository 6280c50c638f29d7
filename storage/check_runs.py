"""Check runs: a recheck or an edit stores a newer set of results beside the earlier ones.

Each submission shows its latest run (``Submission.check_run``); the rows of earlier runs stay in
``check_results``, each run is listed once in ``check_runs`` (its primary key: one writer per run number) and
every run is announced by an event, so the history is never rewritten.

A writer reads the submission only after taking the write lock on it (``lock_submission``): the read, the
comparison with what the caller worked from and the write are one transaction, so two corrections at the
same moment are stored one after the other, never both on the same reading. ``with_for_update`` alone does
that on PostgreSQL only; SQLite's driver begins a transaction at the first write, so a read before it saw a
state another writer was about to change.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import failpoints
from core.outcome import outcome_of_statuses
from core.errors import ChangedMeanwhile
from storage.filestore import StoredBlob
from storage.models import CheckRecord, Event, MediaFile, StoredRun, Submission
from storage.records import CheckRow, CheckRun, FileRepair, StoredSubmission
from storage.values import check_record, check_row_of, insert_blob, jsonable, not_found, stored_text

EDITABLE = ("unit", "unit_raw", "contact", "phone", "title", "title_source", "speaker", "topic")
MEDIA_FACTS = ("container", "duration_seconds", "video_codec", "audio_codec", "width", "height")


def snapshot(sub: Submission | StoredSubmission) -> dict[str, Any]:
    """What a run is worked out from: the latest run's number and the editable fields, as read (from a record,
    or from the row under the write lock)."""
    return {"check_run": sub.check_run, **{name: getattr(sub, name) for name in EDITABLE}}


def version_of(sub: Submission | StoredSubmission) -> str:
    """A short digest of ``snapshot(sub)``: what a form carries to say which state of the submission it shows."""
    raw = json.dumps(snapshot(sub), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def lock_submission(s: Session, submission_id: int) -> Submission:
    """The submission, read once this transaction holds the write lock on it (NotFound for an unknown id).

    The first statement writes (the run number, unchanged): SQLite takes its database write lock there, before
    anything is read, and PostgreSQL locks the row; a writer arriving meanwhile waits for this one to commit."""
    locked = s.execute(update(Submission).where(Submission.id == submission_id)
                       .values(check_run=Submission.check_run).execution_options(synchronize_session=False))
    if locked.rowcount != 1:
        raise not_found(submission_id)
    return s.get(Submission, submission_id, populate_existing=True)


def apply_check_run(s: Session, submission_id: int, run: CheckRun | None, changes: dict[str, str | None],
                    kind: str, data: dict[str, Any], actor: str,
                    expected: dict[str, Any] | None = None) -> dict[str, Any]:
    """Apply ``changes`` (``EDITABLE`` fields), store ``run`` as the latest results (None: they stay) and append
    a ``kind`` event with ``changes`` ({field: {old, new}}, the changed ones) and, for a run, its number, the
    outcome before and after and the new results. Returns the event's data.

    ``expected`` (a ``snapshot`` taken when the submission was read) guards a slow recheck against an
    edit made meanwhile: if the submission no longer reads so, nothing is written (ChangedMeanwhile).
    """
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    sub = lock_submission(s, submission_id)
    failpoints.reached("check_run_locked")   # tests: a writer that holds the lock while another arrives
    if expected is not None and snapshot(sub) != expected:
        raise ChangedMeanwhile(f"作品 #{submission_id} 在处理期间被修改（或重新检查）了，本次结果没有保存。",
                               "请再执行一次。")
    record = dict(data)
    changed = {}
    for name, value in changes.items():
        value = stored_text(value)
        if getattr(sub, name) != value:
            changed[name] = {"old": getattr(sub, name), "new": value}
            setattr(sub, name, value)
    if changes:
        record["changes"] = changed
    if run is not None:
        before = sub.outcome
        repaired = [_repoint(s, sub.id, f.position, f.repaired) for f in run.files if f.repaired is not None]
        repaired = [change for change in repaired if change is not None]   # a file that is not there is skipped
        s.flush()
        if repaired:
            record["repaired"] = repaired
        record["checks"] = _store_run(s, sub, run)
        record.update(run=sub.check_run, outcome={"old": before, "new": sub.outcome})
    s.add(Event(submission_id=submission_id, kind=kind, actor=actor, data=jsonable(record)))
    return record


def apply_repair(s: Session, submission_id: int, position: int, blob: StoredBlob, original: StoredBlob, repair: str,
                 run: CheckRun, data: dict[str, Any], changes: dict[str, str | None], actor: str) -> dict[str, Any]:
    """File ``position`` becomes ``blob`` (made from ``original``, kept) and ``run`` the latest results, with a
    ``fixed`` event that keeps what the file was before. Returns the event's data."""
    lock_submission(s, submission_id)   # before the file is read: see the module's docstring
    change = _repoint(s, submission_id, position, FileRepair(blob, original, repair))
    if change is None:
        raise not_found(submission_id)
    s.flush()
    data = {**data, "file": position, "repair": repair, "before": change["before"],
            "original": {"sha256": original.sha256, "size_bytes": original.size_bytes}, "new": change["new"]}
    return apply_check_run(s, submission_id, run, changes, "fixed", data, actor)


def _repoint(s: Session, submission_id: int, position: int, fix: FileRepair) -> dict[str, Any] | None:
    """File ``position`` becomes ``fix.blob`` (the content it had is kept as its original); returns what
    changed, for the event (None: there is no such file)."""
    media = s.scalar(select(MediaFile).where(MediaFile.submission_id == submission_id,
                                             MediaFile.position == position))
    if media is None:
        return None
    for blob in (fix.original, fix.blob):
        insert_blob(s, blob, submission_id)
    change = {"file": position, "repair": fix.repair,
              "before": {"sha256": media.sha256, "size_bytes": media.size_bytes},
              "new": {"sha256": fix.blob.sha256, "size_bytes": fix.blob.size_bytes}}
    media.sha256, media.size_bytes = fix.blob.sha256, fix.blob.size_bytes
    media.original_sha256, media.repair = fix.original.sha256, fix.repair
    return change


def _store_run(s: Session, sub: Submission, run: CheckRun) -> list[dict[str, Any]]:
    """Write ``run`` as run number ``check_run + 1`` and derive the outcomes; returns the new results as data."""
    number = sub.check_run + 1
    s.add(StoredRun(submission_id=sub.id, run=number))
    s.flush()   # a second writer of the same number stops here (IntegrityError), before any result is added
    current = list(s.scalars(select(CheckRecord).where(
        CheckRecord.submission_id == sub.id, CheckRecord.run == sub.check_run).order_by(CheckRecord.id)))
    files = list(s.scalars(select(MediaFile).where(MediaFile.submission_id == sub.id).order_by(MediaFile.position)))
    given = {f.position: f for f in run.files}
    shown: list[dict[str, Any]] = []
    statuses: list[str] = []

    def add(media: MediaFile | None, checks: tuple[CheckRow, ...] | list[CheckRow]) -> None:
        for check in checks:
            s.add(check_record(sub.id, media.id if media else None, check, number))
            statuses.append(check.status)
            shown.append({"id": check.check_id, "status": check.status, "code": check.code, "message": check.message,
                          "file": media.position if media else None})

    add(None, run.checks)
    for media in files:
        found = given.get(media.position)
        if found is None:   # added since the caller read the submission: its results stay as they are
            checks = [check_row_of(c) for c in current if c.media_file_id == media.id]
        else:
            checks = list(found.checks)
            for name in MEDIA_FACTS if found.media is not None else ():
                setattr(media, name, found.media.get(name))
        add(media, checks)
        media.outcome = outcome_of_statuses(c.status for c in checks).value
    sub.outcome = outcome_of_statuses(statuses).value
    sub.check_run = number
    return shown
