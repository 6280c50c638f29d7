"""Submissions and their files (``db.submissions``): recording them, check runs and repairs, and reading them
back as ``StoredSubmission`` records (``storage/submission_reads.py``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import failpoints
from core.errors import ChangedMeanwhile, DatabaseError, DuplicateSource
from core.outcome import outcome_of_statuses
from storage.check_runs import MEDIA_FACTS, apply_check_run, apply_repair
from storage.filestore import StoredBlob
from storage.models import CheckRecord, Event, MediaFile, StoredRun, Submission
from storage.records import CheckRow, CheckRun, FileRecord, StoredFile, StoredSubmission, SubmissionRecord
from storage.submission_reads import FILES, SUBMISSIONS, read_files, read_submissions
from storage.values import check_record, insert_blob, jsonable, not_found, stored_key, stored_text
from storage.writers import Sessions, current_actor, retry_when_locked

# Called inside the recording transaction for a file (its index among the files being recorded) whose
# content an earlier submission brought, with that submission's id, unit and received_at;
# returns a check to store beside the file, or None.
OnDuplicate = Callable[[int, dict[str, Any]], "CheckRow | None"]
# Fields of a submission that files added later may fill in when they are still empty.
FILLABLE = ("speaker", "topic")
# A record's free text, stored as ``stored_text`` makes it.
TEXT_FIELDS = ("unit", "unit_raw", "contact", "phone", "title", "subject", "speaker", "topic", "sender", "body_text")


class Submissions:
    def __init__(self, session: Sessions, ensure_same_file: Callable[[], None]):
        self.session = session
        self.ensure_same_file = ensure_same_file   # before each write: see Database.ensure_same_file

    # -- writing --------------------------------------------------------------------------
    @retry_when_locked
    def add(self, record: SubmissionRecord, on_duplicate: OnDuplicate | None = None) -> int:
        """Record a submission with its files, checks and a 'recorded' event, in one transaction; return its id.

        Which submission first brought each file's content is decided inside the same transaction (an insert
        that yields to an existing row), so concurrent ingests of one file always give exactly one first holder.
        """
        self.ensure_same_file()
        try:
            with self.session() as s:
                sub = Submission(source=record.source, source_ref=record.source_ref, received_at=record.received_at,
                                 title_source=record.title_source, outcome=record.outcome,
                                 message_key=stored_key(record.message_key),
                                 **{name: stored_text(getattr(record, name)) for name in TEXT_FIELDS})
                s.add(sub)
                s.flush()
                s.add(StoredRun(submission_id=sub.id, run=1))
                files = _claim_blobs(s, sub.id, record.files, on_duplicate)
                if files != list(record.files):   # a duplicate found just now changes the outcome
                    sub.outcome = outcome_of_statuses([c.status for c in record.checks] +
                                                      [c.status for f in files for c in f.checks]).value
                for check in record.checks:
                    s.add(check_record(sub.id, None, check))
                _add_files(s, sub.id, files, start=0)
                s.add(Event(submission_id=sub.id, kind="recorded", actor=stored_text(record.actor) or current_actor(),
                            data=jsonable({"source": record.source, "source_ref": record.source_ref,
                                           "outcome": sub.outcome})))
                s.flush()
                failpoints.reached("before_commit")   # crash tests: everything written, nothing committed
                return sub.id
        except IntegrityError as exc:
            if record.source_ref is not None:
                existing = self.id_for_ref(record.source_ref)
                if existing is not None:
                    raise DuplicateSource(existing) from exc
            raise DatabaseError(f"写入数据库时违反约束：{str(exc).splitlines()[0]}", "请重试；如反复出现请联系维护人员。") from exc

    @retry_when_locked
    def add_files(self, submission_id: int, files: Sequence[FileRecord], actor: str | None = None,
                  on_duplicate: OnDuplicate | None = None, *, settle: Mapping[int, CheckRow] | None = None,
                  fill: Mapping[str, str | None] | None = None) -> str:
        """Append files (with their checks) to a recorded submission; return its new outcome.

        ``settle`` replaces submission checks (by row id) that the new files answer, such as the 超大附件
        warning; ``fill`` sets fields still empty. The ``files_added`` event keeps what they replace.
        """
        self.ensure_same_file()
        with self.session() as s:
            sub = s.get(Submission, submission_id)
            if sub is None:
                raise not_found(submission_id)
            start = s.scalar(select(func.count()).select_from(MediaFile).where(
                MediaFile.submission_id == submission_id)) or 0
            _add_files(s, submission_id, _claim_blobs(s, submission_id, files, on_duplicate), start=start,
                       run=sub.check_run)
            data: dict[str, Any] = {"files": [m.original_name for m in files]}
            settled = _settle_checks(s, submission_id, settle or {})
            if settled:
                data["settled"] = settled
            filled = {name: stored_text(value) for name, value in (fill or {}).items()
                      if name in FILLABLE and value and not getattr(sub, name)}
            for name, value in filled.items():
                setattr(sub, name, value)
            if filled:
                data["filled"] = filled
            s.flush()
            statuses = set(s.scalars(select(CheckRecord.status).where(
                CheckRecord.submission_id == submission_id, CheckRecord.run == sub.check_run)))
            sub.outcome = outcome_of_statuses(statuses).value
            data["outcome"] = sub.outcome
            s.add(Event(submission_id=submission_id, kind="files_added", actor=actor or current_actor(),
                        data=jsonable(data)))
            return sub.outcome

    @retry_when_locked
    def record_check_run(self, submission_id: int, run: CheckRun | None, kind: str, data: dict[str, Any] | None = None,
                         changes: dict[str, str | None] | None = None, actor: str | None = None,
                         expected: dict[str, Any] | None = None) -> dict[str, Any]:
        """``storage.check_runs.apply_check_run`` in one transaction: returns the event's data."""
        return self._write_run(apply_check_run, submission_id, run, changes or {}, kind, data or {},
                               stored_text(actor) or current_actor(), expected)

    @retry_when_locked
    def record_repair(self, submission_id: int, position: int, blob: StoredBlob, original: StoredBlob, repair: str,
                      run: CheckRun, data: dict[str, Any], changes: dict[str, str | None] | None = None,
                      actor: str | None = None) -> dict[str, Any]:
        """``storage.check_runs.apply_repair`` in one transaction: returns the event's data."""
        return self._write_run(apply_repair, submission_id, position, blob, original, repair, run, data,
                               changes or {}, stored_text(actor) or current_actor())

    def _write_run(self, apply: Callable[..., dict[str, Any]], submission_id: int, *args) -> dict[str, Any]:
        """ChangedMeanwhile when another writer stored the run first."""
        self.ensure_same_file()
        try:
            with self.session() as s:
                return apply(s, submission_id, *args)
        except IntegrityError as exc:   # another writer stored this run number first (check_runs)
            raise ChangedMeanwhile(f"作品 #{submission_id} 同时被另一处修改（或重新检查）了，本次结果没有保存。",
                                   "请再执行一次。") from exc

    # -- reading --------------------------------------------------------------------------
    def get(self, submission_id: int) -> StoredSubmission:
        """One submission with its files and checks; NotFound (in Chinese) for an unknown id."""
        with self.session() as s:
            found = read_submissions(s, SUBMISSIONS.c.id == submission_id)
        if not found:
            raise not_found(submission_id)
        return found[0]

    def all(self, outcome: str | None = None) -> list[StoredSubmission]:
        """Every submission (with ``outcome`` if given), oldest first."""
        with self.session() as s:
            return read_submissions(s, SUBMISSIONS.c.outcome == outcome if outcome else None)

    def recent(self, limit: int, after: int = 0) -> list[StoredSubmission]:
        """The newest submissions recorded after id ``after``, newest first, at most ``limit``."""
        with self.session() as s:
            return read_submissions(s, SUBMISSIONS.c.id > after, newest_first=True, limit=limit)

    def ids(self) -> list[int]:
        with self.session() as s:
            return list(s.scalars(select(Submission.id).order_by(Submission.id)))

    def last_id(self) -> int:
        """The highest submission id recorded so far (0 when there is none)."""
        with self.session() as s:
            return s.scalar(select(func.max(Submission.id))) or 0

    def id_for_ref(self, source_ref: str) -> int | None:
        with self.session() as s:
            return s.scalar(select(Submission.id).where(Submission.source_ref == source_ref))

    def id_for_message_key(self, key: str) -> int | None:
        with self.session() as s:
            return s.scalar(select(Submission.id).where(Submission.message_key == key).order_by(Submission.id))

    def earlier_of_unit(self, unit: str, before: int | None = None) -> list[int]:
        """Ids of the unit's recorded submissions that were not rejected (they count against the quota),
        all of them or those recorded before submission ``before``."""
        with self.session() as s:
            query = select(Submission.id).where(Submission.unit == unit, Submission.outcome != "rejected")
            if before is not None:
                query = query.where(Submission.id < before)
            return list(s.scalars(query.order_by(Submission.id)))

    def later_of_unit(self, unit: str, after: int) -> list[int]:
        """Ids of the unit's submissions recorded after submission ``after`` (their quota depends on it)."""
        with self.session() as s:
            return list(s.scalars(select(Submission.id).where(Submission.unit == unit, Submission.id > after)
                                  .order_by(Submission.id)))

    def mail_without(self, kinds: Sequence[str], since_id: int = 0) -> list[int]:
        """Mail submissions after ``since_id`` with a sender and no event of ``kinds`` (receipts still to send)."""
        with self.session() as s:
            done = select(Event.submission_id).where(Event.kind.in_(list(kinds)), Event.submission_id.is_not(None))
            return list(s.scalars(select(Submission.id).where(
                Submission.source == "mail", Submission.sender.is_not(None), Submission.id > since_id,
                Submission.id.not_in(done)).order_by(Submission.id)))

    def stored_paths(self, submission_id: int) -> dict[int, str]:
        """Where each stored file of a submission lies in the store (relative to storage.root), by position."""
        with self.session() as s:
            files = read_files(s, FILES.c.submission_id == submission_id)
        return {f.position: f.stored_path for f in files if f.stored_path is not None}

    def file_hashes(self, submission_id: int) -> set[str]:
        """The SHA-256 of every stored file of a submission."""
        with self.session() as s:
            return set(s.scalars(select(MediaFile.sha256).where(
                MediaFile.submission_id == submission_id, MediaFile.sha256.is_not(None))))

    def stored_file(self, file_id: int, original: bool = False) -> tuple[StoredFile, str | None] | None:
        """A media file by its id, with where its content lies in the store (None: never stored), or None.
        ``original``: the content as it arrived, for a repaired file (None for one that was not repaired)."""
        with self.session() as s:
            found = read_files(s, FILES.c.id == file_id)
        if not found:
            return None
        media = found[0]
        content = media.original if original else media
        return media, content.stored_path if content else None

    def change_mark(self) -> tuple[int, int]:
        """(newest event id, newest submission id): every change to what submissions show writes an event, so
        views built at the same mark are still current."""
        with self.session() as s:
            return (s.scalar(select(func.max(Event.id))) or 0, s.scalar(select(func.max(Submission.id))) or 0)


