"""Text found in or around a submission, with where it came from (for the opening phrase and sensitive content)."""

from __future__ import annotations

from dataclasses import dataclass

TEXT_SOURCE_LABELS = {
    "metadata": "文件信息（标题、注释等）",
    "subtitle": "内嵌字幕",
    "sidecar": "字幕或文稿文件",
    "ocr": "画面文字",
    "speech": "语音",
    "file_name": "文件名",
    "subject": "邮件主题",
    "body": "邮件正文",
}


@dataclass(frozen=True)
class TextSource:
    kind: str                 # a key of TEXT_SOURCE_LABELS
    text: str
    name: str | None = None   # which file or track
    seconds: float | None = None
    box: tuple[float, float, float, float] | None = None   # on screen: left, top, right, bottom (0–1)

    @property
    def label(self) -> str:
        base = TEXT_SOURCE_LABELS.get(self.kind, self.kind)
        return f"{base}（{self.name}）" if self.name else base


def decode_text(raw: bytes) -> str:
    """Text as Windows tools write it (a sidecar, a transcript, a subtitle file): UTF-8 with or without BOM,
    UTF-16 with BOM, or GBK. Never raises and never yields surrogates or NULs: bad bytes become U+FFFD (an odd
    last byte, a lone surrogate); a last character that a capped read cut in two is dropped."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16", errors="replace")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            if exc.start >= len(raw) - 3 and exc.reason == "unexpected end of data":
                text = raw[:exc.start].decode("utf-8-sig")
            else:
                text = raw.decode("gb18030", errors="replace")
    return text.replace("\x00", "")
