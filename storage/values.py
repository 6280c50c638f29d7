"""Values on their way into the database: text it always accepts, JSON it can hold, a row per check and one
per stored content (``blobs``: one per SHA-256, however many files point at it)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.textsafe import clean_text, clip_bytes
from storage.filestore import StoredBlob
from storage.models import Blob, CheckRecord
from storage.records import CheckRow


def stored_text(value: str | None) -> str | None:
    """Last line of defence: text reaches the database without NUL or lone surrogates, whatever the caller did
    (PostgreSQL refuses the one, every driver the other, and the item would fail on every try)."""
    return clean_text(value) if isinstance(value, str) else value


def stored_key(value: str | None) -> str | None:
    # An indexed TEXT column: PostgreSQL's btree refuses entries over about 2,700 bytes.
    return clip_bytes(stored_text(value), 1000) if value else value


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {stored_text(str(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return stored_text(str(value))


def check_record(submission_id: int, media_file_id: int | None, check: CheckRow, run: int = 1) -> CheckRecord:
    return CheckRecord(submission_id=submission_id, media_file_id=media_file_id, check_id=check.check_id,
                       status=check.status, code=check.code, message=stored_text(check.message) or "",
                       details=jsonable(check.details), run=run)


def check_row_of(record: CheckRecord) -> CheckRow:
    return CheckRow(record.check_id, record.status, record.code, record.message, dict(record.details or {}))


def not_found(submission_id: int) -> NotFound:
    return NotFound(f"找不到编号为 {submission_id} 的作品。", "请用 intake list 查看作品编号。")


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
