"""Scoring by several judges: what a judge may enter, each judge's total, the entry's score, the ranking and
each judge's progress.

A judge's total is the weighted mean of the criteria's scores, so it stays on the 0..scale range whatever the
weights add up to (40/30/30 with 8, 7, 9 → 8.0). The entry's score is the mean of its judges' complete totals,
trimmed by the highest and lowest from 5 judges on; equal scores share a rank (1, 2, 2, 4). A rejected entry
can be scored only when a reviewer shortlisted it all the same.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from core.errors import UsageError

if TYPE_CHECKING:
    from intake.config import ScoringConfig
    from storage.records import JudgeScores

TRIM_FROM = 5          # judges from which the highest and the lowest total are dropped
COMMENT_CHARS = 2000
PLACES = 6             # scores equal to this many decimals share a rank
SCORING_EVENTS = ("scoring_closed", "scoring_reopened")   # the admin's 结束评分 and 重新开放评分


@dataclass(frozen=True)
class Standing:
    """One entry's scores: each complete judge's total, the entry's score (None: nobody has scored it),
    how it was worked out (``mean`` or ``trimmed_mean``), and its rank (None: not ranked)."""

    submission_id: int
    totals: dict[str, float]
    score: float | None
    method: str | None
    rank: int | None


@dataclass(frozen=True)
class Progress:
    judge: str
    scored: int
    scorable: int

    @property
    def text(self) -> str:
        return f"{self.scored} / {self.scorable}"


def parse_scores(given: Mapping[str, Any], scoring: ScoringConfig) -> dict[str, float]:
    """A judge's entries (criterion name → text) as numbers, in the config's order; UsageError in Chinese
    for a missing criterion, a value that is not a number, out of range or with more than one decimal."""
    missing = [c.name for c in scoring.criteria if not str(given.get(c.name) or "").strip()]
    if missing:
        raise UsageError(f"请为每个评分项打分：缺少“{'”“'.join(missing)}”。")
    values = {}
    for criterion in scoring.criteria:
        text = str(given[criterion.name]).strip()
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite():
            raise UsageError(f"“{criterion.name}”的分数“{text[:20]}”不是数字。")
        if not 0 <= value <= scoring.scale:
            raise UsageError(f"“{criterion.name}”的分数 {text[:20]} 超出范围：应为 0 到 {scoring.scale} 分。")
        if value != value.quantize(Decimal("0.1")):
            raise UsageError(f"“{criterion.name}”的分数 {text[:20]} 最多保留一位小数。")
        values[criterion.name] = float(value) + 0.0   # "-0" is 0, not -0.0 (shown as "-0")
    return values


def clean_comment(comment: str | None) -> str | None:
    text = (comment or "").strip()
    if len(text) > COMMENT_CHARS:
        raise UsageError(f"评语太长：最多 {COMMENT_CHARS} 个字。")
    return text or None


def weighted_total(values: Mapping[str, float], scoring: ScoringConfig) -> float | None:
    """Σ(weight × score) ÷ Σ weight over the config's criteria; None when a criterion has no score."""
    if any(c.name not in values for c in scoring.criteria):
        return None
    weights = sum(c.weight for c in scoring.criteria)
    return sum(c.weight * values[c.name] for c in scoring.criteria) / weights


def entry_score(totals: Sequence[float]) -> tuple[float | None, str | None]:
    """(score, method): the mean of the totals, trimmed by one at each end from ``TRIM_FROM`` judges on."""
    if not totals:
        return None, None
    if len(totals) >= TRIM_FROM:
        kept = sorted(totals)[1:-1]
        return sum(kept) / len(kept), "trimmed_mean"
    return sum(totals) / len(totals), "mean"


def ranks(scores: Mapping[int, float]) -> dict[int, int]:
    """Rank of each id by score, highest first; equal scores share a rank and the next is skipped."""
    rounded = {key: round(score, PLACES) for key, score in scores.items()}
    return {key: 1 + sum(other > score for other in rounded.values()) for key, score in rounded.items()}


def is_scorable(view: Mapping[str, Any]) -> bool:
    decision = view.get("decision") or {}
    return view["outcome"] != "rejected" or decision.get("decision") == "shortlist"


def standings(views: Iterable[Mapping[str, Any]], scores: Iterable[JudgeScores],
              scoring: ScoringConfig) -> dict[int, Standing]:
    """A standing for every entry that can be scored or has scores; only the former are ranked."""
    scorable = {v["id"] for v in views if is_scorable(v)}
    totals: dict[int, dict[str, float]] = {sid: {} for sid in scorable}
    for card in scores:
        total = weighted_total(card.values, scoring)
        entry = totals.setdefault(card.submission_id, {})
        if total is not None:
            entry[card.judge] = total
    worked = {sid: entry_score(list(t.values())) for sid, t in totals.items()}
    ranked = ranks({sid: score for sid, (score, _) in worked.items() if score is not None and sid in scorable})
    return {sid: Standing(sid, totals[sid], score, method, ranked.get(sid))
            for sid, (score, method) in sorted(worked.items())}


def judges_of(accounts: Iterable[tuple[str, str]], scores: Iterable[JudgeScores]) -> list[str]:
    """Every reviewer account (name, role), and whoever else has scored (an admin, a removed account)."""
    return sorted({name for name, role in accounts if role == "reviewer"} | {card.judge for card in scores})


def progress(views: Iterable[Mapping[str, Any]], scores: Iterable[JudgeScores], judges: Iterable[str],
             scoring: ScoringConfig) -> list[Progress]:
    """Each judge's N of M: entries that can be scored, and those of them the judge has scored in full."""
    scorable = {v["id"] for v in views if is_scorable(v)}
    done = Counter(card.judge for card in scores
                   if card.submission_id in scorable and weighted_total(card.values, scoring) is not None)
    return [Progress(judge, done[judge], len(scorable)) for judge in judges]


def scoring_closed(db):
    """The admin's 结束评分 in force (its event), or None while scoring is open."""
    latest = db.audit.latest(SCORING_EVENTS)
    return latest if latest is not None and latest.kind == "scoring_closed" else None


def score_text(value: float | None) -> str:
    """A score as people read it: two decimals at most, no trailing zeros (8, 8.5, 7.83); — for none."""
    if value is None:
        return "—"
    return f"{round(value, 2) + 0.0:.2f}".rstrip("0").rstrip(".")   # + 0.0: never "-0"


def record_scores(db, submission_id: int, judge: str, given: Mapping[str, Any], comment: str | None,
                  scoring: ScoringConfig) -> JudgeScores:
    """Check and save a judge's scores of an entry (replacing the judge's earlier ones; audited as ``scored``).
    UsageError for scores out of the rules or an entry that cannot be scored; NotFound for an unknown one."""
    from intake.pipeline.views import submission_view

    if not is_scorable(submission_view(db, submission_id)):
        raise UsageError(f"作品 #{submission_id} 的检查结果为不合格，不参加评分。", "评审决定入围后才能评分。")
    values = parse_scores(given, scoring)
    return db.judging.save_scores(submission_id, judge, values, clean_comment(comment))
