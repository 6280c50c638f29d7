"""Turn one mail on the server into a SubmissionTask, streaming attachments straight into the store.

Attachments are fetched in chunks (BODY.PEEK[n]<offset.length>) and decoded
as they arrive, so memory does not grow with their size; a part whose size
is over the limit is never downloaded.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from pathlib import Path

from intake.archives import VIDEO_SUFFIXES, too_big_check, unpack_zip
from intake.config import Config
from intake.mail.client import MailSession, imap_errors
from intake.mail.decode import decode_bytes, decode_header_value, filename_of, raw_header, safe_file_name
from intake.mail.links import find_large_attachment_links
from intake.mail.structure import Part, leaf_parts
from intake.mail.text import html_to_text
from intake.mail.transfer import decoder_for, estimated_size
from intake.metadata import TRANSCRIPT_SUFFIXES, from_file_name, from_text
from intake.task import MediaTask, SubmissionTask
from storage.filestore import FileStore
from validators.checks import check_size
from validators.results import warned

log = logging.getLogger(__name__)

ARCHIVE_TYPES = {"application/zip", "application/x-zip-compressed", "application/x-zip"}
OTHER_ARCHIVES = {".rar", ".7z"}
GENERIC_TYPES = {"application/octet-stream", "application/binary", "application/x-download", "application/unknown"}


class TooBig(Exception):
    """The decoded part passed the size limit: stop downloading."""


@dataclass
class MailHeader:
    uid: int
    internaldate: datetime
    subject: str
    sender: str | None
    message_id: str | None
    size: int
    parts: list[Part]


def fetch_header(session: MailSession, uid: int) -> MailHeader | None:
    """None when the mail vanished (deleted or moved by someone else)."""
    with imap_errors(f"读取邮件 UID {uid}"):
        data = session.client.fetch([uid], ["INTERNALDATE", "RFC822.SIZE", "BODYSTRUCTURE", "BODY.PEEK[HEADER]"])
    item = data.get(uid)
    if not item or b"BODYSTRUCTURE" not in item:
        return None
    header = BytesHeaderParser(policy=compat32).parsebytes(item.get(b"BODY[HEADER]", b""))
    received = item[b"INTERNALDATE"]
    if received.tzinfo is None:
        received = received.replace(tzinfo=timezone.utc)
    addresses = getaddresses([raw_header(header, "Reply-To") or raw_header(header, "From") or ""])
    sender = next((addr for _, addr in addresses if "@" in addr), None)
    message_id = (raw_header(header, "Message-ID") or "").strip() or None
    return MailHeader(uid=uid, internaldate=received, subject=decode_header_value(raw_header(header, "Subject")).text,
                      sender=sender, message_id=message_id, size=int(item.get(b"RFC822.SIZE", 0)),
                      parts=leaf_parts(item[b"BODYSTRUCTURE"]))


def message_key(account: str, head: MailHeader) -> str:
    """Identifies a mail across UIDVALIDITY changes: its Message-ID, else a digest of what it looks like."""
    if head.message_id:
        return f"{account}|{head.message_id}"[:1000]
    digest = hashlib.sha256(f"{head.internaldate.isoformat()}|{head.subject}|{head.sender}|{head.size}"
                            .encode("utf-8", "replace")).hexdigest()
    return f"{account}|no-id:{digest}"


class MailReader:
    def __init__(self, session: MailSession, config: Config, store: FileStore, work: Path):
        self.session = session
        self.config = config
        self.cfg = config.mailbox
        self.store = store
        self.work = work

    # -- parts ------------------------------------------------------------------------------
    def _part_headers(self, uid: int, parts: list[Part]) -> dict[str, bytes]:
        """Each part's own MIME header, for names that BODYSTRUCTURE may have mangled."""
        keys = [f"BODY.PEEK[{p.number}.MIME]" if not p.top_level_single else "BODY.PEEK[HEADER]" for p in parts]
        if not keys:
            return {}
        with imap_errors(f"读取邮件 UID {uid} 的附件信息"):
            data = self.session.client.fetch([uid], keys).get(uid, {})
        out = {}
        for p in parts:
            key = b"BODY[HEADER]" if p.top_level_single else f"BODY[{p.number}.MIME]".encode()
            out[p.number] = data.get(key, b"")
        return out

    def stream_part(self, uid: int, part: Part, sink, limit: int | None = None) -> int:
        """Fetch ``part`` in chunks and feed the decoded bytes to ``sink``; return the decoded size."""
        size = 0

        def counted(data: bytes) -> None:
            nonlocal size
            size += len(data)
            if limit is not None and size > limit:
                raise TooBig
            sink(data)

        decoder = decoder_for(part.encoding, counted)
        chunk = self.cfg.fetch_chunk_bytes
        offset = 0
        key = f"BODY[{part.number}]<{{}}>"
        while True:
            with imap_errors(f"下载邮件 UID {uid} 的附件"):
                data = self.session.client.fetch([uid], [f"BODY.PEEK[{part.number}]<{offset}.{chunk}>"])
            piece = data.get(uid, {}).get(key.format(offset).encode()) or b""
            if piece:
                decoder.feed(piece)
            offset += len(piece)
            if len(piece) < chunk:
                break
        decoder.close()
        return size

    def _bytes_of(self, uid: int, part: Part) -> bytes:
        """A small part (text, subtitles) whole; a large one is not read."""
        if part.size > self.cfg.max_text_bytes:
            return b""
        buffer = bytearray()
        self.stream_part(uid, part, buffer.extend, limit=self.cfg.max_text_bytes * 2)
        return bytes(buffer)

    def _text_of(self, uid: int, part: Part) -> str:
        text = decode_bytes(self._bytes_of(uid, part), part.params.get("charset")).text
        return html_to_text(text) if part.mime_type == "text/html" else text

    def _first_bytes(self, uid: int, part: Part) -> bytes:
        with imap_errors(f"读取邮件 UID {uid} 的附件开头"):
            data = self.session.client.fetch([uid], [f"BODY.PEEK[{part.number}]<0.96>"])
        raw = data.get(uid, {}).get(f"BODY[{part.number}]<0>".encode()) or b""
        out = bytearray()
        decoder = decoder_for(part.encoding, out.extend)
        decoder.feed(raw)
        return bytes(out)

    # -- the mail -------------------------------------------------------------------------
    def read(self, head: MailHeader, source_ref: str, key: str) -> SubmissionTask:
        uid = head.uid
        task = SubmissionTask(source="mail", source_ref=source_ref, received_at=head.internaldate,
                              title=head.subject or None, message_key=key, sender=head.sender, actor="mailbox")
        headers = self._part_headers(uid, [p for p in head.parts if not self._is_body_text(p)])
        texts: list[str] = []
        transcripts: list[tuple[str, bytes]] = []
        for part in head.parts:
            if self._is_body_text(part):
                texts.append(self._text_of(uid, part))
                continue
            name = self._name_of(part, headers.get(part.number, b""))
            kind = self._kind(uid, part, name)
            if kind == "video":
                task.files.append(self._fetch_media(uid, part, name or f"附件{part.number}.mp4"))
            elif kind == "zip":
                self._fetch_zip(uid, part, name or f"附件{part.number}.zip", task, texts)
            elif kind == "text":
                raw = self._bytes_of(uid, part)
                transcripts.append((name or f"附件{part.number}.txt", raw))
                texts.append(decode_bytes(raw, part.params.get("charset")).text)
        for media in task.files:
            media.transcripts = media.transcripts or transcripts
        body = "\n".join(t for t in texts if t)
        task.body_text = body or None
        self._links(task, body)
        meta = from_text(head.subject).fill_from(from_text(body)).fill_from(from_file_name(head.subject))
        task.unit, task.contact, task.phone = meta.unit, meta.contact, meta.phone
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
            params = part.params
            found = decode_header_value(params.get("name")) if params.get("name") else None
        if found is None or not found.text:
            return None
        if found.lossy:
            log.warning("附件名无法完整解码：%r", found.text)
        return safe_file_name(found.text)

    def _kind(self, uid: int, part: Part, name: str | None) -> str | None:
        suffix = Path(name).suffix.lower() if name else ""
        if suffix == ".zip" or part.mime_type in ARCHIVE_TYPES:
            return "zip"
        if suffix in VIDEO_SUFFIXES or suffix in OTHER_ARCHIVES or part.maintype == "video":
            return "video"
        if suffix in TRANSCRIPT_SUFFIXES or part.mime_type == "text/plain":
            return "text"
        if part.mime_type in GENERIC_TYPES or (not name and part.maintype == "application"):
            head = self._first_bytes(uid, part)
            if head[4:8] == b"ftyp":
                return "video"
            if head.startswith(b"PK\x03\x04"):
                return "zip"
        return None

    def _fetch_media(self, uid: int, part: Part, name: str) -> MediaTask:
        limit = self.config.rules.max_size_bytes
        estimate = estimated_size(part.size, part.encoding)
        if estimate > limit:
            return _oversized(name, estimate, self.config)
        writer = self.store.open_writer()
        try:
            self.stream_part(uid, part, writer.write, limit=limit)
        except TooBig:
            writer.abort()
            return _oversized(name, limit + 1, self.config)
        except BaseException:
            writer.abort()
            raise
        blob = writer.commit()
        return MediaTask(source_path=self.store.path_of(blob.relative_path), original_name=name,
                         size_bytes=blob.size_bytes, blob=blob)

    def _fetch_zip(self, uid: int, part: Part, name: str, task: SubmissionTask, texts: list[str]) -> None:
        watch = self.config.watch
        self.work.mkdir(parents=True, exist_ok=True)
        archive = self.work / f"part-{part.number}.zip"
        with archive.open("wb") as fh:
            try:
                self.stream_part(uid, part, fh.write, limit=watch.max_zip_total_bytes)
            except TooBig:
                task.checks.append(too_big_check(watch.max_zip_total_bytes))
                return
        unpacked = unpack_zip(archive, self.work / f"part-{part.number}", watch.max_zip_entries,
                              watch.max_zip_total_bytes)
        task.checks.append(unpacked.check)
        for sidecar in unpacked.sidecars:
            texts.append(decode_bytes(sidecar.read_bytes()[:65536]).text)
        task.files += [MediaTask(source_path=path, original_name=f"{name}/{inner}") for path, inner in unpacked.videos]

    def _links(self, task: SubmissionTask, body: str) -> None:
        links, marked = find_large_attachment_links(body)
        if not links and not marked:
            return
        if links:
            lines = []
            for i, link in enumerate(links, 1):
                expires = link.expires.strftime("%Y-%m-%d %H:%M") + " 到期" if link.expires else "到期时间不详"
                lines.append(f"{i}. {link.name or '未注明文件名'}（{link.size or '大小不详'}，{expires}）：{link.url}")
            message = ("邮件使用“超大附件”发送，视频需要从下载链接获取。请在链接到期前下载，"
                       "再用 intake attach 作品编号 文件 补登：\n" + "\n".join(lines))
        else:
            message = "邮件提到“超大附件”，但没有识别出下载链接。请打开原邮件查看并下载视频。"
        task.checks.append(warned("large_attachment_link", "large_attachment_link", message,
                                  links=[link.as_json() for link in links]))


def _oversized(name: str, size: int, config: Config) -> MediaTask:
    """A part over the size limit: recorded with the size check, never downloaded."""
    return MediaTask(source_path=None, original_name=name, size_bytes=size,
                     extra_checks=[check_size(size, config.rules)])

