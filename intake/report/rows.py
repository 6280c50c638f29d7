"""Flat report rows (HTML table, CSV, xlsx), built from submission views."""

from __future__ import annotations

from typing import Any

from core.numbers import duration_text, size_text
from intake.labels import OUTCOME_LABELS, SOURCE_LABELS, actor_label, check_label
from intake.pipeline.secrecy import flag_summary
from validators.results import Outcome

COLUMNS = [
    ("id", "编号"), ("unit", "单位"), ("unit_raw", "单位（报送时写法）"), ("contact", "联系人"), ("phone", "联系电话"),
    ("sender", "发件人"), ("speaker", "代言人"), ("topic", "主题"), ("title", "作品名"), ("files", "文件"),
    ("duration", "时长"), ("size", "大小"), ("resolution", "分辨率"), ("received_at", "收件时间"), ("source", "来源"),
    ("outcome", "检查结果"), ("secrecy", "涉密提醒"), ("decision", "评审决定"), ("forced", "强制入围"),
    ("reviewer", "决定人"), ("decided_at", "决定时间"), ("note", "备注"), ("problems", "需要注意的问题"),
    # The same numbers raw, for a script or a spreadsheet formula.
    ("duration_seconds", "时长（秒）"), ("size_bytes", "大小（字节）"), ("sha256", "SHA-256"),
]
# Columns written as text in spreadsheets: a phone is not a number (leading 0, no 1.38E+10).
TEXT_COLUMNS = frozenset(index for index, (key, _) in enumerate(COLUMNS) if key == "phone")


def forced_text(decision: dict[str, Any]) -> str:
    """What a forced shortlist overrode (检查结果是不合格（时长）；发现可能涉密的内容：…); empty if not forced."""
    if not decision.get("forced"):
        return ""
    return "；".join(decision.get("reasons") or []) or "检查结果是不合格"


def main_file(files: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The file that stands for the work: the longest one with a picture, else the first."""
    videos = [f for f in files if f["width"] and f["height"]]
    if videos:
        return max(videos, key=lambda f: f["duration_seconds"] or 0)
    return files[0] if files else None


def is_portrait(f: dict[str, Any] | None) -> bool:
    return bool(f and f["width"] and f["height"] and f["height"] > f["width"])


def dimensions(f: dict[str, Any] | None) -> str:
    """1920×1080; empty without a picture."""
    return f"{f['width']}×{f['height']}" if f and f["width"] and f["height"] else ""


def resolution_text(f: dict[str, Any] | None) -> str:
    """1920×1080, or 1080×1920 竖屏 for a picture taller than wide; empty without a picture."""
    return dimensions(f) + (" 竖屏" if is_portrait(f) else "")


def duration_of(files: list[dict[str, Any]]) -> float | None:
    """The work's duration: its longest file."""
    durations = [f["duration_seconds"] for f in files if f["duration_seconds"] is not None]
    return max(durations) if durations else None


def size_of(files: list[dict[str, Any]]) -> int | None:
    """The work's size: all its files together."""
    return sum(f["size_bytes"] for f in files) if files else None


def report_row(view: dict[str, Any]) -> dict[str, Any]:
    files = view["files"]
    duration, size = duration_of(files), size_of(files)
    decision = view["decision"] or {}
    return {
        "id": view["id"], "unit": view["unit"] or "", "unit_raw": view["unit_raw"] or "",
        "contact": view["contact"] or "", "phone": view["phone"] or "", "sender": view["sender"] or "",
        "speaker": view["speaker"] or "", "topic": view["topic"] or "", "title": view["title"] or "",
        "files": "；".join(f["original_name"] for f in files),
        "duration": duration_text(duration), "size": size_text(size), "resolution": resolution_text(main_file(files)),
        "received_at": view["received_at"][:19].replace("T", " "),
        "source": SOURCE_LABELS.get(view["source"], view["source"]),
        "outcome": OUTCOME_LABELS[Outcome(view["outcome"])],
        "secrecy": flag_summary(view["secrecy"]),
        "decision": decision.get("label", ""), "forced": forced_text(decision),
        "reviewer": actor_label(decision["reviewer"]) if decision else "",
        "decided_at": (decision.get("at") or "")[:16].replace("T", " "), "note": decision.get("note") or "",
        "problems": "\n".join(f"【{check_label(c['id'])}】{c['message']}"
                              for c in view["checks"] if c["status"] != "pass"),
        "duration_seconds": round(duration, 1) if duration is not None else None, "size_bytes": size,
        "sha256": "；".join(f["sha256"] or "" for f in files),
    }
