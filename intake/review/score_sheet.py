"""The score sheet (``intake scores``), for the record: one row per entry that can be scored or has scores,
in rank order, with each judge's score per criterion, the judge's total and comment, the number of judges
counted, the entry's score, how it was worked out, and its rank. Every cell passes ``core.textsafe.cell``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from intake.report.sheet import write_sheet
from intake.review.scoring import judges_of, standings, weighted_total

if TYPE_CHECKING:
    from intake.config import ContestConfig
    from storage.records import JudgeScores

METHODS = {"mean": "平均分", "trimmed_mean": "去掉最高分和最低分后的平均分"}


def _number(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def sheet(views: list[dict[str, Any]], scores: list[JudgeScores], contest: ContestConfig,
          accounts: Iterable[tuple[str, str]] = ()) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) of the score sheet; ``accounts`` (name, role) adds reviewers who have not scored yet."""
    scoring = contest.scoring
    judges = judges_of(accounts, scores)
    cards = {(card.submission_id, card.judge): card for card in scores}
    found = standings(views, scores, scoring)
    header = ["名次", "作品编号", "参赛单位", "作品名"]
    for judge in judges:
        header += [f"{judge}·{c.name}" for c in scoring.criteria] + [f"{judge}·总分", f"{judge}·评语"]
    header += ["计入的评委数", f"作品得分（满分 {scoring.scale}）", "计分方法"]
    by_id = {v["id"]: v for v in views}
    order = sorted(found.values(), key=lambda s: (s.rank is None, s.rank or 0, s.submission_id))
    rows = []
    for standing in order:
        view = by_id.get(standing.submission_id, {})
        row: list[Any] = [standing.rank, standing.submission_id, view.get("unit"), view.get("title")]
        for judge in judges:
            card = cards.get((standing.submission_id, judge))
            values = card.values if card else {}
            row += [values.get(c.name) for c in scoring.criteria]
            row += [_number(weighted_total(values, scoring)) if card else None, card.comment if card else None]
        row += [len(standing.totals), _number(standing.score), METHODS.get(standing.method or "", "")]
        rows.append(row)
    return header, rows


def rule_text(contest: ContestConfig) -> str:
    """How the sheet's numbers were worked out, in one line."""
    scoring = contest.scoring
    weights = "、".join(f"{c.name} {c.weight}" for c in scoring.criteria)
    return (f"“{contest.name}”评分表：每项 0–{scoring.scale} 分；评委总分 = Σ（权重 × 分数）÷ 权重之和（权重：{weights}）；"
            f"作品得分为各评委总分的平均分，5 位及以上评委时去掉一个最高分和一个最低分后再平均；得分相同名次相同。")


def write_xlsx(header: list[str], rows: list[list[Any]], path: Path, contest: ContestConfig) -> Path:
    widths = [6, 8, 16, 24] + [10] * (len(header) - 7) + [12, 14, 24]
    wrap = [i for i, label in enumerate(header) if label.endswith("·评语")]
    return write_sheet(path, "评分表", header, rows, widths=widths, wrap_columns=wrap, freeze="E3",
                       number_formats={i: "0.0#" for i, label in enumerate(header) if "·" in label and i not in wrap},
                       title_row=rule_text(contest))
