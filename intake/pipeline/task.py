"""The task objects that carry a submission through the pipeline. Stages read and add to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.names import stem_of
from core.textsafe import one_line
from storage.filestore import FileStore, Progress, StoredBlob
from validators.opened import OpenedFile
from validators.examine import FileReport
from validators.results import CheckResult, Outcome, Status, outcome_of



class TitleSource(StrEnum):
    """Where a work's title (作品名) came from; blind review shows a title only when it was given as one."""

    GIVEN = "given"            # a sidecar's or the mail's 作品名, ``intake ingest --title``, a correction
    FILE_NAME = "file_name"    # a file's or a download link's name (or what is left of it after unit, contact, phone)
    SUBJECT = "subject"        # the mail subject: nothing else named the work


@dataclass(frozen=True)
class LargeAttachmentLink:
    """A 超大附件 download link a mail gives instead of its video (found by intake.mail.links)."""

    url: str
    name: str | None
    size: str | None              # as the mail states it: 80.96M
    expires: datetime | None
    size_bytes: int | None = None  # the stated size in bytes (M = MiB, as the mail services count)

    def as_json(self) -> dict:
        return {"url": self.url, "name": self.name, "size": self.size, "size_bytes": self.size_bytes,
                "expires": self.expires.isoformat() if self.expires else None}


class Source(StrEnum):
    """Where a submission came from; the values are what the database stores."""

    CLI = "cli"          # intake ingest
    FOLDER = "folder"    # the inbox folder
    MAIL = "mail"        # the mailbox
    ATTACH = "attach"    # intake attach: files added to a recorded submission


@dataclass
class MediaTask:
    """One file of a submission."""

    source_path: Path | None      # None: not downloaded (an oversized mail attachment)
    original_name: str
    size_bytes: int = 0
    blob: StoredBlob | None = None
    report: FileReport | None = None
    extra_checks: list[CheckResult] = field(default_factory=list)
    transcripts: list[tuple[str, bytes]] = field(default_factory=list)   # subtitles / texts that came with it
    unpack_to: Path | None = None  # a zip: the unpack_archives stage puts the videos inside it in its place
    # A repaired file (intake.pipeline.repair, intake.review.fix): ``blob`` and ``report`` are then the MP4 judged, ``original``
    # the content as it arrived (kept as evidence), ``repair`` what was done: 'remux' or 'shrink'.
    original: StoredBlob | None = None
    repair: str | None = None

    @property
    def checks(self) -> list[CheckResult]:
        return (self.report.checks if self.report else []) + self.extra_checks

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.checks)

    def source_size(self) -> int:
        """The size of the file where it arrived (``size_bytes`` as known for one that never came here)."""
        return self.source_path.stat().st_size if self.source_path is not None else self.size_bytes

    def store_into(self, store: FileStore, progress: Progress | None) -> StoredBlob | None:
        """Copy the file where it arrived into the store (the ``store_files`` stage calls this, and a source's own
        kind of file says how it is read); None when there is nothing to store (it never came here)."""
        return store.put(self.source_path, progress=progress) if self.source_path is not None else None

    def open_source(self) -> OpenedFile | None:
        """The file where it arrived, open for reading (None: it never came here, like an unfetched attachment)."""
        return OpenedFile.open(self.source_path) if self.source_path is not None else None

    def media(self) -> dict[str, Any]:
        if self.report:
            return self.report.media()
        return {"container": None, "duration_seconds": None, "size_bytes": self.size_bytes,
                "video_codec": None, "audio_codec": None, "width": None, "height": None}


@dataclass
class SubmissionTask:
    """One submission: one mail, one dropped file or zip, or one ``intake ingest``."""

    source: Source                   # a plain 'mail' etc. is taken too
    received_at: datetime
    source_ref: str | None = None    # idempotency key: the same ref is never recorded twice
    unit: str | None = None
    unit_raw: str | None = None      # as written, before matching to a known unit
    contact: str | None = None
    phone: str | None = None
    title: str | None = None         # 作品名: set by a sidecar or the mail's text; see title_from_files
    title_source: str | None = None  # a TitleSource: set with the title, by whoever sets it
    subject: str | None = None       # mail: the subject as sent, never the title when a file names the work
    speaker: str | None = None
    topic: str | None = None
    actor: str | None = None
    message_key: str | None = None   # mail: account + Message-ID, the same mail under any UIDVALIDITY
    sender: str | None = None        # mail: where a receipt goes
    body_text: str | None = None     # mail: the body, for contact info and the sensitive-content check
    files: list[MediaTask] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)   # submission-level checks
    submission_id: int | None = None
    # Facts a source saw, for the stages that judge them (intake.mail.findings):
    attachment_links: list[LargeAttachmentLink] = field(default_factory=list)   # mail: 超大附件 download links
    mentions_large_attachment: bool = False   # mail: the text speaks of 超大附件 (links recognised or not)
    part_count: int = 0                       # mail: all its leaf parts, also those past the ones looked at
    lossy_fields: list[str] = field(default_factory=list)   # what could not be decoded faithfully (主题, 正文…)

    def __post_init__(self) -> None:
        self.source = Source(self.source)
        if self.received_at.tzinfo is None:
            self.received_at = self.received_at.replace(tzinfo=timezone.utc)

    @property
    def all_checks(self) -> list[CheckResult]:
        return [*self.checks, *(check for media in self.files for check in media.checks)]

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.all_checks)

    def title_from_files(self) -> tuple[str | None, TitleSource | None]:
        """作品名 when no sidecar or text named the work, and where it came from: the first video's file name,
        else the file name a download link gives, else (nothing else to go by) the mail subject."""
        names = [m.original_name for m in self.files] + [link.name for link in self.attachment_links]
        for name in names:
            # A zip's video is named "作品.zip/文件夹/视频.mp4": the video's own name, without its extension.
            stem = one_line(stem_of(name), 500)
            if stem:
                return stem, TitleSource.FILE_NAME
        return self.subject, TitleSource.SUBJECT if self.subject else None

    def verify_source(self) -> None:
        """Raise if the source changed while it was processed (a dropped file does: see intake.inbox.folder)."""

    @property
    def rejected(self) -> bool:
        """Already failed a check: later optional stages may skip expensive work."""
        return any(c.status is Status.FAIL for c in self.all_checks)
