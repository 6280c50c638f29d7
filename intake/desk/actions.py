"""What the desk's forms do: decide, edit, re-check and manage accounts, each under the logged-in
account's name in the audit log, by the same rules as the commands (``intake decide/edit/recheck/user``).
A recheck (which may read every frame again for OCR) runs as a job (``jobs.py``)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from core.errors import ChangedMeanwhile, IntakeError, NotFound, UsageError
from intake.review.decisions import decide as record_decision
from intake.desk import pages
from intake.desk.accounts import Account, add_account, change_password, remove_account
from intake.desk.base import Desk
from intake.desk.guard import allowed, form_of, seen
from intake.desk.jobs import Job, JobFailed
from intake.review.edit import EDITABLE, edit_submission
from intake.labels import DECISION_LABELS
from intake.review.recheck import recheck as recheck_submissions
from intake.desk.scores import CLOSED, CLOSED_HINT, FIELD
from intake.review.scoring import record_scores

NOTE_CHARS = 2000
# Hints of the commands that name a command-line flag, as the desk's form says them.
DESK_HINTS = {"要清除电话，请用 --phone \"\"。": "要清除电话，请把“联系电话”一栏清空后保存。"}


def _done(submission_id: int, what: str) -> Response:
    return RedirectResponse(f"/entries/{submission_id}?done={what}", status_code=303)


def status_of(exc: IntakeError) -> int:
    return 404 if isinstance(exc, NotFound) else 400 if isinstance(exc, UsageError) else \
        409 if isinstance(exc, ChangedMeanwhile) else 500


def _again(request: Request, desk: Desk, account: Account, exc: IntakeError, hint: str | None = None) -> Response:
    """The entry page again, saying why the action was not taken."""
    hint = hint or exc.hint or ""
    for said, shown in DESK_HINTS.items():
        hint = hint.replace(said, shown)
    message = exc.message + (f" {hint}" if hint else "")
    return pages.entry_page(request, desk, account, error=message, status=status_of(exc))


@allowed("decide")
def decide(request: Request) -> Response:
    """入围 / 不予推荐 / 待定 with a note; a rejected work is shortlisted only with ``force`` ticked."""
    desk, account, form = seen(request), request.user, form_of(request)
    submission_id = request.path_params["submission_id"]
    decision = str(form.get("decision") or "")
    if decision not in DECISION_LABELS:
        return _again(request, desk, account, UsageError("请选择评审决定：入围、不予推荐或待定。"))
    note = str(form.get("note") or "").strip()[:NOTE_CHARS] or None
    try:
        record_decision(desk.db, submission_id, decision, note, account.name, force=form.get("force") == "1")
    except UsageError as exc:
        return _again(request, desk, account, exc, hint="确需入围时（已人工核实），请勾选“检查不合格或有涉密提醒也入围”后再提交；"
                                                       "审计日志和导出时会注明。"
                      if decision == "shortlist" else None)
    return _done(submission_id, "decide")


@allowed("edit")
def edit(request: Request) -> Response:
    """The fields that differ from what is recorded (an emptied field is cleared), as ``intake edit``."""
    desk, account, form = seen(request), request.user, form_of(request)
    submission_id = request.path_params["submission_id"]
    try:
        sub = desk.db.submissions.get(submission_id)
        values = {}
        for name in EDITABLE:
            if name not in form:
                continue
            given = str(form.get(name)).strip()
            shown = (sub.unit or "") if name == "unit" else (getattr(sub, name) or "")
            if given != shown:
                values[name] = given
        if not values:
            return _done(submission_id, "same")
        # The form says which state of the work it showed: an edit of a state changed since is refused.
        edited = edit_submission(desk.services, submission_id, values, note=str(form.get("note") or "") or None,
                                 actor=account.name, version=str(form.get("version") or "") or None)
    except IntakeError as exc:
        return _again(request, desk, account, exc)
    return _done(submission_id, "edit" if edited.changes else "same")


@allowed("recheck")
async def recheck(request: Request) -> Response:
    """The checks run again as a job; the page says so once done, or shows its progress until then."""
    desk, account = seen(request), request.user
    submission_id = request.path_params["submission_id"]
    services = desk.services

    def work(job: Job) -> str:
        job.report("正在按现在的配置重新检查这件作品（读取已保存的文件，可能需要几分钟）……")
        try:
            for _ in recheck_submissions(services, [submission_id], actor=account.name):
                pass
        except IntakeError as exc:
            raise JobFailed(" ".join(filter(None, [exc.message, exc.hint])), status_of(exc)) from None
        return f"/entries/{submission_id}?done=recheck"

    job = desk.work.start(f"recheck:{submission_id}", work, owner=account.name)
    if not await job.wait():
        return RedirectResponse(f"/entries/{submission_id}?job={job.id}", status_code=303)
    if job.state == "done":
        return RedirectResponse(job.result, status_code=303)
    if job.status == 404:
        return desk.refused(request.url.path, account, 404, job.error)
    return await run_in_threadpool(pages.entry_page, request, desk, account, error=job.error, status=job.status)


# -- accounts (admin) --------------------------------------------------------------------
@allowed("users")
def users_page(request: Request) -> Response:
    return _users(request, seen(request), request.user)


def _users(request: Request, desk: Desk, account: Account, error: str | None = None, status: int = 200) -> Response:
    done = {"added": "已添加账号。", "removed": "已删除账号。", "password": "已修改密码。"}.get(
        request.query_params.get("done", ""))
    return desk.render("users.html.j2", account, status=status, users=desk.db.accounts.all(), error=error, done=done)


@allowed("users")
def users_change(request: Request) -> Response:
    """One of: add (name, role, password), password (name, password), remove (name)."""
    desk, account, form = seen(request), request.user, form_of(request)
    what = str(form.get("do") or "")
    name = str(form.get("name") or "").strip()
    try:
        if what == "add":
            add_account(desk.db, name, str(form.get("role") or ""), str(form.get("password") or ""))
            done, data = "added", {"name": name, "role": str(form.get("role"))}
        elif what == "password":
            change_password(desk.db, name, str(form.get("password") or ""))
            done, data = "password", {"name": name}
        elif what == "remove":
            if name == account.name:
                raise UsageError("不能删除自己正在使用的账号。")
            remove_account(desk.db, name)
            done, data = "removed", {"name": name}
        else:
            raise UsageError("未知的操作。")
    except UsageError as exc:
        return _users(request, desk, account, error=str(exc.message), status=400)
    desk.db.audit.record(f"user_{done}", data, actor=account.name)
    return RedirectResponse(f"/users?done={done}", status_code=303)


@allowed("score")
def score(request: Request) -> Response:
    """Save the logged-in judge's scores of the entry (a field per criterion, ``score:名称``, and a comment)."""
    desk, account, form = seen(request), request.user, form_of(request)
    submission_id = request.path_params["submission_id"]
    scoring = desk.config.contest.scoring
    given = {c.name: form.get(FIELD + c.name) for c in scoring.criteria}
    try:
        if desk.scoring_closed() is not None:
            raise UsageError(CLOSED, CLOSED_HINT)
        record_scores(desk.db, submission_id, account.name, given, form.get("comment"), scoring)
    except IntakeError as exc:
        return pages.entry_page(request, desk, account, error=" ".join(filter(None, [exc.message, exc.hint])),
                                status=status_of(exc), given=given, comment=form.get("comment"))
    return _done(submission_id, "score")
