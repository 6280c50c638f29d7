"""Render the screening report in each format. The core returns text/bytes or writes a file; it never prints."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from jinja2 import Environment, PackageLoader

from core.numbers import duration_text, size_text
from core.textsafe import clean_name
from core.timefmt import local_text
from intake.config import Config
from intake.review.unit_coverage import STATE_LABELS, UnitState, state_text, unit_coverage, warning_text
from intake.report.export import safe_part
from intake.labels import DECISION_LABELS, OUTCOME_LABELS, check_label
from intake.report.rows import COLUMNS, TEXT_COLUMNS, dimensions, duration_of, is_portrait, main_file, report_row, \
    size_of
from intake.report.sheet import csv_text, write_sheet
from intake.report.thumbs import data_uri, thumbnail
from intake.review.scoring import Standing, score_text, scoring_closed, standings
from validators.results import Outcome

# Autoescape for every template this environment loads, whatever its name: all of it shows outside text.
ENV = Environment(loader=PackageLoader("intake", "templates"), autoescape=True)
# The report's colours for the states of unit coverage that need attention.
COVERAGE_CSS = {UnitState.MISSING: "missing", UnitState.ONLY_REJECTED: "missing", UnitState.OVER_QUOTA: "over"}
OUTCOME_RANK = {"accepted": 0, "needs_review": 1, "rejected": 2}
# Files that passed the box walk show their picture (a QuickTime file too, though only an MP4 gets a play link).
PICTURED = ("mp4", "quicktime")
# What the link plays when the file was repaired (the original is kept in the store).
REPAIRS = {"remux": "已无损转换为 MP4，原文件已保存", "shrink": "已压缩（重新编码），原文件已保存"}


def json_report(views: list[dict[str, Any]]) -> str:
    return json.dumps(views, ensure_ascii=False, indent=2)


def csv_report(views: list[dict[str, Any]]) -> str:
    """UTF-8 with BOM so that Chinese Excel opens it correctly."""
    rows = ([report_row(view)[key] for key, _ in COLUMNS] for view in views)
    return csv_text([label for _, label in COLUMNS], rows, TEXT_COLUMNS)


def write_xlsx(views: list[dict[str, Any]], path: Path, sheet: str = "初步筛选") -> Path:
    widths = {"problems": 60, "sha256": 30, "files": 30, "topic": 24, "title": 24, "received_at": 19, "sender": 24,
              "resolution": 14}
    rows = ([report_row(view)[key] for key, _ in COLUMNS] for view in views)
    return write_sheet(path, sheet, [label for _, label in COLUMNS], rows,
                       widths=[widths.get(key, 12) for key, _ in COLUMNS], text_columns=TEXT_COLUMNS,
                       wrap_columns=[index for index, (key, _) in enumerate(COLUMNS) if key == "problems"],
                       freeze="B2")


def revealed_standings(db, views: list[dict[str, Any]], config: Config) -> dict[int, Standing] | None:
    """Each work's score and rank over ``views`` (every work), once scoring is closed (the admin's 结束评分 on the
    desk; at once with ``contest.scoring.reveal: always``); None while it is open. The report is for those who run
    the tool, as the desk shows admins."""
    if config.contest.scoring.reveal != "always" and scoring_closed(db) is None:
        return None
    return standings(views, db.judging.scores(), config.contest.scoring)


def html_report(views: list[dict[str, Any]], config: Config, output: Path | None, with_videos: bool = False,
                filters: str = "", progress: Callable[[int, int], None] | None = None,
                all_views: list[dict[str, Any]] | None = None,
                scores: dict[int, Standing] | None = None) -> str:
    """One self-contained page (thumbnails inline, videos linked or copied beside it). The unit coverage counts
    ``all_views`` when the rows are filtered; ``scores`` adds the 得分 and 名次 columns."""
    store_root = config.storage.root
    video_dir = output.with_name(output.stem + "_视频") if (with_videos and output) else None
    rows = []
    for index, view in enumerate(views):
        rows.append(_html_row(view, store_root, output, video_dir))
        if scores is not None:
            standing = scores.get(view["id"])
            score, rank = (standing.score, standing.rank) if standing else (None, None)
            rows[-1].update({"score": -1 if score is None else score, "score_text": score_text(score),
                             "rank": rank or 999999, "rank_text": str(rank) if rank else "—"})
        if progress:
            progress(index + 1, len(views))
    counts = {o.value: sum(1 for v in views if v["outcome"] == o.value) for o in Outcome}
    decision_counts = [(label, sum(1 for v in views if v["decision"] and v["decision"]["decision"] == key))
                       for key, label in DECISION_LABELS.items()]
    return ENV.get_template("report.html.j2").render(
        title=f"“{config.contest.name}”微视频作品初步筛选报告", generated=local_text(datetime.now(timezone.utc)),
        deadline=local_text(config.contest.deadline),
        quota=config.contest.quota_per_unit, filters=filters, rows=rows, counts=counts,
        outcome_labels=[(o.value, OUTCOME_LABELS[o]) for o in Outcome], decision_counts=decision_counts,
        decision_labels=list(DECISION_LABELS.items()), scored=scores is not None,
        coverage=coverage_rows(all_views if all_views is not None else views, config))


def coverage_rows(views: list[dict[str, Any]], config: Config) -> dict[str, Any]:
    """The report's 各单位报送情况 section: one row per unit, and the works with no unit."""
    found = unit_coverage(views, config.contest)
    rows = [{"unit": u.unit, "listed": u.listed, "state": u.state.value, "css": COVERAGE_CSS.get(u.state, ""),
             "state_text": state_text(u), "warning": warning_text(u), "submitted": u.submitted,
             "rejected": u.rejected, "shortlisted": u.shortlisted} for u in found.units]
    listed = [u.state for u in found.units if u.listed]
    counts = [(STATE_LABELS[state], listed.count(state)) for state in UnitState if state in listed]
    return {"rows": rows, "without_unit": found.without_unit, "listed": len(listed), "counts": counts}


