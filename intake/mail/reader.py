"""Turn one mail on the server into a SubmissionTask, streaming attachments straight into the store.

Attachments are fetched in chunks (BODY.PEEK[n]<offset.length>) and decoded
as they arrive, so memory does not grow with their size; a part whose size
is over the limit is never downloaded.
"""

from __future__ import annotations

import logging
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

from intake.archives import VIDEO_SUFFIXES, too_big_check, unpack_zip
from intake.config import Config
from intake.mail.client import MailSession, imap_errors
from intake.mail.decode import Decoded, decode_bytes, decode_header_value, filename_of, raw_header
from intake.mail.header import MAX_PARTS, MailHeader
from intake.mail.links import find_large_attachment_links
from intake.mail.structure import Part
from intake.mail.text import html_to_text
from intake.mail.transfer import decoder_for, estimated_size
from intake.metadata import TRANSCRIPT_SUFFIXES, from_file_name, from_text
from intake.task import MediaTask, SubmissionTask
from core.textsafe import clean_name, clean_text, one_line
from storage.filestore import FileStore
from validators.checks import check_size
from validators.results import CheckResult, warned

log = logging.getLogger(__name__)

ARCHIVE_TYPES = {"application/zip", "application/x-zip-compressed", "application/x-zip"}
OTHER_ARCHIVES = {".rar", ".7z"}
GENERIC_TYPES = {"application/octet-stream", "application/binary", "application/x-download", "application/unknown"}


MAX_ZIP_SIDECAR_BYTES = 64 * 1024
MAX_MEMBER_NAME_CHARS = 500
FETCH_LINE_BUDGET = 4000   # bytes of FETCH items per command, well under every server's line limit


def _header_item(part: Part) -> str:
    return "BODY.PEEK[HEADER]" if part.top_level_single else f"BODY.PEEK[{part.number}.MIME]"


def _header_key(part: Part) -> bytes:
    return b"BODY[HEADER]" if part.top_level_single else f"BODY[{part.number}.MIME]".encode()


def _batches(parts: list[Part], budget: int):
    """Consecutive runs of ``parts`` whose FETCH items together stay within ``budget`` bytes."""
    batch: list[Part] = []
    used = 0
    for part in parts:
        cost = len(_header_item(part)) + 1
        if batch and used + cost > budget:
            yield batch
            batch, used = [], 0
        batch.append(part)
        used += cost
    if batch:
        yield batch


class TooBig(Exception):
    """The decoded part passed the size limit: stop downloading."""


class MailReader:
    def __init__(self, session: MailSession, config: Config, store: FileStore, work: Path):
        self.session = session
        self.config = config
        self.cfg = config.mailbox
        self.store = store
        self.work = work
        self.lossy: list[str] = []   # what could not be decoded faithfully in the mail being read

    # -- parts ------------------------------------------------------------------------------
    def _part_headers(self, uid: int, parts: list[Part]) -> dict[str, bytes]:
        """Each part's own MIME header, for names that BODYSTRUCTURE may have mangled.

        Fetched in batches: one FETCH naming thousands of parts is longer than servers accept
        (Dovecot answers BAD "command line too large" past 64 KB; RFC 7162 advises 8 KB).
        """
        out: dict[str, bytes] = {}
        for batch in _batches(parts, FETCH_LINE_BUDGET):
            keys = [_header_item(p) for p in batch]
            with imap_errors(f"读取邮件 UID {uid} 的附件信息"):
                data = self.session.client.fetch([uid], keys).get(uid, {})
            for p in batch:
                out[p.number] = data.get(_header_key(p), b"")
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

    def _text_of(self, uid: int, part: Part, raw: bytes | None = None) -> str:
        found = decode_bytes(self._bytes_of(uid, part) if raw is None else raw, part.params.get("charset"))
        self._note_lossy(found, "正文")
        return html_to_text(found.text) if part.mime_type == "text/html" else found.text

    def _note_lossy(self, found: Decoded, what: str) -> None:
        if found.lossy and what not in self.lossy:
            self.lossy.append(what)

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
        self.lossy = list(head.lossy)
        task = SubmissionTask(source="mail", source_ref=source_ref, received_at=head.internaldate,
                              title=head.subject or None, message_key=key, sender=head.sender, actor="mailbox")
        headers = self._part_headers(uid, [p for p in head.parts if not self._is_body_text(p)])
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
            if kind == "video":
                task.files.append(self._fetch_media(uid, part, name or f"附件{part.number}.mp4"))
            elif kind == "zip":
                self._fetch_zip(uid, part, name or f"附件{part.number}.zip", task, texts)
            elif kind == "text" and budget > 0:
                raw = self._bytes_of(uid, part)
                transcripts.append((name or f"附件{part.number}.txt", raw))
                texts.append(self._text_of(uid, part, raw))
                budget -= len(texts[-1])
        for media in task.files:
            media.transcripts = media.transcripts or transcripts
        body = clean_text("\n".join(t for t in texts if t), self.cfg.max_text_bytes)
        task.body_text = body or None
        self._links(task, body)
        meta = from_text(head.subject).fill_from(from_text(body)).fill_from(from_file_name(head.subject))
        task.unit, task.contact, task.phone = (one_line(meta.unit, 200), one_line(meta.contact, 100),
                                               one_line(meta.phone, 50))
        task.checks += mail_findings(head, self.lossy)
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
            with sidecar.open("rb") as fh:
                found = decode_bytes(fh.read(MAX_ZIP_SIDECAR_BYTES))
            self._note_lossy(found, "压缩包中的说明文件")
            texts.append(found.text)
        task.files += [MediaTask(source_path=path, original_name=one_line(f"{name}/{inner}", MAX_MEMBER_NAME_CHARS))
                       for path, inner in unpacked.videos]

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


def mail_findings(head: MailHeader, lossy: list[str]) -> list[CheckResult]:
    """Warnings about the mail itself: more parts than are looked at, text that could not be decoded faithfully."""
    found = []
    if head.part_count > MAX_PARTS:
        found.append(warned(
            "mail_parts", "too_many_parts",
            f"邮件包含 {head.part_count} 个部分（附件、正文等），超过 {MAX_PARTS} 个，只检查了前 {MAX_PARTS} 个。"
            "请评审人员打开原邮件，查看其余部分中是否还有作品。", part_count=head.part_count, checked=MAX_PARTS))
    if lossy:
        found.append(warned(
            "text_encoding", "lossy_decoding",
            f"邮件的{'、'.join(lossy)}中有无法正确识别的字符，已用“\ufffd”代替。请评审人员打开原邮件核对。",
            fields=lossy))
    return found
