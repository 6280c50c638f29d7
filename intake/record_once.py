"""Record one item from outside exactly once: the path both sources (the inbox folder, the mailbox) take.

The steps, in this order, under a claim on the item's ``source_ref`` (so that
two workers never read one item at the same time):

1. already recorded under this ref (an earlier run stopped before finishing)?
   Nothing is read again; only the source's own finishing step runs.
2. still backing off after an earlier failure (intake.retries)? Try later.
3. build the task in a fresh work folder, ask the source whether it is the
   same item recorded under another ref (a mail under a new UIDVALIDITY),
   and run the pipeline, which commits the record.
4. a DuplicateSource from the commit: a worker whose lease had run out
   recorded it meanwhile; that record stands.
5. processing failed through the item's own fault: count the failure, and
   after ``processing.max_attempts`` record the item by its identity alone
   (待复核, ``processing_error``). Before that, RetryLater says when to try again.
6. the work folder is removed; the source's finishing step (the folder's note
   and move to done/, the mail's marking) runs while the claim is still held.

What is not a failure of processing (the database file gone, the mailbox or
the inbox door saying "not now") is re-raised: ``triage`` lets each source
say which of its own errors those are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Callable, TypeVar

from core.errors import DatabaseGone
from intake.archives import remove_tree
from intake.pipeline import Services, process
from intake.retries import clear_failures, is_due, note_failure, record_processing_error
from intake.task import SubmissionTask
from storage.database import DuplicateSource, worker_id

T = TypeVar("T")


class RetryLater(Exception):
    """Processing failed (or an earlier failure is still backing off): try again after ``delay`` seconds.

    ``cause`` is None while backing off; otherwise it is the failure just counted (``attempts`` so far).
    """

    def __init__(self, delay: float, cause: BaseException | None = None, attempts: int = 0):
        super().__init__(str(cause) if cause else "等待重试")
        self.delay = delay
        self.cause = cause
        self.attempts = attempts


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


def record_once(ref: str, services: Services, build: Callable[[Path], SubmissionTask | None], *,
                identity: Callable[[], SubmissionTask],
                on_recorded: Callable[[Recorded], T],
                already_recorded: Callable[[SubmissionTask], int | None] | None = None,
                triage: Callable[[Exception], Exception] | None = None) -> T | None:
    """Record the item ``ref`` once and return what ``on_recorded`` returns (run while the claim is held).

    None when another worker holds the item, or ``build`` found it gone. ``build(work)`` makes the task
    (``work`` is a fresh folder, removed afterwards); ``already_recorded(task)`` gives the submission the
    item already is under another ref, or None; ``identity()`` is what is known of the item for a record
    of its failure; ``triage(exc)`` re-raises what is not the item's fault and returns what is.
    Raises RetryLater while the item waits for another try.
    """
    db, worker = services.db, worker_id()
    if not db.claim(ref, worker, services.config.database.claim_lease_seconds):
        return None
    try:
        submission_id = db.submission_id_for_ref(ref)
        if submission_id is not None:
            return on_recorded(Recorded(How.EARLIER, submission_id, None))
        failing = db.failure_state(ref)
        if not is_due(failing):
            raise RetryLater(services.config.processing.retry_seconds)
        recorded = _record(ref, services, build, identity, already_recorded, triage)
        if recorded is None:
            return None
        if failing is not None and recorded.how is not How.GAVE_UP:
            clear_failures(services, ref)
        return on_recorded(recorded)
    finally:
        db.release(ref, worker)


def _record(ref: str, services: Services, build, identity, already_recorded, triage) -> Recorded | None:
    work = services.config.storage.data_dir / "work" / uuid.uuid4().hex
    task = None
    try:
        task = build(work)
        if task is None:
            return None
        earlier = already_recorded(task) if already_recorded else None
        if earlier is not None:
            return Recorded(How.SAME_AS, earlier, task)
        process(task, services)
        return Recorded(How.PROCESSED, task.submission_id, task)
    except DuplicateSource as exc:
        return Recorded(How.RACED, exc.submission_id, task)
    except DatabaseGone:
        raise   # the whole job stops: nothing more may be recorded into a file nobody reads
    except Exception as exc:
        exc = triage(exc) if triage else exc
        verdict = note_failure(services, ref, exc)
        if not verdict.give_up:
            raise RetryLater(verdict.delay_seconds, exc, verdict.attempts) from exc
        bare = identity()
        return Recorded(How.GAVE_UP, record_processing_error(bare, services, exc, verdict.attempts), bare)
    finally:
        remove_tree(work)
