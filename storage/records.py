"""What the database records and what it reads back, as storage defines them: plain frozen values.

Going in, outcomes are already derived by the caller (storage knows nothing of tasks or validators); coming
out, every read returns these records (``Stored*``), never a row still tied to its session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.filestore import StoredBlob

# The most digits a record's id (a database integer) is read with from outside, on the desk and the command
# line: a longer number names nothing (SQLite overflows past 2**63).
ID_DIGITS = 10


@dataclass(frozen=True)
class CheckRow:
    """One check's verdict as stored; ``status`` is 'pass', 'warn' or 'fail'."""

    check_id: str
    status: str
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FileRecord:
    """One file of a submission; ``blob`` is None for a file never stored (too large, not downloaded). A repaired
    file's ``blob`` is the file judged, ``original`` the content as it arrived, ``repair`` 'remux' or 'shrink'."""

    original_name: str
    size_bytes: int
    outcome: str
    blob: StoredBlob | None = None
    container: str | None = None
    duration_seconds: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    checks: tuple[CheckRow, ...] = ()
    original: StoredBlob | None = None
    repair: str | None = None


@dataclass(frozen=True)
class SubmissionRecord:
    """One submission with its own checks and its files; ``source`` is 'cli', 'folder', 'mail' or 'attach'."""

    source: str
    received_at: datetime
    outcome: str
    source_ref: str | None = None
    unit: str | None = None
    unit_raw: str | None = None
    contact: str | None = None
    phone: str | None = None
    title: str | None = None
    title_source: str | None = None   # where the title came from: 'given', 'file_name' or 'subject'
    subject: str | None = None
    speaker: str | None = None
    topic: str | None = None
    actor: str | None = None
    message_key: str | None = None
    sender: str | None = None
    body_text: str | None = None
    checks: tuple[CheckRow, ...] = ()
    files: tuple[FileRecord, ...] = ()


@dataclass(frozen=True)
class FileRepair:
    """A file repaired in a check run (a remux that failed before, tried again): it becomes ``blob``, made from
    ``original`` (what is stored now, kept as evidence); ``repair`` says what was done ('remux')."""

    blob: StoredBlob
    original: StoredBlob
    repair: str


@dataclass(frozen=True)
class FileRun:
    """A file's results in a new check run; ``media`` holds what the file was found to be
    (container, duration_seconds, codecs, width, height), or None to keep what is stored; ``repaired``, what the
    file became in this run, if it was repaired."""

    position: int
    checks: tuple[CheckRow, ...]
    media: dict[str, Any] | None = None
    repaired: FileRepair | None = None


@dataclass(frozen=True)
class CheckRun:
    """A newer set of results for a recorded submission (a recheck, an edit): it becomes the one shown; a file
    missing from ``files`` (added meanwhile) keeps its results."""

    checks: tuple[CheckRow, ...]
    files: tuple[FileRun, ...] = ()


@dataclass(frozen=True)
class SchemaChange:
    """One creation or upgrade of the schema: from which revision (None: a new database) to which, and how it
    came about ('automatic': a command opening the database; 'intake migrate'); when and by whom if recorded."""

    before: str | None
    after: str
    how: str = "automatic"
    at: datetime | None = None
    by: str | None = None


@dataclass(frozen=True)
class StoredCheck:
    """One check's verdict in the latest run of a recorded submission; ``media_file_id`` names the file it judged
    (None: the submission's own check), ``id`` the row (what ``add_files(settle=...)`` replaces)."""

    id: int
    submission_id: int
    media_file_id: int | None
    check_id: str
    status: str
    code: str
    message: str
    details: dict[str, Any]
    run: int


@dataclass(frozen=True)
class StoredContent:
    """One content in the file store: its SHA-256, its size and where it lies (relative to storage.root)."""

    sha256: str
    size_bytes: int
    stored_path: str


@dataclass(frozen=True)
class StoredFile:
    """One file of a recorded submission, ``position`` from 0; ``sha256`` is None for a file never stored. For a
    repaired file, as in ``FileRecord``, ``original`` is the content as it arrived."""

    id: int
    submission_id: int
    position: int
    original_name: str
    sha256: str | None
    size_bytes: int
    outcome: str
    container: str | None = None
    duration_seconds: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    original_sha256: str | None = None
    repair: str | None = None
    original: StoredContent | None = None
    stored_path: str | None = None


@dataclass(frozen=True)
class StoredSubmission:
    """A recorded submission with its files (by position) and the checks of its latest run (``check_run``)."""

    id: int
    source: str
    source_ref: str | None
    received_at: datetime
    recorded_at: datetime
    outcome: str
    unit: str | None = None
    unit_raw: str | None = None
    contact: str | None = None
    phone: str | None = None
    title: str | None = None
    title_source: str | None = None
    subject: str | None = None
    speaker: str | None = None
    topic: str | None = None
    message_key: str | None = None
    sender: str | None = None
    body_text: str | None = None
    check_run: int = 1
    files: tuple[StoredFile, ...] = ()
    checks: tuple[StoredCheck, ...] = ()


@dataclass(frozen=True)
class StoredEvent:
    """One entry of the audit trail: what happened (``kind``, ``data``), when, by whom, to which submission
    (None: to none, such as a switch)."""

    id: int
    at: datetime
    submission_id: int | None
    kind: str
    actor: str
    data: dict[str, Any]


@dataclass(frozen=True)
class StoredDecision:
    """A reviewer's decision on a submission; ``forced``: shortlisted over a warning, ``reasons`` what was
    overridden."""

    submission_id: int
    decision: str
    note: str | None
    reviewer: str
    at: datetime
    forced: bool = False
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredAccount:
    """An account of the screening desk; the password only as its KDF hash."""

    id: int
    name: str
    role: str
    password_hash: str
    created_at: datetime


@dataclass(frozen=True)
class FailingItem:
    """An item (a mail, a dropped file) whose processing failed: how often, when to try next, and why."""

    source_ref: str
    attempts: int
    next_at: datetime
    last_error: str


@dataclass(frozen=True)
class JudgeScores:
    """What one judge gave one submission: a value per criterion, a comment, and when it was saved."""

    submission_id: int
    judge: str
    values: dict[str, float]
    comment: str | None
    scored_at: datetime


@dataclass(frozen=True)
class LoginTry:
    """A desk login try that may go on (``id`` set) or was refused (``id`` None, ``wait_seconds`` until one may);
    the counts of the window include this try."""

    id: int | None
    wait_seconds: float
    account_tries: int
    address_tries: int
    locked: str | None = None   # refused: 'account' or 'address'
