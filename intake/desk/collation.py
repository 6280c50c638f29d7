"""Chinese text in the order a reader expects (by pinyin, as the report's table sorts with the browser's zh-CN
collation), for the list's server-side sort. Characters without a reading keep their own place."""

from __future__ import annotations

import functools

from validators.phrase import first_readings


@functools.cache
def _readings() -> dict[str, str]:
    return dict(first_readings())


def pinyin_key(text: str) -> str:
    """``text`` spelled by pinyin (柳南区 → "liu nan qu "), then the text itself to part same-sounding words."""
    readings = _readings()
    return "".join(readings.get(ch, ch.lower()) + " " for ch in text) + "\0" + text
