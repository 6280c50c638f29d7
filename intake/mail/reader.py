"""Interpret one mail as a SubmissionTask: names, kinds, text, contact details, 超大附件 links.

A video attachment is a ``MailMedia``, streamed from the server into the store by the ``store_files`` stage.
The reader only records facts (download links, part count, lossy text); the pipeline's stages judge them.
"""

from __future__ import annotations

from core.errors import TooBig
import logging
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

from intake.inbox.archives import VIDEO_SUFFIXES
from intake.config import Config
from intake.mail.client import MailSession
from intake.mail.decode import Decoded, decode_bytes, decode_header_value, filename_of, raw_header
from intake.mail.fetch import PartFetcher
from intake.mail.header import MailHeader
from intake.mail.links import find_large_attachment_links
from intake.mail.structure import Part
from intake.mail.text import html_to_text
from intake.mail.transfer import estimated_size
from intake.inbox.metadata import TRANSCRIPT_SUFFIXES, from_file_name, from_text
from intake.pipeline.task import MediaTask, SubmissionTask
from core.textsafe import clean_name, clean_text, one_line
from storage.filestore import FileStore, Progress, StoredBlob

log = logging.getLogger(__name__)

ARCHIVE_TYPES = {"application/zip", "application/x-zip-compressed", "application/x-zip"}
OTHER_ARCHIVES = {".rar", ".7z"}
GENERIC_TYPES = {"application/octet-stream", "application/binary", "application/x-download", "application/unknown"}


@dataclass
class MailMedia(MediaTask):
    """A video attachment, read from the server when the pipeline stores it (never before, never twice)."""

    fetch: PartFetcher | None = None
    uid: int = 0
    part: Part | None = None
    limit: int = 0

    def store_into(self, store: FileStore, progress: Progress | None) -> StoredBlob | None:
        writer = store.open_writer()
        try:
            self.fetch.stream_part(self.uid, self.part, writer.write, limit=self.limit)
        except BaseException as exc:
            writer.abort()
            if not isinstance(exc, TooBig):
                raise
            self.size_bytes = self.limit + 1   # the estimate was short: over the limit after all, and not kept
            return None
        return writer.commit()


