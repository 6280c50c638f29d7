"""What the desk's entry page reads about one submission, in one transaction and few queries: the
submission with its files and latest checks (joined, not loaded by separate IN queries), its events (the
decisions are among them) and where its stored files lie. The page is opened once per work by each
reviewer, so it is read fresh each time rather than cached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from storage.audit import stored_event
from storage.judging import DECISION, decision_of
from storage.models import Event, MediaFile, Submission
from storage.records import StoredDecision, StoredEvent, StoredSubmission
from storage.submissions import stored_paths_of, stored_submission
from storage.values import not_found

if TYPE_CHECKING:
    from storage.database import Database


@dataclass(frozen=True)
class EntryRecords:
    submission: StoredSubmission
    events: tuple[StoredEvent, ...]   # oldest first
    stored_paths: dict[int, str]      # by file position, relative to storage.root

    def decisions(self) -> list[StoredDecision]:
        """The decisions, oldest first, as ``db.judging.decisions`` gives them."""
        return [decision_of(e) for e in self.events if e.kind == DECISION]


def entry_records(db: Database, submission_id: int) -> EntryRecords:
    """One submission as the entry page shows it; NotFound (in Chinese) for an unknown id."""
    with db.session() as s:
        sub = s.scalars(select(Submission).where(Submission.id == submission_id).options(
            joinedload(Submission.files).joinedload(MediaFile.original),
            joinedload(Submission.checks))).unique().one_or_none()
        if sub is None:
            raise not_found(submission_id)
        events = tuple(stored_event(e) for e in s.scalars(select(Event).where(Event.submission_id == submission_id)
                                                           .order_by(Event.id)))
        return EntryRecords(stored_submission(sub), events, stored_paths_of(s, submission_id))
