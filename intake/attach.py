"""Add a file to a recorded submission (a video downloaded from a 超大附件 link), checking it first."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from intake.pipeline import Services, duplicate_found, inspect_files, store_files
from intake.records import record_files
from intake.task import MediaTask, Source, SubmissionTask


def attach_file(services: Services, submission_id: int, path: Path, actor: str | None = None) -> tuple[str, MediaTask]:
    """Store and check ``path``, append it to the submission; return (new outcome, the file's task)."""
    services.db.submission(submission_id)   # fails early, in Chinese, for an unknown id
    task = SubmissionTask(source=Source.ATTACH, received_at=datetime.now(timezone.utc),
                          files=[MediaTask(source_path=path, original_name=path.name)])
    for stage in (store_files, inspect_files):
        stage(task, services)
    outcome = record_files(services.db, submission_id, task.files, actor=actor, on_duplicate=duplicate_found)
    return outcome, task.files[0]
