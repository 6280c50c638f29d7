"""What a mail says about itself before any part is downloaded: the envelope, decoded, cleaned and bounded here."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

from core.textsafe import clip_bytes, one_line
from intake.mail.client import MailSession, imap_errors
from intake.mail.decode import Decoded, decode_header_value, decode_raw_header, raw_header
from intake.mail.structure import MAX_PARTS, Part, leaf_parts

MAX_SUBJECT_CHARS = 500
MAX_SENDER_CHARS = 320          # RFC 5321: 64 + 1 + 255
MAX_KEY_BYTES = 1000


@dataclass
class MailHeader:
    uid: int
    internaldate: datetime
    subject: str
    sender: str | None
    message_id: str | None
    size: int
    parts: list[Part]
    part_count: int = 0                               # all leaf parts, also those past MAX_PARTS
    lossy: list[str] = field(default_factory=list)    # which fields could not be decoded faithfully


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
    subject = decode_header_value(raw_header(header, "Subject"))
    sender = _sender(header)
    lossy = [what for what, found in (("主题", subject), ("发件人", sender)) if found.lossy]
    message_id = decode_raw_header(raw_header(header, "Message-ID"))
    parts = leaf_parts(item[b"BODYSTRUCTURE"])
    return MailHeader(uid=uid, internaldate=received, subject=one_line(subject.text, MAX_SUBJECT_CHARS) or "",
                      sender=one_line(sender.text, MAX_SENDER_CHARS) or None,
                      message_id=one_line(message_id.text, MAX_KEY_BYTES // 2) or None,
                      size=int(item.get(b"RFC822.SIZE", 0)), parts=parts[:MAX_PARTS], part_count=len(parts),
                      lossy=lossy)


def _sender(header) -> Decoded:
    """The From address only (a Reply-To is never read: receipts go where the mail says it came from)."""
    raw = decode_raw_header(raw_header(header, "From"))   # raw UTF-8 (RFC 6532) is decoded before it is parsed
    return Decoded(next((addr for _, addr in getaddresses([raw.text]) if "@" in addr), ""), raw.lossy)


def message_key(account: str, head: MailHeader) -> str:
    """Identifies a mail across UIDVALIDITY changes: its Message-ID, else a digest of what it looks like."""
    if head.message_id:
        # Leave room for a content suffix (see reused_key); the column holds 1000 bytes.
        return clip_bytes(f"{account}|{head.message_id}", MAX_KEY_BYTES - 40)
    digest = hashlib.sha256(f"{head.internaldate.isoformat()}|{head.subject}|{head.sender}|{head.size}"
                            .encode("utf-8", "replace")).hexdigest()
    return clip_bytes(f"{account}|no-id:{digest}", MAX_KEY_BYTES)


def reused_key(key: str, content: str) -> str:
    """The key of a mail that reuses an earlier mail's Message-ID with other content."""
    return f"{key}#{content[:32]}"


def content_id(file_hashes: set[str], subject: str | None, body: str | None) -> str:
    """What a mail carries: its attachments' SHA-256s, or for a mail without stored files its subject and body."""
    text = "files:" + ",".join(sorted(file_hashes)) if file_hashes else f"text:{subject or ''}\n{body or ''}"
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