class MailReader:
    def __init__(self, session: MailSession, config: Config, work: Path):
        self.session = session
        self.config = config
        self.cfg = config.mailbox
        self.work = work
        self.fetch = PartFetcher(session, config.mailbox)
        self.lossy: list[str] = []   # what could not be decoded faithfully in the mail being read

    def _text_of(self, uid: int, part: Part, raw: bytes | None = None) -> str:
        found = decode_bytes(self.fetch.small_part(uid, part) if raw is None else raw, part.params.get("charset"))
        self._note_lossy(found, "正文")
        return html_to_text(found.text) if part.mime_type == "text/html" else found.text

    def _note_lossy(self, found: Decoded, what: str) -> None:
        if found.lossy and what not in self.lossy:
            self.lossy.append(what)

    # -- the mail -------------------------------------------------------------------------
    def read(self, head: MailHeader, source_ref: str, key: str) -> SubmissionTask:
        uid = head.uid
        self.lossy = list(head.lossy)
        task = SubmissionTask(source="mail", source_ref=source_ref, received_at=head.internaldate,
                              subject=head.subject or None, message_key=key, sender=head.sender, actor="mailbox")
        headers = self.fetch.part_headers(uid, [p for p in head.parts if not self._is_body_text(p)])
        texts: list[str] = []
        transcripts: list[tuple[str, bytes]] = []
        budget = self.cfg.max_text_bytes   # a mail of a thousand text parts must not fill the memory
        for part in head.parts:
            if self._is_body_text(part):
                if budget > 0:
                    texts.append(self._text_of(uid, part))
                    budget -= len(texts[-1])
                continue
            name = self._name_of(part, headers.get(part.number, b""))
            kind = self._kind(uid, part, name)
            if kind == "video":   # as big as its encoded size says (one over the size limit is never fetched)
                task.files.append(MailMedia(
                    source_path=None, original_name=name or f"附件{part.number}.mp4", fetch=self.fetch, uid=uid,
                    part=part, size_bytes=estimated_size(part.size, part.encoding),
                    limit=self.config.rules.max_size_bytes))
            elif kind == "zip":
                self._fetch_zip(uid, part, name or f"附件{part.number}.zip", task)
            elif kind == "text" and budget > 0:
                raw = self.fetch.small_part(uid, part)
                transcripts.append((name or f"附件{part.number}.txt", raw))
                texts.append(self._text_of(uid, part, raw))
                budget -= len(texts[-1])
        for media in task.files:
            media.transcripts = media.transcripts or transcripts
        body = clean_text("\n".join(t for t in texts if t), self.cfg.max_text_bytes)
        task.body_text = body or None
        task.attachment_links, task.mentions_large_attachment = find_large_attachment_links(body)
        meta = from_text(head.subject).fill_from(from_text(body)).fill_from(from_file_name(head.subject))
        task.unit, task.contact, task.phone = (one_line(meta.unit, 200), one_line(meta.contact, 100),
                                               one_line(meta.phone, 50))
        # 作品名 as a text part, a sidecar in a zip or the subject labels it; else name_the_work takes the
        # video's file name. The subject itself is never the title while a file names the work.
        task.title = one_line(meta.title, 500)
        task.title_source = meta.title_source if task.title else None
        task.part_count, task.lossy_fields = head.part_count, self.lossy
        return task

    @staticmethod
    def _is_body_text(part: Part) -> bool:
        return part.mime_type in ("text/plain", "text/html") and part.disposition != "attachment" \
            and "name" not in part.params

    def _name_of(self, part: Part, mime_header: bytes) -> str | None:
        if mime_header:
            header = BytesHeaderParser(policy=compat32).parsebytes(mime_header)
            found = filename_of(raw_header(header, "Content-Disposition"), raw_header(header, "Content-Type"))
        else:
            found = decode_header_value(part.params["name"]) if part.params.get("name") else None
        if found is None or not found.text:
            return None
        self._note_lossy(found, "附件名")
        return clean_name(found.text, default="未命名附件")

    def _kind(self, uid: int, part: Part, name: str | None) -> str | None:
        suffix = Path(name).suffix.lower() if name else ""
        if suffix == ".zip" or part.mime_type in ARCHIVE_TYPES:
            return "zip"
        if suffix in VIDEO_SUFFIXES or suffix in OTHER_ARCHIVES or part.maintype == "video":
            return "video"
        if suffix in TRANSCRIPT_SUFFIXES or part.mime_type == "text/plain":
            return "text"
        if part.mime_type in GENERIC_TYPES or (not name and part.maintype == "application"):
            head = self.fetch.first_bytes(uid, part)
            if head[4:8] == b"ftyp":
                return "video"
            if head.startswith(b"PK\x03\x04"):
                return "zip"
        return None

    def _fetch_zip(self, uid: int, part: Part, name: str, task: SubmissionTask) -> None:
        """Stream the zip into the work folder; the unpack_archives stage opens and judges it, as for a drop."""
        watch = self.config.watch
        self.work.mkdir(parents=True, exist_ok=True)
        archive, target = self.work / f"part-{part.number}.zip", self.work / f"part-{part.number}"
        with archive.open("wb") as fh:
            try:
                self.fetch.stream_part(uid, part, fh.write, limit=watch.max_zip_total_bytes)
            except TooBig:   # rejected unread by the stage
                task.files.append(MediaTask(source_path=None, original_name=name,
                                            size_bytes=watch.max_zip_total_bytes + 1, unpack_to=target))
                return
        task.files.append(MediaTask(source_path=archive, original_name=name, size_bytes=archive.stat().st_size,
                                    unpack_to=target))
