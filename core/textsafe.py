"""Text from outside, made safe once where it enters: for the database, file names, mail headers,
spreadsheets and the operator's terminal. Everything a sender controls passes through one of these.

Lone surrogates cannot be encoded; PostgreSQL refuses NUL, XML and terminals choke on other controls; bidi
controls reorder what is shown (with U+202E before it, 作品4pm.exe shows as 作品exe.mp4).
"""

from __future__ import annotations

import re
import unicodedata

REPLACEMENT = "\ufffd"
NAME_MAX_BYTES = 255          # NAME_MAX on ext4, xfs, btrfs and most others
# Control characters other than tab and line breaks, DEL, C1 controls, and lone surrogates.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Bidi marks, embeddings, overrides and isolates: they reorder what is shown around them.
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x85\u2028\u2029]+")
# Characters that XML 1.0 forbids (openpyxl refuses them): C0 controls but tab/CR/LF, FFFE/FFFF.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def without_surrogates(text: str) -> tuple[str, bool]:
    """Lone surrogates (from surrogateescape or a broken UTF-7/UTF-16 word) become U+FFFD; True if any did."""
    if not _SURROGATE.search(text):
        return text, False
    # A surrogate pair that stands for one real character is kept as that character.
    repaired = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _SURROGATE.sub(REPLACEMENT, repaired), True


def clean_text(text: str | None, max_chars: int | None = None, *, keep_lines: bool = True) -> str | None:
    """Text fit to store and show; None stays None. Tabs and line breaks are kept unless ``keep_lines`` is False."""
    if text is None:
        return None
    text, _ = without_surrogates(str(text))
    text = _BIDI.sub("", _CONTROL.sub("", text))
    if not keep_lines:
        text = _LINE_BREAKS.sub(" ", text).strip()
    if max_chars is not None and len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return text


def one_line(text: str | None, max_chars: int | None = None) -> str | None:
    """One line: a subject, a name, a mail header value."""
    return clean_text(text, max_chars, keep_lines=False)


def clip_bytes(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` that is at most ``max_bytes`` in UTF-8, cut between characters."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def clean_name(name: str | None, max_bytes: int = NAME_MAX_BYTES, *, reserve_bytes: int = 0,
               default: str = "未命名文件") -> str:
    """A file name from outside, safe to create: no folders, no controls, at most ``max_bytes - reserve_bytes``
    UTF-8 bytes with the extension kept (``reserve_bytes`` leaves room for a suffix such as ``.结果.txt``)."""
    name = unicodedata.normalize("NFC", one_line(name or "") or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
                   or ch == REPLACEMENT)
    name = name.strip().strip(".").strip()
    if not name:
        name = default
    budget = max(16, max_bytes - reserve_bytes)
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem or len(suffix.encode("utf-8")) > 16:
        return clip_bytes(name, budget).rstrip() or default
    suffix = "." + suffix
    stem = clip_bytes(stem, budget - len(suffix.encode("utf-8"))).rstrip()
    return (stem or default) + suffix


def looks_like_formula(value) -> bool:
    """True for text that a spreadsheet program would take for a formula if it were typed in (=, +, -, @…)."""
    return isinstance(value, str) and value.startswith(_FORMULA_START)


def cell(value, *, text: bool = False, quote_formulas: bool = True):
    """A spreadsheet cell (CSV or XLSX) that is shown, never run.

    A value that starts with a formula prefix (= + - @, their full-width forms, tab, CR, LF) gets a
    leading ``'``, as OWASP advises for CSV; an xlsx writer that stores strings as string cells (which
    no spreadsheet program runs) passes ``quote_formulas=False`` and keeps the value as it is. Characters
    that XML forbids are dropped. Numbers pass through unless ``text`` (phone numbers are text: the
    xlsx writer also gives them the text format).
    """
    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, (int, float)) and not text):
        return value
    value, _ = without_surrogates(str(value))
    value = _XML_ILLEGAL.sub("", value)
    if quote_formulas and looks_like_formula(value):
        value = "'" + value
    return value


def for_terminal(text, *, keep_lines: bool = False) -> str:
    """Text for the operator's terminal: control characters (ESC, BEL, CR…) shown as ``\\x1b`` and the like,
    bidi controls as ``\\u202e``.

    Line breaks are shown as ``\\n`` too unless ``keep_lines``: a name with a newline in it must not
    print a second, forged line (say, a fake "[通过] 作品 #999").
    """
    text, _ = without_surrogates(str(text))
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text).replace("\r", "\\r")
    text = _BIDI.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    if not keep_lines:
        text = text.replace("\n", "\\n").replace("\t", "\\t")
    return text
