"""Decode what Chinese mail clients really send in headers and file names.

A gb2312/gbk label is read as gb18030 (clients label GBK-only characters such as 镕 as gb2312); RFC 2231
continuations are joined as bytes before decoding (clients split them mid-character); raw 8-bit is UTF-8, else
GB18030. Nothing is dropped silently: what no charset decodes keeps U+FFFD and is lossy. The text handed on
holds no lone surrogates (a utf-7 or utf-16 word can produce them; no database takes them) and no controls.
"""

from __future__ import annotations

import base64
import quopri
import re
import urllib.parse
from dataclasses import dataclass

from core.textsafe import clean_text, without_surrogates

SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030", "x-gbk": "gb18030",
             "gb_2312-80": "gb18030", "euc-cn": "gb18030", "x-euc-cn": "gb18030", "ms936": "gb18030",
             "unknown-8bit": "utf-8", "x-unknown": "utf-8", "ascii": "utf-8", "us-ascii": "utf-8"}
FALLBACKS = ("utf-8", "gb18030")


@dataclass(frozen=True)
class Decoded:
    text: str
    lossy: bool = False


def charset_for(label: str | None) -> str:
    label = (label or "utf-8").strip().strip('"').lower()
    return SUPERSETS.get(label, label)


def decode_bytes(raw: bytes, label: str | None = None) -> Decoded:
    """Strict decode with the (widened) label, then UTF-8, then GB18030; lossy only as a last resort."""
    for charset in dict.fromkeys([charset_for(label), *FALLBACKS]):
        try:
            return _safe(raw.decode(charset))
        except Exception:  # undecodable, unknown, or a codec that breaks on hostile input (utf-7 has)
            continue
    return _safe(raw.decode("gb18030", errors="replace"), lossy=True)


def _safe(text: str, lossy: bool = False) -> Decoded:
    """No lone surrogates (U+FFFD instead, and lossy), no NUL or other controls; tabs and line breaks stay."""
    text, replaced = without_surrogates(text)
    return Decoded(clean_text(text), lossy or replaced)


def raw_header(message, name: str) -> str | None:
    """A header's raw text as parsed from bytes (8-bit kept as surrogate escapes), not a Header object."""
    return next((str(value) for key, value in message.raw_items() if key.lower() == name.lower()), None)


def header_bytes(value: str) -> bytes:
    """A header value parsed from bytes keeps raw 8-bit as surrogate escapes: get those bytes back."""
    try:
        return value.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:   # a surrogate that is no escape: it came from elsewhere, not from bytes
        return value.encode("utf-8", errors="replace")


def decode_raw_header(value: str | None) -> Decoded:
    """A header kept raw (an address, a Message-ID): its 8-bit bytes as UTF-8 (RFC 6532), else GB18030."""
    return decode_bytes(header_bytes(value)) if value else Decoded("")


def decode_header_value(value: str | bytes | None) -> Decoded:
    """A Subject, From name or file name: encoded-words and raw 8-bit, in any mix.

    Adjacent encoded-words of one charset are joined as bytes before decoding (clients split words
    mid-character); white space between two encoded-words is dropped (RFC 2047).
    """
    if value is None:
        return Decoded("")
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="surrogateescape")
    tokens = ENCODED_WORD_SPLIT.split(value)
    pieces: list[tuple[str | None, bytes]] = []   # (charset of joined encoded-words, or None for raw text; bytes)
    for index, token in enumerate(tokens):
        if index % 2 == 1:
            charset, raw = _encoded_word_bytes(token)
            if pieces and pieces[-1][0] == charset:
                pieces[-1] = (charset, pieces[-1][1] + raw)
            else:
                pieces.append((charset, raw))
        elif token and (token.strip() or not 0 < index < len(tokens) - 1):
            pieces.append((None, header_bytes(token)))
    decoded = [decode_bytes(raw, charset) for charset, raw in pieces]
    return Decoded(re.sub(r"\r?\n[ \t]+", " ", "".join(d.text for d in decoded)).strip(), any(d.lossy for d in decoded))


ENCODED_WORD_SPLIT = re.compile(r"(=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)")


def _encoded_word_bytes(word: str) -> tuple[str, bytes]:
    _, charset, kind, data, _ = word.split("?", 4)
    charset = charset_for(charset.split("*", 1)[0])   # RFC 2231 allows charset*lang
    if kind.lower() == "b":
        data = re.sub(r"[^A-Za-z0-9+/]", "", data)
        return charset, base64.b64decode(data + "=" * (-len(data) % 4))
    return charset, quopri.decodestring(data.replace("_", " ").encode("ascii", "replace"), header=False)


PARAM = re.compile(r';\s*([^=\s;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', re.S)


def header_params(header_value: str) -> dict[str, str]:
    """Raw parameters of a Content-Type or Content-Disposition value, keys lower-cased, quotes removed."""
    params: dict[str, str] = {}
    for key, raw in PARAM.findall(";" + header_value.split(";", 1)[1] if ";" in header_value else ""):
        raw = raw.strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[key.lower()] = raw
    return params


def rfc2231_value(params: dict[str, str], name: str) -> Decoded | None:
    """``name*`` or ``name*0*``, ``name*1``… joined as bytes first, then decoded with the declared charset."""
    if f"{name}*" in params:
        return _decode_2231([(True, params[f"{name}*"])])
    pieces = sorted((int(match.group(1)), bool(match.group(2)), value) for key, value in params.items()
                    if (match := re.fullmatch(rf"{re.escape(name)}\*(\d+)(\*?)", key)))
    return _decode_2231([(encoded, value) for _, encoded, value in pieces]) if pieces else None


def _decode_2231(pieces: list[tuple[bool, str]]) -> Decoded:
    charset = None
    raw = b""
    for index, (encoded, value) in enumerate(pieces):
        if index == 0 and encoded and value.count("'") >= 2:
            charset, _lang, value = value.split("'", 2)
        raw += urllib.parse.unquote_to_bytes(value) if encoded else header_bytes(value)
    return decode_bytes(raw, charset or None)


def filename_of(disposition: str | None, content_type: str | None) -> Decoded | None:
    """The attachment's name from Content-Disposition ``filename``, else Content-Type ``name``."""
    for header, key in ((disposition, "filename"), (content_type, "name")):
        if not header:
            continue
        params = header_params(header)
        value = rfc2231_value(params, key)
        if value is None and key in params:
            value = decode_header_value(params[key])
        if value is not None and value.text:
            return value
    return None
