"""Record one item from outside exactly once: the path both sources (the inbox folder, the mailbox) take.

Everything runs under a claim on the item's ``source_ref``, so that two workers never read one item at the same
time, and the source's finishing step (the folder's note and move to done/, the mail's marking) runs while the
claim is still held. An item that keeps failing through its own fault ends recorded by its identity alone
(intake.pipeline.retries); what is not its fault (the database file gone, a mailbox or inbox door saying
"not now", as each source's ``triage`` says) is re-raised.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Protocol, Sequence, TypeVar

from core.errors import DatabaseGone, DuplicateSource, RetryLater
from intake.pipeline.services import Services
from intake.pipeline.stages import Stage, process
from intake.pipeline.retries import is_due, note_failure, record_processing_error
from intake.pipeline.task import SubmissionTask
from storage.writers import worker_id

T = TypeVar("T")


class How(Enum):
    PROCESSED = "processed"    # checked and recorded now
    GAVE_UP = "gave_up"        # recorded now by its identity alone, with processing_error
    EARLIER = "earlier"        # its ref was recorded before this call: only finishing is left
    RACED = "raced"            # recorded meanwhile by a worker whose lease had run out
    SAME_AS = "same_as"        # the source recognised it as an item recorded under another ref


@dataclass(frozen=True)
class Recorded:
    how: How
    submission_id: int
    task: SubmissionTask | None   # the task built (or, for GAVE_UP, the identity recorded); None for EARLIER

    @property
    def resumed(self) -> bool:
        """True when the record was made before (or beside) this call, not by it."""
        return self.how not in (How.PROCESSED, How.GAVE_UP)


class SourceItem(Protocol[T]):
    """One item from outside, as its source hands it over."""

    ref: str                    # the idempotency key: the same ref is never recorded twice
    arrival: Sequence[Stage]    # the source's own stages, run before the pipeline's (a zip unpacked…)

    def build(self, work: Path) -> SubmissionTask | None:
        """The item as a task (``work``: a fresh folder, removed afterwards); None if it is gone."""

    def identity(self) -> SubmissionTask:
        """What is known of the item without reading it: enough to record it if processing keeps failing."""

    def recorded_before(self, task: SubmissionTask) -> int | None:
        """The submission the item already is under another ref (a mail under a new UIDVALIDITY), or None."""

    def triage(self, exc: Exception) -> Exception:
        """Re-raise what is not the item's fault (the connection, the inbox door); return what is."""

    def finish(self, recorded: Recorded) -> T:
        """The source's own last step, while the claim is still held (move the file, mark the mail)."""


def record_once(item: SourceItem[T], services: Services) -> T | None:
    """Record ``item`` once and return what its ``finish`` returns. None when another worker holds the item,
    or ``build`` found it gone. Raises RetryLater while the item waits for another try."""
    db, worker, ref = services.db, worker_id(), item.ref
    if not db.claims.claim(ref, worker, services.config.database.claim_lease_seconds):
        return None
    try:
        submission_id = db.submissions.id_for_ref(ref)
        if submission_id is not None:
            return item.finish(Recorded(How.EARLIER, submission_id, None))
        failing = db.claims.failure_state(ref)
        if not is_due(failing):
            raise RetryLater(services.config.processing.retry_seconds)
        recorded = _record(item, services)
        if recorded is None:
            return None
        if failing is not None and recorded.how is not How.GAVE_UP:
            db.claims.clear_failures(ref)
        return item.finish(recorded)
    finally:
        db.claims.release(ref, worker)


def _record(item: SourceItem, services: Services) -> Recorded | None:
    work = services.config.storage.data_dir / "work" / uuid.uuid4().hex
    task = None
    try:
        task = item.build(work)
        if task is None:
            return None
        earlier = item.recorded_before(task)
        if earlier is not None:
            return Recorded(How.SAME_AS, earlier, task)
        process(task, services, item.arrival)
        return Recorded(How.PROCESSED, task.submission_id, task)
    except DuplicateSource as exc:
        return Recorded(How.RACED, exc.submission_id, task)
    except DatabaseGone:
        raise   # the whole job stops: nothing more may be recorded into a file nobody reads
    except Exception as exc:
        exc = item.triage(exc)
        verdict = note_failure(services, item.ref, exc)
        if not verdict.give_up:
            raise RetryLater(verdict.delay_seconds, exc, verdict.attempts) from exc
        bare = item.identity()
        return Recorded(How.GAVE_UP, record_processing_error(bare, services, exc, verdict.attempts), bare)
    finally:
        shutil.rmtree(work, ignore_errors=True)
