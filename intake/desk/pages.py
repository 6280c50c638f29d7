"""The desk's pages (overview, entry, with a submission's audit log in Chinese) and the JSON they and scripts read
(new arrivals, a job's progress)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from core.errors import NotFound
from core.numbers import duration_text, size_text
from core.timefmt import local_text
from intake.review.unit_coverage import STATE_LABELS, UnitState, state_text, unit_coverage, warning_text
from intake.desk.accounts import Account
from intake.desk.base import NO_SUCH_ID, Desk
from storage.records import ID_DIGITS
from intake.desk.guard import allowed, seen
from intake.desk.jobs import Job
from intake.desk.scores import entry_scores, overview_progress, private_history, scoring_state
from intake.desk.thumbs import strip_of
from intake.labels import (DECISION_LABELS, FIELD_LABELS, OUTCOME_LABELS, SOURCE_LABELS, STATUS_LABELS, actor_label,
                           check_label)
from intake.report.rows import dimensions, duration_of, forced_text, is_portrait, main_file, size_of
from intake.review.scoring import is_scorable, score_text
from intake.pipeline.secrecy import finding_text, flag_summary, secrecy_marks
from intake.pipeline.views import view_of
from storage.check_runs import version_of
from storage.entry_reads import entry_records
from validators.results import Outcome, Status

LATEST = 10
COVERAGE_CSS = {UnitState.MISSING: "missing", UnitState.ONLY_REJECTED: "missing", UnitState.OVER_QUOTA: "over"}
OUTCOMES = [(o.value, OUTCOME_LABELS[o]) for o in Outcome]
# What an action's redirect says once it is done (a fixed text, never an echo of the request).
DONE = {"decide": "已记录评审决定。", "edit": "已保存修改。", "recheck": "已重新检查。", "same": "内容与原来相同，没有修改。",
        "score": "已保存评分。", "scoring_close": "已结束评分：评委现在可以看到作品得分、名次和其他人的评审决定，不能再修改评分。",
        "scoring_reopen": "已重新开放评分：评委又只能看到自己的评分和决定。", "attach": "已补登文件。"}


def row_of(view: dict[str, Any]) -> dict[str, Any]:
    """A submission as the list and the overview show it (also the JSON of new arrivals)."""
    files = view["files"]
    decision = view["decision"] or {}
    duration, size = duration_of(files), size_of(files)
    return {
        "id": view["id"], "received_at": view["received_at"][:16].replace("T", " "),
        "unit": view["unit"] or "", "unit_raw": view["unit_raw"] or "", "title": view["title"] or "",
        "contact": view["contact"] or "", "phone": view["phone"] or "", "sender": view["sender"] or "",
        "source": SOURCE_LABELS.get(view["source"], view["source"]),
        "outcome": view["outcome"], "outcome_label": OUTCOME_LABELS[Outcome(view["outcome"])],
        "decision": decision.get("decision") or "", "decision_label": decision.get("label", ""),
        "duration": duration if duration is not None else -1, "duration_text": duration_text(duration) or "—",
        "size": size if size is not None else -1, "size_text": size_text(size) or "—",
        "problems": [f"【{check_label(c['id'])}】{c['message']}" for c in view["checks"] if c["status"] != "pass"],
        "marks": secrecy_marks(view["secrecy"]), "secrecy": flag_summary(view["secrecy"]),
        "forced": forced_text(decision),
    }


def counts_of(views: list[dict[str, Any]]) -> dict[str, Any]:
    decided = [v["decision"]["decision"] for v in views if v["decision"]]
    return {"total": len(views),
            "outcomes": {key: sum(1 for v in views if v["outcome"] == key) for key, _ in OUTCOMES},
            "decisions": {key: decided.count(key) for key in DECISION_LABELS},
            "undecided": len(views) - len(decided)}


def state_of(mark: tuple[int, int]) -> str:
    """The database's change mark as the overview's script keeps it: a new one means something changed."""
    return f"{mark[0]}-{mark[1]}"


def coverage_of(desk: Desk, views: list[dict[str, Any]]) -> dict[str, Any]:
    """The overview's 各单位报送情况. Under blind review the units are hidden, and so is this (it names them)."""
    found = unit_coverage([] if desk.blind else views, desk.config.contest)
    coverage = [{"unit": u.unit, "listed": u.listed, "state": u.state.value, "css": COVERAGE_CSS.get(u.state, ""),
                 "state_text": state_text(u), "warning": warning_text(u), "submitted": u.submitted,
                 "rejected": u.rejected, "shortlisted": u.shortlisted} for u in found.units]
    listed = [u.state for u in found.units if u.listed]
    return {"coverage": coverage, "without_unit": found.without_unit, "quota": found.quota,
            "coverage_counts": [(STATE_LABELS[s], listed.count(s)) for s in UnitState if s in listed],
            "listed": len(listed)}


