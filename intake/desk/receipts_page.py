"""回执 from the desk (clerks, admins): the exact mail a submitter would get, and sending it again now."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from core.errors import IntakeError, NotFound, UsageError
from intake.desk.accounts import Account
from intake.desk.base import Desk
from intake.desk.guard import allowed, seen
from intake.mail.receipts import NO_SENDER, receipt_for, receipts_unusable, send_receipt_now
from intake.pipeline.views import submission_view

# The mail's headers as the preview names them (the mail itself keeps the standard names).
SHOWN_HEADERS = (("From", "发件人"), ("To", "收件人"), ("Subject", "主题"), ("Auto-Submitted", "自动回复标记"))
AUTO_NOTE = "（表明这是自动发出的回执，对方邮箱的自动回复不会再回信）"


@allowed("receipt")
def preview(request: Request) -> Response:
    return _preview(request, seen(request), request.user)


def _preview(request: Request, desk: Desk, account: Account, error: str | None = None, status: int = 200) -> Response:
    submission_id = request.path_params["submission_id"]
    try:
        view = submission_view(desk.db, submission_id)
    except NotFound as exc:
        return desk.render("refused.html.j2", account, status=404, message=exc.message)
    cfg = desk.config.mailbox.receipts
    mail = None
    if view["sender"]:
        msg = receipt_for(cfg, view)
        mail = {"headers": [(label, str(msg[name] or "") + (AUTO_NOTE if name == "Auto-Submitted" else ""))
                            for name, label in SHOWN_HEADERS], "body": msg.get_content()}
    sent = [e for e in desk.db.audit.events(submission_id) if e.kind == "receipt_sent"]
    done = "已发送回执。" if request.query_params.get("done") == "sent" else None
    return desk.render("receipt.html.j2", account, status=status, view=view, mail=mail, error=error, done=done,
                       no_sender=None if view["sender"] else NO_SENDER, unusable=receipts_unusable(cfg),
                       sent=len(sent))


@allowed("receipt")
def resend(request: Request) -> Response:
    desk, account = seen(request), request.user
    submission_id = request.path_params["submission_id"]
    try:
        send_receipt_now(desk.services, submission_id, account.name)
    except NotFound as exc:
        return desk.render("refused.html.j2", account, status=404, message=exc.message)
    except IntakeError as exc:
        status = 400 if isinstance(exc, UsageError) else 502
        message = " ".join(filter(None, [exc.message, exc.hint]))
        return _preview(request, desk, account, error=message, status=status)
    return RedirectResponse(f"/entries/{submission_id}/receipt?done=sent", status_code=303)