def _claim_blobs(s: Session, submission_id: int, files: Sequence[FileRecord],
                 on_duplicate: OnDuplicate | None) -> list[FileRecord]:
    """Insert each file's blob row unless it exists, then ask ``on_duplicate`` about each file (the file judged,
    or a repaired file's original) that an earlier submission brought first; returns the files with its checks."""
    out = list(files)
    for index, media in enumerate(files):
        firsts = [insert_blob(s, blob, submission_id) for blob in (media.blob, media.original) if blob is not None]
        first = next((f for f in firsts if f is not None and f != submission_id), None)
        if first is not None and on_duplicate is not None:
            earlier = s.get(Submission, first)
            if earlier is not None:
                check = on_duplicate(index, {"id": earlier.id, "unit": earlier.unit,
                                             "received_at": earlier.received_at})
                if check is not None:
                    checks = media.checks + (check,)
                    outcome = outcome_of_statuses(c.status for c in checks).value
                    out[index] = replace(media, checks=checks, outcome=outcome)
    return out


def _settle_checks(s: Session, submission_id: int, settle: Mapping[int, CheckRow]) -> list[dict[str, Any]]:
    """Replace the submission's own check rows named in ``settle``; return what they said before."""
    before = []
    for row_id, check in settle.items():
        row = s.get(CheckRecord, row_id)
        if row is None or row.submission_id != submission_id or row.media_file_id is not None:
            continue
        before.append({"check_id": row.check_id, "status": row.status, "code": row.code, "message": row.message})
        row.check_id, row.status, row.code = check.check_id, check.status, check.code
        row.message, row.details = stored_text(check.message) or "", jsonable(check.details)
    return before


def _add_files(s: Session, submission_id: int, files: Sequence[FileRecord], start: int, run: int = 1) -> None:
    for position, media in enumerate(files, start=start):
        blob = media.blob
        row = MediaFile(
            submission_id=submission_id, position=position, original_name=stored_text(media.original_name) or "",
            sha256=blob.sha256 if blob else None, size_bytes=media.size_bytes, outcome=media.outcome,
            original_sha256=media.original.sha256 if media.original else None, repair=media.repair,
            **{name: getattr(media, name) for name in MEDIA_FACTS})
        s.add(row)
        s.flush()
        for check in media.checks:
            s.add(check_record(submission_id, row.id, check, run))
