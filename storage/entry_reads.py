"""What the desk's entry page reads about one submission, in one transaction and four queries: the submission,
its files with where they lie in the store, its latest checks (``storage/submission_reads.py``), and its events
(the decisions are among them). The page is opened once per work by each reviewer, so it is read fresh each
time rather than cached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from storage.audit import stored_event
from storage.judging import DECISION, decision_of
from storage.models import Event
from storage.records import StoredDecision, StoredEvent, StoredSubmission
from storage.submission_reads import SUBMISSIONS, read_submissions
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
        found = read_submissions(s, SUBMISSIONS.c.id == submission_id)
        if not found:
            raise not_found(submission_id)
        events = tuple(stored_event(e) for e in s.scalars(select(Event).where(Event.submission_id == submission_id)
                                                           .order_by(Event.id)))
    sub = found[0]
    return EntryRecords(sub, events, {f.position: f.stored_path for f in sub.files if f.stored_path is not None})
