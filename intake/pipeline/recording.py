"""A SubmissionTask as storage records it (plain values, outcomes already derived), and the two ways of
recording: a whole submission, or files added to a recorded one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from core.textsafe import clean_text
from intake.pipeline.task import MediaTask, Source, SubmissionTask
from storage.records import CheckRow, FileRecord, SubmissionRecord
from validators.results import CheckResult

if TYPE_CHECKING:  # the database pulls in SQLAlchemy
    from storage.database import Database
    from storage.submissions import OnDuplicate

# The mail body as kept for the desk: enough for any real covering letter, not a megabyte per mail.
MAX_BODY_CHARS = 20_000
# Adds a check to a file whose content an earlier submission ({id, unit, received_at}) brought.
DuplicateFound = Callable[[MediaTask, dict], None]


def check_row(check: CheckResult) -> CheckRow:
    """The check as stored; its advice to the submitter rides in the details (``details["advice"]``)."""
    details = {**check.details, "advice": check.advice} if check.advice else dict(check.details)
    return CheckRow(check.check_id, check.status.value, check.code, check.message, details)


def file_record(media: MediaTask) -> FileRecord:
    summary = media.media()   # the JSON of `intake validate --json`, which may gain fields: only these are stored
    stored = {f: summary.get(f) for f in ("container", "duration_seconds", "video_codec", "audio_codec", "width",
                                          "height")}
    return FileRecord(original_name=media.original_name, size_bytes=media.size_bytes, outcome=media.outcome.value,
                      blob=media.blob, **stored,
                      checks=tuple(check_row(c) for c in media.checks), original=media.original, repair=media.repair)


def record_of(task: SubmissionTask) -> SubmissionRecord:
    fields = ("received_at", "source_ref", "unit", "unit_raw", "contact", "phone", "title", "title_source", "subject",
              "speaker", "topic", "actor", "message_key", "sender")
    return SubmissionRecord(source=Source(task.source).value, outcome=task.outcome.value,
                            body_text=kept_body(task.body_text), checks=tuple(check_row(c) for c in task.checks),
                            files=tuple(file_record(m) for m in task.files), **{f: getattr(task, f) for f in fields})


def kept_body(text: str | None) -> str | None:
    """The mail body as stored: its line breaks as plain newlines (a mail's are CRLF), cut to ``MAX_BODY_CHARS``."""
    return clean_text(text.replace("\r\n", "\n").replace("\r", "\n"), MAX_BODY_CHARS) if text else None


def record_submission(db: Database, task: SubmissionTask, on_duplicate: DuplicateFound | None = None) -> int:
    """Record ``task`` in one transaction and return its id (DuplicateSource if its source_ref is recorded)."""
    record = record_of(task)
    return db.submissions.add(record, on_duplicate=_rows_of(task.files, record.files, on_duplicate))


def record_files(db: Database, submission_id: int, files: Sequence[MediaTask], actor: str | None = None,
                 on_duplicate: DuplicateFound | None = None, settle: Mapping[int, CheckResult] | None = None,
                 fill: Mapping[str, str | None] | None = None) -> str:
    """Append ``files`` to a recorded submission, settle its checks they answer, ``fill`` its empty speaker and
    topic; return its new outcome ('accepted', ...)."""
    records = tuple(file_record(m) for m in files)
    return db.submissions.add_files(submission_id, records, actor=actor,
                                    on_duplicate=_rows_of(files, records, on_duplicate),
                                    settle={row_id: check_row(c) for row_id, c in (settle or {}).items()}, fill=fill)


def _rows_of(files: Sequence[MediaTask], records: Sequence[FileRecord],
             on_duplicate: DuplicateFound | None) -> OnDuplicate | None:
    """What the database calls for a duplicate: the check ``on_duplicate`` added to the file, as a row. A retried
    transaction (a locked SQLite file) finds the check already on the file and gets the same row."""
    if on_duplicate is None:
        return None

    def added(index: int, earlier: dict) -> CheckRow | None:
        media = files[index]
        on_duplicate(media, earlier)
        new = [row for row in map(check_row, media.checks) if row not in records[index].checks]
        return new[-1] if new else None

    return added
