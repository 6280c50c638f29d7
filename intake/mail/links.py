"""超大附件: download links that 163, 126 and QQ mail put in the body instead of attaching a big file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

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
MARKERS = ("超大附件", "进入下载页面", "到期")
# 作品.mp4 (80.96M, 2026年8月17日 0:49 到期)
ITEM = re.compile(r"(?P<name>[^\s()（）:：]{1,120}?)\s*[（(]\s*(?P<size>[\d.]+\s*[KMGT]B?)\s*[,，]\s*"
                  r"(?P<expiry>\d{4}年\d{1,2}月\d{1,2}日\s*\d{1,2}:\d{2})\s*到期\s*[)）]", re.I)


@dataclass(frozen=True)
class LargeAttachmentLink:
    url: str
    name: str | None
    size: str | None
    expires: datetime | None

    def as_json(self) -> dict:
        return {"url": self.url, "name": self.name, "size": self.size,
                "expires": self.expires.isoformat() if self.expires else None}


def _expiry(text: str) -> datetime | None:
    match = re.match(r"(\d{4})年(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})", text)
    if not match:
        return None
    y, mo, d, h, mi = (int(g) for g in match.groups())
    try:
        return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)
    except ValueError:
        return None


def find_large_attachment_links(text: str) -> tuple[list[LargeAttachmentLink], bool]:
    """(links on known hosts, whether the text carries the markers of a big-file mail)."""
    items = list(ITEM.finditer(text))
    links: list[LargeAttachmentLink] = []
    seen: set[str] = set()
    for match in URL.finditer(text):
        url = match.group(0).rstrip(".,")
        if not KNOWN.match(url) or url in seen:
            continue
        seen.add(url)
        item = _nearest(items, match.start())
        links.append(LargeAttachmentLink(
            url=url, name=item.group("name") if item else None, size=item.group("size") if item else None,
            expires=_expiry(item.group("expiry")) if item else None))
    marked = "超大附件" in text or ("进入下载页面" in text and "到期" in text)
    return links, marked


def _nearest(items, position: int):
    """The name/size/expiry text closest before the link, else the closest after it."""
    before = [m for m in items if m.end() <= position]
    if before:
        return before[-1]
    after = [m for m in items if m.start() >= position]
    return after[0] if after else None
