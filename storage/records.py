"""What the database records, as storage defines it: plain values, outcomes already derived by the caller.

Storage knows nothing of tasks or validators. ``intake.pipeline.recording`` turns a SubmissionTask into these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.filestore import StoredBlob


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
    """One file of a submission; ``blob`` is None for a file that was never stored (too large, not downloaded).

    A repaired file's ``blob`` is the file judged; ``original`` is the content as it arrived (kept as evidence),
    and ``repair`` says what was done: 'remux' (lossless) or 'shrink' (re-encoded).
    """

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
    """A newer set of results for a recorded submission (a recheck, an edit): it becomes the one shown.

    ``checks`` are the submission's own, all of them; a file missing from ``files`` (added meanwhile)
    keeps its results as they are.
    """

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