@allowed()
def overview(request: Request) -> Response:
    """The overview; ``?part=coverage``: only its 各单位报送情况, for the page's script to swap in."""
    desk, account = seen(request), request.user
    mark = desk.db.submissions.change_mark()
    views = desk.views()
    coverage = coverage_of(desk, views)
    if request.query_params.get("part") == "coverage":
        return HTMLResponse(desk.env.get_template("overview_coverage.html.j2").render(blind=desk.blind, **coverage))
    deadline = desk.config.contest.deadline
    latest = [row_of(v) for v in sorted(views, key=lambda v: v["id"], reverse=True)[:LATEST]]
    return desk.render(
        "overview.html.j2", account, counts=counts_of(views), outcomes=OUTCOMES, decisions=DECISION_LABELS,
        deadline=local_text(deadline), deadline_passed=datetime.now(timezone.utc) > deadline,
        latest=latest, last_id=max((v["id"] for v in views), default=0), state=state_of(mark),
        refresh_ms=int(desk.config.desk.refresh_seconds * 1000), progress=overview_progress(desk),
        scoring=scoring_state(desk), done=DONE.get(request.query_params.get("done", "")), **coverage)


@allowed()
def api_overview(request: Request) -> Response:
    """New arrivals after ``?after=ID`` (newest first) and the counts again; with ``?state=`` (the change mark the
    page was drawn at), when anything changed since, also the counts and the new ``state``."""
    desk = seen(request)
    given = request.query_params.get("after", "0").strip()
    if not (given.isascii() and given.isdigit()):
        return JSONResponse({"error": "after 应为作品编号。"}, status_code=400)
    if len(given.lstrip("0") or "0") > ID_DIGITS:   # longer than any id can be
        return JSONResponse({"error": NO_SUCH_ID}, status_code=404)
    after = int(given)
    known = request.query_params.get("state")
    state = state_of(desk.db.submissions.change_mark()) if known is not None else None
    changed = {"counts": counts_of(desk.views()), "state": state} if state is not None and state != known else {}
    new = desk.db.submissions.recent(LATEST, after=after)
    if not new:
        return JSONResponse({"latest": [], "last_id": after, **changed})
    history = desk.db.judging.decisions([s.id for s in new])
    rows = [row_of(desk.view(view_of(s, history.get(s.id, [])))) for s in new]
    return JSONResponse({"latest": rows, "last_id": rows[0]["id"], "counts": counts_of(desk.views()), **changed})


@allowed()
def api_submissions(request: Request) -> Response:
    """The same JSON as ``intake list --json``."""
    return JSONResponse(seen(request).views())


@allowed()
def api_job(request: Request) -> Response:
    """How far a recheck or an export started from a page has come; only its owner and admins see it."""
    job = followed_job(seen(request), request.path_params["job_id"], request.user)
    if job is None:
        return JSONResponse({"error": "找不到这项任务（可能已结束很久，或工作台已重新启动）。"}, status_code=404)
    return JSONResponse({"state": job.state, "progress": job.progress, "seconds": job.seconds(), "error": job.error,
                         "next": job.result if job.state == "done" and isinstance(job.result, str) else None})


# What was done to a file that arrived as a near miss (``media_files.repair``), as the files table says it.
REPAIR_LABELS = {"remux": "已无损转换为 MP4（原文件保留）", "shrink": "已压缩（原文件保留）"}


def findings_of(found: list[dict[str, Any]], file_id: int, position: int, playable: bool) -> list[dict[str, Any]]:
    """What the secrecy scan found in one file, as the entry page shows it; for text on screen a still of the frame
    (``/findings/{file_id}/{n}``, in the order the check recorded them) with the place it was read outlined."""
    out, on_screen = [], 0
    for item in (f for f in found if f.get("file") == position):
        shown = {"text": item["text"], "where": item.get("where") or "", "at": item.get("seconds"),
                 "label": finding_text(item), "misread": bool(item.get("misread"))}
        if item.get("kind") == "ocr" and isinstance(item.get("seconds"), (int, float)):
            if playable:
                shown["src"] = f"/findings/{file_id}/{on_screen}"
                box = item.get("box") or [0, 0, 0, 0]
                shown["box"] = {"left": box[0] * 100, "top": box[1] * 100, "width": (box[2] - box[0]) * 100,
                                "height": (box[3] - box[1]) * 100}
            on_screen += 1
        out.append(shown)
    return out


# The audit log as a reviewer reads it.
KIND_LABELS = {
    "recorded": "登记", "files_added": "补登文件", "decision": "评审决定", "edited": "修改信息",
    "rechecked": "重新检查", "receipt_sending": "发送回执", "receipt_sent": "回执已发送",
    "receipt_failed": "回执发送失败", "receipt_skipped": "未发送回执", "mail_seen_again": "再次收到同一封邮件",
    "mail_content": "邮件内容标识", "moved": "移动投递文件", "scored": "评分",
}


def _outcome(value: Any) -> str:
    try:
        return OUTCOME_LABELS[Outcome(value)]
    except ValueError:
        return str(value)


