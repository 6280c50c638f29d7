"""Claims and failed attempts (``db.claims``): which worker holds an item (a dropped file, a mail) while it
processes it, and how often an item failed and when to try it again."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from core.textsafe import clean_text
from storage.models import Attempt, Claim
from storage.records import FailingItem
from storage.writers import Sessions, retry_when_locked


class Claims:
    def __init__(self, session: Sessions):
        self.session = session

    @retry_when_locked
    def claim(self, source_ref: str, worker: str, lease_seconds: float) -> bool:
        """Take ``source_ref`` for ``worker`` unless another live worker holds it; True if we have it now.

        The primary key makes the first claim win; an expired lease (its worker died) is taken
        over by a conditional UPDATE, which only one contender can win. On PostgreSQL the row is
        first locked with SKIP LOCKED so that a worker never waits on another.
        """
        now = datetime.now(timezone.utc)
        expires = now + timedelta(seconds=lease_seconds)
        try:
            with self.session() as s:
                s.add(Claim(source_ref=source_ref, worker=worker, claimed_at=now, expires_at=expires))
            return True
        except IntegrityError:
            pass
        with self.session() as s:
            query = select(Claim).where(Claim.source_ref == source_ref)
            if s.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = s.scalar(query)
            if row is None:
                return False   # locked by its holder right now (or just released: the next look takes it)
            stale = Claim.expires_at < now
            if _died_here(row.worker):
                stale = stale | (Claim.worker == row.worker)   # killed on this host: no need to wait out the lease
            taken = s.execute(update(Claim).where(Claim.source_ref == source_ref, stale)
                              .values(worker=worker, claimed_at=now, expires_at=expires))
            return taken.rowcount == 1

    @retry_when_locked
    def release(self, source_ref: str, worker: str) -> None:
        with self.session() as s:
            s.execute(delete(Claim).where(Claim.source_ref == source_ref, Claim.worker == worker))

    # -- failed attempts ------------------------------------------------------------------
    @retry_when_locked
    def note_failure(self, source_ref: str, error: str, delay_for: Callable[[int], float]) -> FailingItem:
        """Count one more failed try at ``source_ref``; ``delay_for(attempts)`` gives the wait in seconds.
        Returns the item as it stands now (attempts so far, when to try next)."""
        now = datetime.now(timezone.utc)
        with self.session() as s:
            row = s.get(Attempt, source_ref)
            if row is None:
                row = Attempt(source_ref=source_ref, attempts=0, last_error="", next_at=now)
                s.add(row)
            row.attempts += 1
            row.last_error = clean_text(error, 2000) or ""
            row.last_at = now
            row.next_at = now + timedelta(seconds=delay_for(row.attempts))
            return _failing_item(row)

    def failure_state(self, source_ref: str) -> FailingItem | None:
        """The item's failures so far (attempts, next try, last error), or None if it has not failed."""
        with self.session() as s:
            row = s.get(Attempt, source_ref)
            return None if row is None else _failing_item(row)

    @retry_when_locked
    def clear_failures(self, source_ref: str) -> None:
        with self.session() as s:
            s.execute(delete(Attempt).where(Attempt.source_ref == source_ref))

    def failing_items(self, prefix: str = "") -> list[FailingItem]:
        """Items still being retried (their source_ref starts with ``prefix``), the one failed longest ago first."""
        with self.session() as s:
            rows = s.scalars(select(Attempt).where(Attempt.source_ref.startswith(prefix)).order_by(Attempt.last_at))
            return [_failing_item(r) for r in rows]


def _failing_item(row: Attempt) -> FailingItem:
    return FailingItem(row.source_ref, row.attempts, row.next_at, row.last_error)


def _died_here(worker: str) -> bool:
    """True if ``worker`` ran on this host and its process is gone."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
