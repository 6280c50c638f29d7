"""Fetch the parts of one mail from IMAP: headers in batches, bodies in chunks, nothing kept whole.

Bodies come by BODY.PEEK[n]<offset.length> (the mail stays unread), decoded as they arrive; a part that
passes its limit stops the download (TooBig).
"""

from __future__ import annotations

from core.errors import TooBig
import contextlib
import queue
import threading
from typing import Callable, Iterator

from intake.config import MailboxConfig
from intake.mail.client import MailSession, imap_errors
from intake.mail.structure import Part
from intake.mail.transfer import decoder_for

FETCH_LINE_BUDGET = 4000   # bytes of FETCH items per command, well under every server's line limit
# imapclient sets imaplib's debug level to 5 and sends its messages to a debug logger; at level 5 imaplib
# formats every response with its literal (``%r`` of megabytes) before the logger drops it. That was two
# thirds of a 300 MB attachment's download. Level 4 still logs every command and line, without literals.
IMAPLIB_DEBUG = 4


def _header_item(part: Part) -> str:
    return "BODY.PEEK[HEADER]" if part.top_level_single else f"BODY.PEEK[{part.number}.MIME]"


def _batches(parts: list[Part], budget: int) -> Iterator[list[Part]]:
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


class PartFetcher:
    """Reads the parts of mails in the selected folder of ``session``."""

    def __init__(self, session: MailSession, cfg: MailboxConfig):
        self.session = session
        self.cfg = cfg

    @property
    def client(self):
        """The session's client, its imaplib told not to format literals for the log."""
        client = self.session.client
        imap = getattr(client, "_imap", None)
        if imap is not None and getattr(imap, "debug", 0) > IMAPLIB_DEBUG:
            imap.debug = IMAPLIB_DEBUG
        return client

    def part_headers(self, uid: int, parts: list[Part]) -> dict[str, bytes]:
        """Each part's own MIME header, for names that BODYSTRUCTURE may have mangled.

        Fetched in batches: one FETCH naming thousands of parts is longer than servers accept
        (Dovecot answers BAD "command line too large" past 64 KB; RFC 7162 advises 8 KB).
        """
        out: dict[str, bytes] = {}
        for batch in _batches(parts, FETCH_LINE_BUDGET):
            keys = [_header_item(p) for p in batch]
            with imap_errors(f"读取邮件 UID {uid} 的附件信息"):
                data = self.client.fetch([uid], keys).get(uid, {})
            for p in batch:
                out[p.number] = data.get(_header_item(p).replace(".PEEK", "").encode(), b"")   # as the server answers
        return out

    def stream_part(self, uid: int, part: Part, sink: Callable[[bytes], object], limit: int | None = None) -> int:
        """Feed ``part``'s decoded bytes to ``sink``; return their size. TooBig once more than ``limit`` came."""
        size = 0

        def counted(data: bytes) -> None:
            nonlocal size
            size += len(data)
            if limit is not None and size > limit:
                raise TooBig
            sink(data)

        decoder = decoder_for(part.encoding, counted)
        with contextlib.closing(self._chunks(uid, part)) as chunks:
            for piece in chunks:
                decoder.feed(piece)
        decoder.close()
        return size

    def _chunks(self, uid: int, part: Part) -> Iterator[bytes]:
        """The part's encoded bytes, chunk by chunk: a helper thread fetches the next chunk while the caller
        decodes this one (the socket reads release the GIL). At most one chunk waits; when the caller stops
        early (TooBig, an error), the fetch under way is finished before this returns, so the session stays
        usable and only this thread ever talks to the server."""
        chunk = self.cfg.fetch_chunk_bytes
        key = f"BODY[{part.number}]<{{}}>"
        ready: queue.Queue = queue.Queue(maxsize=1)
        stop = threading.Event()
        done = object()

        def fetch_all() -> None:
            offset = 0
            try:
                while not stop.is_set():
                    with imap_errors(f"下载邮件 UID {uid} 的附件"):
                        data = self.client.fetch([uid], [f"BODY.PEEK[{part.number}]<{offset}.{chunk}>"])
                    piece = data.get(uid, {}).get(key.format(offset).encode()) or b""
                    offset += len(piece)
                    if piece:
                        ready.put(piece)
                    if len(piece) < chunk:
                        break
                ready.put(done)
            except BaseException as exc:  # noqa: BLE001 (raised again in the caller's thread)
                ready.put(exc)

        fetcher = threading.Thread(target=fetch_all, name="imap-fetch", daemon=True)
        fetcher.start()
        item = None
        try:
            while (item := ready.get()) is not done:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if item is not done and not isinstance(item, BaseException):
                stop.set()   # the caller stopped early: let a fetch under way finish, and drop its chunk
                while (item := ready.get()) is not done and not isinstance(item, BaseException):
                    pass
            fetcher.join()

    def small_part(self, uid: int, part: Part) -> bytes:
        """A small part (text, subtitles) whole; a part larger than ``mailbox.max_text_bytes`` is not read."""
        if part.size > self.cfg.max_text_bytes:
            return b""
        buffer = bytearray()
        self.stream_part(uid, part, buffer.extend, limit=self.cfg.max_text_bytes * 2)
        return bytes(buffer)

    def first_bytes(self, uid: int, part: Part) -> bytes:
        """The first decoded bytes of ``part``: enough to tell an MP4 or a ZIP by its signature."""
        with imap_errors(f"读取邮件 UID {uid} 的附件开头"):
            data = self.client.fetch([uid], [f"BODY.PEEK[{part.number}]<0.96>"])
        raw = data.get(uid, {}).get(f"BODY[{part.number}]<0>".encode()) or b""
        out = bytearray()
        decoder_for(part.encoding, out.extend).feed(raw)
        return bytes(out)