def _html_row(view: dict[str, Any], store_root: Path, output: Path | None, video_dir: Path | None) -> dict[str, Any]:
    files = view["files"]
    duration, size, main = duration_of(files), size_of(files), main_file(files)
    thumb = None
    videos = []
    for position, f in enumerate(files):
        stored = _stored(store_root, f)
        pictured = stored is not None and f["container"] in PICTURED and bool(f["video_codec"])
        playable = pictured and f["container"] == "mp4"
        if pictured and thumb is None:
            made = thumbnail(store_root, stored, f["sha256"], f["duration_seconds"])
            thumb = data_uri(made) if made else None
        videos.append({"name": f["original_name"], "repaired": REPAIRS.get(f.get("repair") or "", ""),
                       "href": _video_href(stored, view, position, f, output, video_dir) if playable else None,
                       "why_not": "" if playable else ("未保存，不能播放" if stored is None else "不是 MP4 视频，不能播放")})
    decision = view["decision"] or {}
    return {
        **report_row(view),   # the texts as the CSV has them; what the page shows otherwise follows
        "duration": duration, "duration_text": duration_text(duration) or "—",
        "size": size, "size_text": size_text(size) or "—",
        "resolution": dimensions(main), "pixels": main["width"] * main["height"] if dimensions(main) else -1,
        "portrait": is_portrait(main), "received_at": view["received_at"][:16].replace("T", " "),
        "outcome": view["outcome"], "outcome_label": OUTCOME_LABELS[Outcome(view["outcome"])],
        "outcome_rank": OUTCOME_RANK[view["outcome"]],
        "decision": decision.get("decision"), "decision_label": decision.get("label", ""),
        "flagged": view["secrecy"]["flagged"], "incomplete": view["secrecy"]["incomplete"],
        "problems": [{"label": check_label(c["id"]), "status": c["status"], "message": c["message"]}
                     for c in view["checks"] if c["status"] != "pass"],
        "thumb": thumb, "videos": videos,
    }


def _stored(store_root: Path, f: dict[str, Any]) -> Path | None:
    """The stored copy of a file, or None if it was never stored (too large, not downloaded) or is gone."""
    if not f["sha256"]:
        return None
    stored = store_root / f"{f['sha256'][:2]}/{f['sha256'][2:4]}/{f['sha256']}.mp4"
    return stored if stored.exists() else None


def _video_href(stored: Path, view, position: int, f, output: Path | None, video_dir: Path | None) -> str:
    if video_dir is None:
        return stored.resolve().as_uri()
    video_dir.mkdir(parents=True, exist_ok=True)
    name = clean_name(f"{view['id']}_{position + 1}_{safe_part(Path(f['original_name']).stem, 40)}.mp4")
    target = video_dir / name
    if not target.exists():
        shutil.copyfile(stored, target)
    # A relative link keeps working when the report and its folder are copied to a USB stick.
    return f"{video_dir.name}/{name}"
