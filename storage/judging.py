"""Reviewers' decisions and judges' scores (``db.judging``); the arithmetic (totals, means, ranks) is
``intake/review/scoring.py``'s."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from storage.models import Event, Score, Scorecard, Submission
from storage.records import JudgeScores, StoredDecision, StoredEvent
from storage.values import not_found, stored_text
from storage.writers import Sessions, current_actor, retry_when_locked

DECISION = "decision"   # the kind of a decision's event


class Judging:
    def __init__(self, session: Sessions):
        self.session = session

    @retry_when_locked
    def record_decision(self, submission_id: int, decision: str, note: str | None, reviewer: str | None,
                        forced: bool = False, reasons: Sequence[str] = ()) -> StoredDecision:
        """Append a reviewer's decision to the audit log; the latest one counts, the history stays. ``forced``:
        the reviewer overrode a warning (a rejected or flagged work shortlisted), ``reasons`` what was overridden."""
        with self.session() as s:
            if s.get(Submission, submission_id) is None:
                raise not_found(submission_id)
            data = {"decision": decision, "note": note,
                    **({"forced": True, "reasons": list(reasons)} if forced else {})}
            event = Event(submission_id=submission_id, kind=DECISION, actor=reviewer or current_actor(), data=data)
            s.add(event)
            s.flush()
            return decision_of(event)

    def decisions(self, submission_ids: Sequence[int] | None = None) -> dict[int, list[StoredDecision]]:
        """Every decision (on ``submission_ids`` if given), oldest first, by submission id."""
        with self.session() as s:
            query = select(Event).where(Event.kind == DECISION).order_by(Event.id)
            if submission_ids is not None:
                query = query.where(Event.submission_id.in_(list(submission_ids)))
            out: dict[int, list[StoredDecision]] = {}
            for row in s.scalars(query):
                out.setdefault(row.submission_id, []).append(decision_of(row))
            return out

    @retry_when_locked
    def save_scores(self, submission_id: int, judge: str, values: Mapping[str, float],
                    comment: str | None) -> JudgeScores:
        """Replace ``judge``'s scores of the submission with ``values`` and log a ``scored`` event; NotFound for
        an unknown submission."""
        with self.session() as s:
            if s.get(Submission, submission_id) is None:
                raise not_found(submission_id)
            comment = stored_text(comment)
            card = s.scalar(select(Scorecard).where(Scorecard.submission_id == submission_id, Scorecard.judge == judge)
                            .options(selectinload(Scorecard.scores)))
            now = datetime.now(timezone.utc)
            previous = None
            if card is None:
                card = Scorecard(submission_id=submission_id, judge=judge)
                s.add(card)
            else:
                previous = {x.criterion: x.value for x in card.scores}
                card.scores.clear()
                s.flush()   # the old rows go before the new ones take their keys
            card.comment, card.scored_at = comment, now
            card.scores.extend(Score(criterion=stored_text(name), value=float(value)) for name, value in values.items())
            data = {"scores": dict(values), "comment": comment,
                    **({"previous": previous} if previous is not None else {})}
            s.add(Event(submission_id=submission_id, kind="scored", actor=judge, data=data, at=now))
            s.flush()
            return _judge_scores(card)

    def scores(self, submission_ids: Sequence[int] | None = None, judge: str | None = None) -> list[JudgeScores]:
        """Every judge's scores (of ``submission_ids``, of ``judge`` when given), by submission and then judge."""
        with self.session() as s:
            query = select(Scorecard).options(selectinload(Scorecard.scores)).order_by(Scorecard.submission_id,
                                                                                        Scorecard.judge)
            if submission_ids is not None:
                query = query.where(Scorecard.submission_id.in_(list(submission_ids)))
            if judge is not None:
                query = query.where(Scorecard.judge == judge)
            return [_judge_scores(card) for card in s.scalars(query)]


def decision_of(event: Event | StoredEvent) -> StoredDecision:
    """The decision a ``decision`` event holds."""
    data = event.data
    return StoredDecision(event.submission_id, data.get("decision"), data.get("note"), event.actor, event.at,
                          bool(data.get("forced")), tuple(data.get("reasons") or ()))


def _judge_scores(card: Scorecard) -> JudgeScores:
    return JudgeScores(card.submission_id, card.judge, {s.criterion: s.value for s in card.scores}, card.comment,
                       card.scored_at)
