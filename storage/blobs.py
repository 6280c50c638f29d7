"""Rows of stored contents (``blobs``): one per SHA-256, however many files point at it."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.filestore import StoredBlob
from storage.models import Blob


def insert_blob(s: Session, blob: StoredBlob, submission_id: int) -> int | None:
    """Record ``blob`` unless it is recorded; return the submission that brought it first."""
    # Each dialect's module loads with its engine: an SQLite user never loads PostgreSQL's.
    if s.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    s.execute(insert(Blob).values(sha256=blob.sha256, size_bytes=blob.size_bytes, stored_path=blob.relative_path,
                                  first_submission_id=submission_id, created_at=datetime.now(timezone.utc))
              .on_conflict_do_nothing(index_elements=["sha256"]))
    return s.scalar(select(Blob.first_submission_id).where(Blob.sha256 == blob.sha256))
