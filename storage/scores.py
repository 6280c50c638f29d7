"""Judges' scores: each judge's save replaces that judge's scores of the entry and writes a ``scored`` event
under the judge's name, in one transaction. The arithmetic (totals, means, ranks) is not storage's: see
``intake/review/scoring.py``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from storage.models import Event, Score, Scorecard, Submission
from storage.values import not_found, stored_text


@dataclass(frozen=True)
class JudgeScores:
    """What one judge gave one entry: a value per criterion, a comment, and when it was saved."""

    submission_id: int
    judge: str
    values: dict[str, float]
    comment: str | None
    scored_at: datetime


def _record(card: Scorecard) -> JudgeScores:
    return JudgeScores(card.submission_id, card.judge, {s.criterion: s.value for s in card.scores}, card.comment,
                       card.scored_at)


def save_scores(s: Session, submission_id: int, judge: str, values: Mapping[str, float],
                comment: str | None) -> JudgeScores:
    """Replace ``judge``'s scores of the entry with ``values`` and log a ``scored`` event; NotFound for an
    unknown entry."""
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
    data = {"scores": dict(values), "comment": comment, **({"previous": previous} if previous is not None else {})}
    s.add(Event(submission_id=submission_id, kind="scored", actor=judge, data=data, at=now))
    s.flush()
    return _record(card)


def scores_of(s: Session, submission_ids: Sequence[int] | None = None, judge: str | None = None) -> list[JudgeScores]:
    """Every judge's scores (of ``submission_ids``, of ``judge`` when given), by entry and then judge."""
    query = select(Scorecard).options(selectinload(Scorecard.scores)).order_by(Scorecard.submission_id,
                                                                                Scorecard.judge)
    if submission_ids is not None:
        query = query.where(Scorecard.submission_id.in_(list(submission_ids)))
    if judge is not None:
        query = query.where(Scorecard.judge == judge)
    return [_record(card) for card in s.scalars(query)]
