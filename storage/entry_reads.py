"""What the desk's entry page reads about one submission, in one transaction and few queries: the
submission with its files and latest checks (joined, not loaded by separate IN queries), its events (the
decisions are among them) and where its stored files lie. The page is opened once per work by each
reviewer, so it is read fresh each time rather than cached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from storage.models import Blob, Event, MediaFile, Submission
from storage.values import not_found

if TYPE_CHECKING:
    from storage.database import Database


@dataclass(frozen=True)
class EntryRecords:
    submission: Submission
    events: list[Event]             # oldest first
    stored_paths: dict[int, str]    # by file position, relative to storage.root

    def decisions(self) -> list[dict[str, Any]]:
        """The decisions, oldest first, as ``Database.decisions`` gives them."""
        from storage.database import _decision_view

        return [_decision_view(e) for e in self.events if e.kind == "decision"]


def entry_records(db: Database, submission_id: int) -> EntryRecords:
    """One submission as the entry page shows it; NotFound (in Chinese) for an unknown id."""
    with db.session() as s:
        sub = s.scalars(select(Submission).where(Submission.id == submission_id).options(
            joinedload(Submission.files).joinedload(MediaFile.original),
            joinedload(Submission.checks))).unique().one_or_none()
        if sub is None:
            raise not_found(submission_id)
        events = list(s.scalars(select(Event).where(Event.submission_id == submission_id).order_by(Event.id)))
        paths = s.execute(select(MediaFile.position, Blob.stored_path).join(Blob, Blob.sha256 == MediaFile.sha256)
                          .where(MediaFile.submission_id == submission_id))
        return EntryRecords(sub, events, {position: path for position, path in paths})
