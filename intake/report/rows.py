"""Flat report rows and the unit coverage table, built from submission views and the contest config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from intake.config import ContestConfig
from intake.labels import OUTCOME_LABELS, SOURCE_LABELS, check_label
from validators.results import Outcome

COLUMNS = [
    ("id", "编号"), ("unit", "单位"), ("unit_raw", "单位（报送时写法）"), ("contact", "联系人"), ("phone", "联系电话"),
    ("speaker", "代言人"), ("topic", "主题"), ("title", "作品名"), ("files", "文件"),
    ("duration_seconds", "时长（秒）"), ("size_mb", "大小（MB）"), ("received_at", "收件时间"), ("source", "来源"),
    ("outcome", "检查结果"), ("decision", "评审决定"), ("reviewer", "决定人"), ("decided_at", "决定时间"),
    ("note", "备注"), ("problems", "需要注意的问题"), ("sha256", "SHA-256"),
]
# Columns written as text in spreadsheets: a phone is not a number (leading 0, no 1.38E+10).
TEXT_COLUMNS = frozenset(index for index, (key, _) in enumerate(COLUMNS) if key == "phone")


def problems_of(view: dict[str, Any]) -> list[str]:
    return [f"【{check_label(c['id'])}】{c['message']}" for c in view["checks"] if c["status"] != "pass"]


def report_row(view: dict[str, Any]) -> dict[str, Any]:
    files = view["files"]
    durations = [f["duration_seconds"] for f in files if f["duration_seconds"] is not None]
    decision = view["decision"] or {}
    return {
        "id": view["id"], "unit": view["unit"] or "", "unit_raw": view["unit_raw"] or "",
        "contact": view["contact"] or "", "phone": view["phone"] or "", "speaker": view["speaker"] or "",
        "topic": view["topic"] or "", "title": view["title"] or "",
        "files": "；".join(f["original_name"] for f in files),
        "duration_seconds": round(max(durations), 1) if durations else None,
        "size_mb": round(sum(f["size_bytes"] for f in files) / 1048576, 1) if files else None,
        "received_at": view["received_at"][:19].replace("T", " "),
        "source": SOURCE_LABELS.get(view["source"], view["source"]),
        "outcome": OUTCOME_LABELS[Outcome(view["outcome"])],
        "decision": decision.get("label", ""), "reviewer": decision.get("reviewer", ""),
        "decided_at": (decision.get("at") or "")[:16].replace("T", " "), "note": decision.get("note") or "",
        "problems": "\n".join(problems_of(view)),
        "sha256": "；".join(f["sha256"] or "" for f in files),
    }


@dataclass
class CoverageRow:
    unit: str
    listed: bool
    submission_ids: list[int] = field(default_factory=list)
    status: str = ""


def coverage(views: list[dict[str, Any]], contest: ContestConfig) -> list[CoverageRow]:
    """Which units sent (not counting rejected works), which did not, which sent more than their quota."""
    rows = {u.name: CoverageRow(u.name, True) for u in contest.units}
    for view in views:
        if view["outcome"] == "rejected" or not view["unit"]:
            continue
        row = rows.setdefault(view["unit"], CoverageRow(view["unit"], False))
        row.submission_ids.append(view["id"])
    for row in rows.values():
        count = len(row.submission_ids)
        if not row.listed:
            row.status = "名单外单位"
        elif count == 0:
            row.status = "未报送"
        elif count > contest.quota_per_unit:
            row.status = f"超过名额（{count} 件）"
        else:
            row.status = "已报送"
    return list(rows.values())
