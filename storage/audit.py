"""The audit trail (``db.audit``): events appended and never changed, read back as ``StoredEvent`` records."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import select

from storage.models import Event
from storage.records import StoredEvent
from storage.values import jsonable, stored_text
from storage.writers import Sessions, current_actor, retry_when_locked


class Audit:
    def __init__(self, session: Sessions):
        self.session = session

    @retry_when_locked
    def record(self, kind: str, data: dict[str, Any], submission_id: int | None = None,
               actor: str | None = None) -> None:
        """Append a ``kind`` event (of the submission, if given) under ``actor``, else the system user."""
        with self.session() as s:
            s.add(Event(kind=kind, data=jsonable(data), submission_id=submission_id,
                        actor=stored_text(actor) or current_actor()))

    def events(self, submission_id: int | None = None) -> list[StoredEvent]:
        """Every event (of the submission, if given), oldest first."""
        with self.session() as s:
            query = select(Event).order_by(Event.id)
            if submission_id is not None:
                query = query.where(Event.submission_id == submission_id)
            return [stored_event(row) for row in s.scalars(query)]

    def latest(self, kinds: Sequence[str]) -> StoredEvent | None:
        """The newest event of any of ``kinds`` not tied to a submission (a switch such as receipts_on)."""
        with self.session() as s:
            row = s.scalar(select(Event).where(Event.kind.in_(list(kinds)), Event.submission_id.is_(None))
                           .order_by(Event.id.desc()).limit(1))
            return None if row is None else stored_event(row)


def stored_event(row: Event) -> StoredEvent:
    return StoredEvent(row.id, row.at, row.submission_id, row.kind, row.actor, row.data)