def event_text(kind: str, data: dict[str, Any]) -> str:
    """What one event says; the label alone for kinds this desk does not spell out."""
    parts: list[str] = []
    if kind == "recorded":
        parts.append(f"来源：{SOURCE_LABELS.get(data.get('source'), data.get('source') or '')}")
    elif kind == "decision":
        parts.append(DECISION_LABELS.get(data.get("decision"), str(data.get("decision"))))
        if data.get("forced"):
            parts.append("检查结果为不合格，评审仍决定入围")
    elif kind == "scored":
        parts += [f"{name} {score_text(value)}" for name, value in (data.get("scores") or {}).items()]
        if data.get("comment"):
            parts.append(f"评语：{data['comment']}")
    elif kind == "files_added":
        parts.append("、".join(str(name) for name in data.get("files", [])))
    elif kind in ("edited", "rechecked"):
        parts += [f"{FIELD_LABELS.get(name, name)}：{c.get('old') or '（空）'} → {c.get('new') or '（空）'}"
                  for name, c in (data.get("changes") or {}).items()
                  if name in FIELD_LABELS]   # not where the title came from: a code
    elif kind in ("receipt_sending", "receipt_sent"):
        parts.append(f"收件人：{data.get('to', '')}")
    elif kind == "receipt_failed":
        parts.append(str(data.get("error", "")))
    if kind in ("decision", "edited", "rechecked") and data.get("note"):
        parts.append(f"备注：{data['note']}")
    outcome = data.get("outcome")
    if isinstance(outcome, dict) and outcome.get("old") != outcome.get("new"):
        parts.append(f"结果：{_outcome(outcome.get('old'))} → {_outcome(outcome.get('new'))}")
    elif isinstance(outcome, str):
        parts.append(f"结果：{_outcome(outcome)}")
    return "；".join(p for p in parts if p)


def history_of(events: Iterable[Any]) -> list[dict[str, str]]:
    """Each event, oldest first: time, who (``actor`` as stored, ``who`` as people read it), what and its details."""
    return [{"at": local_text(e.at), "actor": e.actor, "who": actor_label(e.actor), "kind": e.kind,
             "label": KIND_LABELS.get(e.kind, e.kind), "text": event_text(e.kind, e.data or {})} for e in events]


@allowed()
def entry(request: Request) -> Response:
    return entry_page(request, seen(request), request.user)


def entry_page(request: Request, desk: Desk, account: Account, error: str | None = None, status: int = 200,
               given: dict[str, Any] | None = None, comment: str | None = None) -> Response:
    """The entry page; ``error`` says why an action was refused (``given``, ``comment``: the refused scores)."""
    submission_id = request.path_params["submission_id"]
    try:
        found = entry_records(desk.db, submission_id)   # one transaction, few queries: see storage/entry_reads.py
    except NotFound as exc:
        return desk.render("refused.html.j2", account, status=404, message=exc.message)
    sub, paths = found.submission, found.stored_paths
    history = private_history(history_of(found.events), account, desk.sealed)
    every = view_of(sub, found.decisions())
    view = desk.view({**every, "history": history})
    files = []
    for stored, f in zip(sub.files, view["files"]):
        kept = stored.position in paths and desk.store.path_of(paths[stored.position]).is_file()
        playable = kept and f["container"] == "mp4" and bool(f["video_codec"])
        files.append({"id": stored.id, "position": stored.position + 1, "name": f["original_name"], "kept": kept,
                      "playable": playable, "size_text": size_text(f["size_bytes"]) or "—",
                      "duration_text": duration_text(f["duration_seconds"]) or "—",
                      "resolution": dimensions(f) or "—", "portrait": is_portrait(f),
                      "outcome_label": OUTCOME_LABELS[Outcome(f["outcome"])], "outcome": f["outcome"],
                      "repair": REPAIR_LABELS.get(stored.repair or ""), "has_original": bool(stored.original_sha256),
                      "strip": strip_of(stored.id, f["duration_seconds"]) if playable else [],
                      "findings": findings_of(view["secrecy"]["found"], stored.id, stored.position, playable)})
    checks = [{"label": check_label(c["id"]), "status": c["status"], "status_label": STATUS_LABELS[Status(c["status"])],
               "message": c["message"], "advice": c["advice"], "file": c.get("file")} for c in view["checks"]]
    main = main_file(view["files"])
    done = DONE.get(request.query_params.get("done", ""))
    job = followed_job(desk, request.query_params.get("job", ""), account)   # the page's script follows it
    return desk.render(
        "entry.html.j2", account, status=status, view=view, row=row_of(view), files=files, checks=checks,
        resolution=dimensions(main) or "—", history=view["history"],
        scores=entry_scores(desk, account, view, given, comment, scorable=is_scorable(every)),
        decisions=DECISION_LABELS, error=error, done=done, source=SOURCE_LABELS.get(view["source"], view["source"]),
        received_at=local_text(sub.received_at), version=version_of(sub),
        job={"id": job.id, "state": job.state, "progress": job.progress, "seconds": job.seconds(), "error": job.error}
        if job else None)


def followed_job(desk: Desk, job_id: str, account: Account) -> Job | None:
    """The job ``job_id`` if ``account`` may follow it: its owner or an admin."""
    job = desk.work.get(job_id)
    return job if job is not None and (job.owner == account.name or account.role == "admin") else None
