"""Times as the bureau reads them: Asia/Shanghai, to the minute."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_text(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def local_iso(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")
