"""What the secrecy scan found on a recorded work, as everything downstream shows it: ``intake list``, the
report, 汇总表, the export, the desk, and the guard on shortlisting.

A work is *flagged* when a ``sensitive_content`` check of it found something; its scan is *incomplete* when a
check says part of a picture was never read. Both travel with the work to every place a reviewer decides.
"""

from __future__ import annotations

from typing import Any, Iterable

from core.numbers import moment_text

FLAGGED, INCOMPLETE = "flagged", "scan_incomplete"
SHOWN = 3   # findings named in a one-line summary


def secrecy_of(checks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``{"flagged", "incomplete", "found"}`` of a work, from its checks as ``view_of`` reads them (with
    ``details``); each finding as the check recorded it, with the file it is in (None: the mail's text)."""
    found: list[dict[str, Any]] = []
    incomplete = False
    for check in checks:
        if check["id"] != "sensitive_content":
            continue
        details = check.get("details") or {}
        codes = set(details.get("codes") or [check["code"]])
        incomplete = incomplete or INCOMPLETE in codes
        if FLAGGED in codes:
            found += [{"file": check.get("file"), "text": item.get("text"), "seconds": item.get("seconds"),
                       "where": item.get("where"), "kind": item.get("kind"), **({"box": item["box"]} if item.get("box") else {}),
                       **({"misread": True} if item.get("misread") else {})}
                      for item in details.get("found") or []]
    return {"flagged": bool(found), "incomplete": incomplete, "found": found}


def finding_text(item: dict[str, Any]) -> str:
    """“机密★10年”（画面文字，约第 70 秒（1分10秒））"""
    where = [item.get("where") or ""]
    if item.get("seconds") is not None:
        where.append(moment_text(item["seconds"]))
    return f"“{item['text']}”（{'，'.join(w for w in where if w)}）"


def flag_summary(secrecy: dict[str, Any]) -> str:
    """One line: the findings (the first few), and an incomplete scan; empty when there is neither."""
    parts = []
    found = secrecy.get("found") or []
    if found:
        more = f"等 {len(found)} 处" if len(found) > SHOWN else ""
        parts.append("发现可能涉密的内容：" + "、".join(finding_text(item) for item in found[:SHOWN]) + more)
    if secrecy.get("incomplete"):
        parts.append("全片扫描未完成：有画面未能查看，请人工观看")
    return "；".join(parts)


def secrecy_marks(secrecy: dict[str, Any]) -> list[str]:
    """The short marks a list row carries: 涉密提醒, 扫描未完成."""
    return (["涉密提醒"] if secrecy.get("flagged") else []) + (["扫描未完成"] if secrecy.get("incomplete") else [])
