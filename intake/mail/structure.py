"""Walk an IMAP BODYSTRUCTURE into a flat list of leaf parts with their IMAP part numbers."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_PARTS = 500                 # leaf parts looked at; a mail with more is recorded with a finding


@dataclass
class Part:
    number: str                 # "1", "2", "2.1" …: what BODY[n] takes
    mime_type: str              # "video/mp4"
    params: dict[str, str] = field(default_factory=dict)
    encoding: str = "7bit"
    size: int = 0               # encoded octets
    disposition: str | None = None
    top_level_single: bool = False   # the message is not multipart: its header is the part's header

    @property
    def maintype(self) -> str:
        return self.mime_type.split("/", 1)[0]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def _pairs(value) -> dict[str, str]:
    if not value or not isinstance(value, (list, tuple)):
        return {}
    return {_text(value[i]).lower(): _text(value[i + 1]) for i in range(0, len(value) - 1, 2)}


def leaf_parts(body) -> list[Part]:
    """All non-multipart parts of ``body`` (imapclient's BodyData), in order."""
    parts: list[Part] = []
    _walk(body, "", parts, top=True)
    return parts


def _walk(body, number: str, out: list[Part], top: bool = False) -> None:
    """``number`` is this node's part number ("" for the message itself)."""
    if body and isinstance(body[0], list):   # multipart: (children…, subtype, …)
        for index, child in enumerate(body[0], start=1):
            _walk(child, f"{number}.{index}" if number else str(index), out)
        return
    mime_type = f"{_text(body[0]).lower()}/{_text(body[1]).lower()}"
    part = Part(number=number or "1", mime_type=mime_type, params=_pairs(body[2]),
                encoding=_text(body[5]).lower() or "7bit", size=int(body[6] or 0), top_level_single=top)
    if mime_type == "message/rfc822" and len(body) > 8 and body[8]:
        # A forwarded mail: a multipart body's parts are N.1, N.2 …; a single body is N.1.
        inner = body[8]
        _walk(inner, part.number if isinstance(inner[0], list) else f"{part.number}.1", out)
        return
    ext = 9 if part.maintype == "text" else 8
    if len(body) > ext and isinstance(body[ext], (list, tuple)) and body[ext]:
        part.disposition = _text(body[ext][0]).lower()
    out.append(part)
