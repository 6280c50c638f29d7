"""Scoring on the desk: the score form of the entry page (a judge's own scores), the save, each judge's
progress on the overview, and the score and rank the list sorts by. The arithmetic is ``intake/scoring.py``'s."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from core.errors import IntakeError, UsageError
from intake.desk.accounts import Account
from intake.desk.app import Desk
from storage.scores import JudgeScores
from intake.scoring import (Progress, Standing, is_scorable, judges_of, progress, record_scores, score_text, standings,
                            weighted_total)

FIELD = "score:"   # the form field of a criterion is FIELD + its name (a criterion may be named "comment")
NO_RANK = 999999   # sorts an entry without a rank after every ranked one
NO_SCORE = {"score_text": "—", "score": -1, "rank": NO_RANK, "rank_text": "—"}


def _scores(desk: Desk) -> list[JudgeScores]:
    """Every judge's scores, read once per state of the database (each save writes an event)."""
    return desk.derived("scores", lambda views: desk.db.scores())


def _standings(desk: Desk) -> dict[int, Standing]:
    """Every entry's standing, worked out once per state of the database."""
    scoring, cards = desk.config.contest.scoring, _scores(desk)
    return desk.derived("standings", lambda views: standings(views, cards, scoring))


def score(request: Request, desk: Desk, account: Account, form) -> Response:
    """Save the logged-in judge's scores of the entry (a field per criterion, ``score:名称``, and a comment)."""
    from intake.desk import pages   # the entry page shows this module's part

    submission_id = request.path_params["submission_id"]
    scoring = desk.config.contest.scoring
    given = {c.name: form.get(FIELD + c.name) for c in scoring.criteria}
    try:
        record_scores(desk.db, submission_id, account.name, given, form.get("comment"), scoring)
    except IntakeError as exc:
        status = 400 if isinstance(exc, UsageError) else 500
        if exc.__class__.__name__ == "NotFound":
            status = 404
        message = exc.message + (f" {exc.hint}" if exc.hint else "")
        return pages.entry(request, desk, account, None, error=message, status=status, given=given,
                           comment=form.get("comment"))
    return RedirectResponse(f"/entries/{submission_id}?done=score", status_code=303)


def entry_scores(desk: Desk, account: Account, view: dict[str, Any], given: dict[str, Any] | None = None,
                 comment: str | None = None) -> dict[str, Any]:
    """What the entry page shows of scoring: the form with the judge's own saved scores (or what was just
    typed, when it was refused), the judge's total, and for an admin every judge's scores."""
    scoring = desk.config.contest.scoring
    cards = desk.db.scores([view["id"]])
    own = next((c for c in cards if c.judge == account.name), None)
    values = {c.name: (given or {}).get(c.name, own.values.get(c.name) if own else None) for c in scoring.criteria}
    standing = _standings(desk).get(view["id"])
    judges = []
    if account.role == "admin":
        judges = [{"judge": c.judge, "values": [score_text(c.values.get(k.name)) for k in scoring.criteria],
                   "total": score_text(weighted_total(c.values, scoring)), "comment": c.comment or ""} for c in cards]
    return {
        "criteria": scoring.criteria, "scale": scoring.scale, "scorable": is_scorable(view),
        "values": {name: "" if value is None else score_text(value) if isinstance(value, float) else str(value)
                   for name, value in values.items()},
        "comment": comment if given is not None else (own.comment if own else "") or "",
        "own_total": score_text(weighted_total(own.values, scoring)) if own else None,
        "saved_at": own.scored_at if own else None,
        "judges": judges,
        "score": score_text(standing.score if standing else None),
        "method": {"mean": "平均分", "trimmed_mean": "去掉一个最高分和一个最低分后的平均分"}.get(
            standing.method if standing else None, ""),
        "rank": standing.rank if standing else None,
    }


def private_history(history: list[dict[str, str]], account: Account) -> list[dict[str, str]]:
    """The history as ``account`` may read it: a judge reads only their own scores; an admin reads all."""
    if account.role == "admin":
        return history
    return [{**h, "text": "（其他评委的评分不公开）"} if h["kind"] == "scored" and h["actor"] != account.name else h
            for h in history]


def overview_progress(desk: Desk) -> list[Progress]:
    """Each judge's N / M on the overview. Accounts are read each time: one added from the command line
    leaves no event that would renew the views."""
    cards = _scores(desk)
    judges = judges_of(((u.name, u.role) for u in desk.db.users()), cards)
    return progress(desk.views(), cards, judges, desk.config.contest.scoring)


def list_cells(desk: Desk) -> dict[int, dict[str, Any]]:
    """Score and rank per entry id, for the list's two sortable columns."""
    return {sid: {"score_text": score_text(s.score), "score": -1 if s.score is None else round(s.score, 4),
                  "rank": s.rank or NO_RANK, "rank_text": str(s.rank) if s.rank else "—"}
            for sid, s in _standings(desk).items()}
