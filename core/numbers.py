"""Durations and sizes as people read them (2分10秒, 8秒, 12.4 MB, 300 MB); ``--json`` keeps the raw numbers."""

from __future__ import annotations

import math

KIB = 1024
MIB = 1024 * 1024
GIB = 1024 * MIB


def size_text(size_bytes: int | None) -> str:
    """A size as Windows Explorer shows it (binary units labelled MB): 12.4 MB, 300 MB, 812 KB, 15 字节."""
    if size_bytes is None:
        return ""
    for unit, label in ((GIB, "GB"), (MIB, "MB"), (KIB, "KB")):
        if size_bytes >= unit:
            return f"{size_bytes / unit:.1f}".removesuffix(".0") + f" {label}"   # one decimal, dropped when zero
    return f"{size_bytes} 字节"


def size_mb(size_bytes: int | None) -> float | None:
    """Megabytes (MiB) with one decimal, as a number (for a spreadsheet cell)."""
    return None if size_bytes is None else round(size_bytes / MIB, 1)


def duration_text(seconds: float | None, exact: bool = False) -> str:
    """A duration in whole seconds: 2分10秒, 2分, 8秒. ``exact`` keeps one decimal when it is not a whole second
    (2分0.4秒), for a message that must show why 120.4 s is over a 120 s limit."""
    if seconds is None or math.isnan(seconds):
        return ""
    if exact and abs(seconds - round(seconds)) >= 0.05:
        minutes, rest = divmod(round(seconds, 1), 60)
        secs = f"{rest:.1f}秒"
    else:
        minutes, rest = divmod(round(seconds), 60)
        secs = f"{int(rest)}秒" if rest or not minutes else ""
    return f"{int(minutes)}分{secs}" if minutes else secs


def moment_text(seconds: float | None) -> str:
    """A moment in a video as a reviewer seeks to it: 约第 30 秒, 约第 70 秒（1分10秒）."""
    if seconds is None or math.isnan(seconds):
        return ""
    shown = f"约第 {seconds:.0f} 秒"
    return f"{shown}（{duration_text(seconds)}）" if seconds >= 60 else shown
