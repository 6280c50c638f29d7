"""What the desk's forms do: decide, edit, re-check and manage accounts, each under the logged-in
account's name in the audit log, by the same rules as the commands (``intake decide/edit/recheck/user``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from core.errors import ChangedMeanwhile, IntakeError, UsageError
from intake.review.decisions import decide as record_decision
from intake.desk import pages
from intake.desk.accounts import Account, add_account, change_password, remove_account
from intake.desk.app import Desk
from intake.review.edit import EDITABLE, edit_submission
from intake.labels import DECISION_LABELS
from intake.review.recheck import recheck as recheck_submissions

NOTE_CHARS = 2000


def _done(submission_id: int, what: str) -> Response:
    return RedirectResponse(f"/entries/{submission_id}?done={what}", status_code=303)


def _again(request: Request, desk: Desk, account: Account, exc: IntakeError, hint: str | None = None) -> Response:
    """The entry page again, saying why the action was not taken."""
    status = 404 if exc.__class__.__name__ == "NotFound" else 400 if isinstance(exc, UsageError) else \
        409 if isinstance(exc, ChangedMeanwhile) else 500
    message = exc.message + (f" {hint}" if hint else (f" {exc.hint}" if exc.hint else ""))
    return pages.entry(request, desk, account, None, error=message, status=status)


def decide(request: Request, desk: Desk, account: Account, form) -> Response:
    """入围 / 不予推荐 / 待定 with a note; a rejected work is shortlisted only with ``force`` ticked."""
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


def edit(request: Request, desk: Desk, account: Account, form) -> Response:
    """The fields that differ from what is recorded (an emptied field is cleared), as ``intake edit``."""
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


def recheck(request: Request, desk: Desk, account: Account, form) -> Response:
    submission_id = request.path_params["submission_id"]
    try:
        for _ in recheck_submissions(desk.services, [submission_id], actor=account.name):
            pass
    except IntakeError as exc:
        return _again(request, desk, account, exc)
    return _done(submission_id, "recheck")


# -- accounts (admin) --------------------------------------------------------------------
def users_page(request: Request, desk: Desk, account: Account, form, error: str | None = None,
               status: int = 200) -> Response:
    done = {"added": "已添加账号。", "removed": "已删除账号。", "password": "已修改密码。"}.get(
        request.query_params.get("done", ""))
    return desk.render("users.html.j2", account, status=status, users=desk.db.accounts.all(), error=error, done=done)


def users_change(request: Request, desk: Desk, account: Account, form) -> Response:
    """One of: add (name, role, password), password (name, password), remove (name)."""
    what = str(form.get("do") or "")
    name = str(form.get("name") or "").strip()
    try:
        if what == "add":
            add_account(desk.db, name, str(form.get("role") or ""), str(form.get("password") or ""))
            desk.db.audit.record("user_added", {"name": name, "role": str(form.get("role"))}, actor=account.name)
            done = "added"
        elif what == "password":
            change_password(desk.db, name, str(form.get("password") or ""))
            desk.db.audit.record("user_password", {"name": name}, actor=account.name)
            done = "password"
        elif what == "remove":
            if name == account.name:
                raise UsageError("不能删除自己正在使用的账号。")
            remove_account(desk.db, name)
            desk.db.audit.record("user_removed", {"name": name}, actor=account.name)
            done = "removed"
        else:
            raise UsageError("未知的操作。")
    except UsageError as exc:
        return users_page(request, desk, account, None, error=str(exc.message), status=400)
    return RedirectResponse(f"/users?done={done}", status_code=303)

