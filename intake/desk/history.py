"""A submission's audit log as a reviewer reads it: when, who, what happened, in Chinese."""

from __future__ import annotations

from typing import Any, Iterable

from core.timefmt import local_text
from intake.review.scoring import score_text
from intake.labels import DECISION_LABELS, FIELD_LABELS, OUTCOME_LABELS, SOURCE_LABELS, actor_label
from validators.results import Outcome

KIND_LABELS = {
    "recorded": "登记", "files_added": "补登文件", "decision": "评审决定", "edited": "修改信息",
    "rechecked": "重新检查", "receipt_sending": "发送回执", "receipt_sent": "回执已发送",
    "receipt_failed": "回执发送失败", "receipt_skipped": "未发送回执", "mail_seen_again": "再次收到同一封邮件",
    "mail_content": "邮件内容标识", "moved": "移动投递文件", "scored": "评分",
}


def _outcome(value: Any) -> str:
    try:
        return OUTCOME_LABELS[Outcome(value)]
    except ValueError:
        return str(value)


def _changes(changes: dict[str, dict[str, Any]]) -> list[str]:
    return [f"{FIELD_LABELS.get(name, name)}：{c.get('old') or '（空）'} → {c.get('new') or '（空）'}"
            for name, c in changes.items() if name in FIELD_LABELS]   # not where the title came from: a code


def event_text(kind: str, data: dict[str, Any]) -> str:
    """What one event says; the label alone for kinds this desk does not spell out."""
    parts: list[str] = []
    if kind == "recorded":
        parts.append(f"来源：{SOURCE_LABELS.get(data.get('source'), data.get('source') or '')}")
    elif kind == "decision":
        parts.append(DECISION_LABELS.get(data.get("decision"), str(data.get("decision"))))
        if data.get("forced"):
            parts.append("检查结果为不合格，评审仍决定入围")
        if data.get("note"):
            parts.append(f"备注：{data['note']}")
    elif kind == "scored":
        parts += [f"{name} {score_text(value)}" for name, value in (data.get("scores") or {}).items()]
        if data.get("comment"):
            parts.append(f"评语：{data['comment']}")
    elif kind == "files_added":
        parts.append("、".join(str(name) for name in data.get("files", [])))
    elif kind in ("edited", "rechecked"):
        parts += _changes(data.get("changes") or {})
        if data.get("note"):
            parts.append(f"备注：{data['note']}")
    elif kind in ("receipt_sending", "receipt_sent"):
        parts.append(f"收件人：{data.get('to', '')}")
    elif kind == "receipt_failed":
        parts.append(str(data.get("error", "")))
    outcome = data.get("outcome")
    if isinstance(outcome, dict) and outcome.get("old") != outcome.get("new"):
        parts.append(f"结果：{_outcome(outcome.get('old'))} → {_outcome(outcome.get('new'))}")
    elif isinstance(outcome, str):
        parts.append(f"结果：{_outcome(outcome)}")
    return "；".join(p for p in parts if p)


def history_of(events: Iterable[Any]) -> list[dict[str, str]]:
    """Each event, oldest first: time, who (``actor``: as stored, to compare with an account's name; ``who``: as
    people read it), what (label) and its details."""
    return [{"at": local_text(e.at), "actor": e.actor, "who": actor_label(e.actor), "kind": e.kind, "label": KIND_LABELS.get(e.kind, e.kind),
             "text": event_text(e.kind, e.data or {})} for e in events]
