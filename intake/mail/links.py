"""超大附件: download links that 163, 126 and QQ mail put in the body instead of attaching a big file.

The mail reader hands over the body as text (HTML made readable by ``intake.mail.text``), where each
file shows as its name and ``(大小, 到期时间 到期)`` on one line with its link:

    163 (HTML):  https://mail.163.com/large-attachment-download/index.html?file=KEY 作品 (终版).mp4 (80.96M, 2026年8月17日 0:49 到期)
    QQ (text):   作品.mp4 (128.03M, 2020年11月27日 21:59 到期)进入下载页面：https://wx.mail.qq.com/ftn/download?…

The name is everything between the link (or the line's start) and the bracket, so names with spaces
and brackets stay whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from core.textsafe import one_line
from intake.pipeline.task import LargeAttachmentLink
from core.timefmt import SHANGHAI

URL = re.compile(r"https?://[^\s\"'<>，。；）)】]+", re.I)
KNOWN = re.compile(
    r"^https?://(?:"
    r"mail\.(?:163|126)\.com/large-attachment-download"
    r"|(?:[\w-]+\.)?mail\.(?:163|126)\.com/[^?]*(?:large|cloud)-?attachment"
    r"|dashi\.163\.com/html/cloud-attachment-download"
    r"|(?:wx\.)?mail\.qq\.com/ftn/"
    r"|(?:[\w-]+\.)?mail\.qq\.com/cgi-bin/ftnExs_download"
    r"|(?:[\w-]+\.)?ftn\.qq\.com/"
    r")", re.I)
# (80.96M, 2026年8月17日 0:49 到期), (5.6 MB, 2015-12-26 11:43 到期), (812K, 2026年8月17日 到期)
ITEM = re.compile(r"[（(]\s*(?P<size>(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMGT]i?B?|B|字节))\s*[,，]\s*"
                  r"(?P<expiry>[^()（）,，]{0,40}?)\s*到期\s*[)）]", re.I)
UNIT_BYTES = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
# Far beyond what any mail service lets one send (163 and QQ stop at a few GB): a larger stated size is
# nonsense or hostile, and is taken as unknown rather than trusted.
MAX_STATED_BYTES = 1024 ** 4
MAX_SIZE_CHARS = 20
MAX_NAME_CHARS = 255


@dataclass(frozen=True)
class _Item:
    """One ``name (size, expiry 到期)`` found in the text, with the link on its line (if any)."""

    start: int
    name: str | None
    size: str | None
    size_bytes: int | None
    expires: datetime | None
    url: str | None


def stated_bytes(number: str, unit: str) -> int | None:
    """``80.96`` ``M`` (or MB, MiB) → bytes; None for a size beyond any real file (over ``MAX_STATED_BYTES``)."""
    factor = UNIT_BYTES.get(unit[:1].upper(), 1)   # B, 字节
    if len(number) > MAX_SIZE_CHARS:
        return None   # float() would give inf for hundreds of digits, and round(inf) raises
    size = float(number) * factor
    return round(size) if size <= MAX_STATED_BYTES else None


def _expiry(text: str) -> datetime | None:
    """2026年8月17日 0:49, 2015-12-26 11:43, or a date alone (the end of that day)."""
    match = re.match(r"(\d{4})\s*[年/-]\s*(\d{1,2})\s*[月/-]\s*(\d{1,2})\s*日?\s*(?:(\d{1,2}):(\d{2}))?", text.strip())
    if not match:
        return None
    y, mo, d = (int(g) for g in match.groups()[:3])
    h, mi = (int(match.group(4)), int(match.group(5))) if match.group(4) else (23, 59)
    try:
        return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)
    except ValueError:
        return None


def _items(text: str) -> list[_Item]:
    items = []
    offset = 0
    for line in text.splitlines(keepends=True):
        urls = [m for m in URL.finditer(line) if KNOWN.match(_url(m))]
        name_from = 0
        for match in ITEM.finditer(line):
            before = [u for u in urls if u.end() <= match.start()]
            after = [u for u in urls if u.start() >= match.end()]
            start = max([name_from] + [u.end() for u in before])
            name = one_line(line[start:match.start()].strip(" \t：:"), MAX_NAME_CHARS) or None
            link = before[-1] if before else (after[0] if after else None)
            size_bytes = stated_bytes(match.group("number"), match.group("unit"))
            size = match.group("size").replace(" ", "") if size_bytes is not None else None
            items.append(_Item(offset + match.start(), name, size, size_bytes,
                               _expiry(match.group("expiry")), _url(link) if link else None))
            name_from = match.end()
        offset += len(line)
    return items


def _url(match: re.Match) -> str:
    return match.group(0).rstrip(".,")


def find_large_attachment_links(text: str) -> tuple[list[LargeAttachmentLink], bool]:
    """(links on known hosts, whether the text carries the markers of a big-file mail).

    Each link takes the name and size stated on its own line; a link alone on its line (a plain-text
    mail that puts it below) takes the nearest such text not claimed by another link.
    """
    items = _items(text)
    claimed = {item.url for item in items if item.url}
    links: dict[str, LargeAttachmentLink] = {}
    for match in URL.finditer(text):
        url = _url(match)
        if not KNOWN.match(url) or url in links:
            continue
        item = next((i for i in items if i.url == url), None) if url in claimed else \
            _nearest([i for i in items if i.url is None], match.start())
        item = item or _Item(0, None, None, None, None, None)
        links[url] = LargeAttachmentLink(url=url, name=item.name, size=item.size, expires=item.expires,
                                         size_bytes=item.size_bytes)
    marked = "超大附件" in text or ("进入下载页面" in text and "到期" in text)
    return list(links.values()), marked


def _nearest(items: list[_Item], position: int) -> _Item | None:
    """The name/size/expiry text closest before the link, else the closest after it (``items`` are in order)."""
    before = next((i for i in reversed(items) if i.start <= position), None)
    return before or next((i for i in items if i.start >= position), None)
