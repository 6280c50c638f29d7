"""Scoring on the desk: the entry page's score form, the save, each judge's progress, the list's score and rank
columns, and the admin's 结束评分 (``intake/review/scoring.py`` does the arithmetic). Until scoring is closed, a
judge (``desk.sealed``) sees only their own scores, decisions and notes, and no work's score or rank."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from core.timefmt import local_text

from intake.desk.accounts import Account
from intake.desk.base import Desk
from intake.desk.guard import allowed, form_of, seen
from storage.records import JudgeScores
from intake.review.scoring import Progress, Standing, judges_of, progress, score_text, standings, weighted_total

FIELD = "score:"   # the form field of a criterion is FIELD + its name (a criterion may be named "comment")
NO_RANK = 999999   # sorts an entry without a rank after every ranked one
NO_SCORE = {"score_text": "—", "score": -1, "rank": NO_RANK, "rank_text": "—"}
CLOSED = "评分已结束，不能再保存评分。"
CLOSED_HINT = "如需修改，请管理员在概览页重新开放评分。"


def _scores(desk: Desk) -> list[JudgeScores]:
    """Every judge's scores, read once per state of the database (each save writes an event)."""
    return desk.derived("scores", lambda views: desk.db.judging.scores())


def _standings(desk: Desk) -> dict[int, Standing]:
    """Every entry's standing, worked out once per state of the database."""
    scoring, cards = desk.config.contest.scoring, _scores(desk)
    return desk.derived("standings", lambda views: standings(views, cards, scoring))


def entry_scores(desk: Desk, account: Account, view: dict[str, Any], given: dict[str, Any] | None,
                 comment: str | None, scorable: bool) -> dict[str, Any]:
    """What the entry page shows of scoring (``given``, ``comment``: what was typed, when it was refused);
    ``scorable``: as every decision says (the view may hold the judge's own only)."""
    scoring = desk.config.contest.scoring
    cards = desk.db.judging.scores([view["id"]])
    own = next((c for c in cards if c.judge == account.name), None)
    values = {c.name: (given or {}).get(c.name, own.values.get(c.name) if own else None) for c in scoring.criteria}
    revealed = not desk.sealed
    standing = _standings(desk).get(view["id"]) if revealed else None
    judges = [{"judge": c.judge, "values": [score_text(c.values.get(k.name)) for k in scoring.criteria],
               "total": score_text(weighted_total(c.values, scoring)), "comment": c.comment or ""}
              for c in cards] if account.role == "admin" else []
    return {
        "criteria": scoring.criteria, "scale": scoring.scale,
        "scorable": scorable, "revealed": revealed,
        "closed": desk.scoring_closed() is not None,
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


def private_history(history: list[dict[str, str]], account: Account, sealed: bool = False) -> list[dict[str, str]]:
    """The history as ``account`` may read it: a judge reads only their own scores, and while ``sealed`` only
    their own decisions and notes."""
    if account.role == "admin":
        return history
    hidden = {"scored": "（其他评委的评分不公开）"}
    if sealed:
        hidden["decision"] = "（评分结束前，其他人的评审决定和备注不公开）"
    return [{**h, "text": hidden[h["kind"]]} if h["kind"] in hidden and h["actor"] != account.name else h
            for h in history]


def overview_progress(desk: Desk) -> list[Progress]:
    """Each judge's N / M on the overview (a judge's own only, while scoring is open). Accounts are read each
    time: one added from the command line leaves no event that would renew the views."""
    cards = _scores(desk)
    judges = [desk.judge] if desk.sealed else judges_of(((u.name, u.role) for u in desk.db.accounts.all()), cards)
    return progress(desk.all_views(), cards, judges, desk.config.contest.scoring)


def list_cells(desk: Desk) -> dict[int, dict[str, Any]]:
    """Score and rank per entry id for the list; while ``sealed``, a judge's own total and no rank."""
    if desk.sealed:
        scoring = desk.config.contest.scoring
        own = {card.submission_id: weighted_total(card.values, scoring) for card in desk.db.judging.scores(judge=desk.judge)}
        return {sid: {**NO_SCORE, "score_text": score_text(total), "score": -1 if total is None else round(total, 4)}
                for sid, total in own.items()}
    return {sid: {"score_text": score_text(s.score), "score": -1 if s.score is None else round(s.score, 4),
                  "rank": s.rank or NO_RANK, "rank_text": str(s.rank) if s.rank else "—"}
            for sid, s in _standings(desk).items()}


def scoring_state(desk: Desk) -> dict[str, Any]:
    """What the overview says of scoring: open or closed (by whom, when)."""
    closed = desk.scoring_closed()
    return {"closed": closed is not None, "by": closed.actor if closed else None,
            "at": local_text(closed.at) if closed else None, "reveal": desk.config.contest.scoring.reveal,
            "sealed": desk.sealed}


@allowed("scoring")
def switch_scoring(request: Request) -> Response:
    """The admin's 结束评分 and 重新开放评分, each an event in the audit log."""
    desk, account, form = seen(request), request.user, form_of(request)
    what = str(form.get("do") or "")
    if what not in ("close", "reopen"):
        return RedirectResponse("/", status_code=303)
    closed = desk.scoring_closed() is not None
    if (what == "close") != closed:
        desk.db.audit.record("scoring_closed" if what == "close" else "scoring_reopened", {}, actor=account.name)
    return RedirectResponse(f"/?done=scoring_{what}", status_code=303)
