"""Plain data views of recorded submissions, shared by ``intake list`` and reports."""

from __future__ import annotations

from typing import Any

from intake.labels import DECISION_LABELS
from core.timefmt import local_iso
from storage.models import Submission




def decision_json(decision: dict[str, Any]) -> dict[str, Any]:
    return {"decision": decision["decision"], "label": DECISION_LABELS.get(decision["decision"], decision["decision"]),
            "note": decision["note"], "reviewer": decision["reviewer"], "at": local_iso(decision["at"])}


def submission_view(sub: Submission, decisions: list[dict[str, Any]] = ()) -> dict[str, Any]:
    """The object of ``intake list --json`` for one submission; ``decisions`` oldest first."""
    file_positions = {f.id: f.position for f in sub.files}
    checks = []
    for check in sub.checks:
        item = {"id": check.check_id, "status": check.status, "code": check.code, "message": check.message}
        if check.media_file_id is not None:
            item["file"] = file_positions.get(check.media_file_id)
        checks.append(item)
    return {
        "id": sub.id,
        "source": sub.source,
        "source_ref": sub.source_ref,
        "received_at": local_iso(sub.received_at),
        "unit": sub.unit,
        "unit_raw": sub.unit_raw,
        "contact": sub.contact,
        "phone": sub.phone,
        "title": sub.title,
        "sender": sub.sender,
        "speaker": sub.speaker,
        "topic": sub.topic,
        "outcome": sub.outcome,
        "decision": decision_json(decisions[-1]) if decisions else None,
        "decisions": [decision_json(d) for d in decisions],
        "files": [
            {
                "sha256": f.sha256,
                "original_name": f.original_name,
                "size_bytes": f.size_bytes,
                "duration_seconds": f.duration_seconds,
                "outcome": f.outcome,
                "container": f.container,
                "video_codec": f.video_codec,
                "audio_codec": f.audio_codec,
                "width": f.width,
                "height": f.height,
            }
            for f in sub.files
        ],
        "checks": checks,
    }
