"""回执: a Chinese reply to the sender with the outcome and the reasons, once per submission."""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from core.errors import IntakeError
from core.textsafe import one_line
from intake.labels import OUTCOME_LABELS
from intake.notes import render_result_note
from intake.pipeline import Services
from intake.retries import describe
from intake.views import submission_view
from validators.results import Outcome

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


def smtp_password(cfg) -> str:
    value = os.environ.get(cfg.password_env, "")
    if not value and cfg.password_file is not None:
        value = cfg.password_file.read_text(encoding="utf-8").strip()
    return value


def compose_receipt(view: dict, sender: str) -> EmailMessage:
    """The reply mail. Every header value is one line: a CR/LF from the sender's subject must not
    make the header (or the composition) break."""
    msg = EmailMessage()
    label = OUTCOME_LABELS[Outcome(view["outcome"])]
    title = one_line(view.get("title"), 100) or "微视频作品"
    msg["Subject"] = f"回执：已收到《{title}》（{label}）"
    msg["From"] = one_line(sender, 320)
    msg["To"] = one_line(view["sender"], 320)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[-1] if "@" in sender else None)
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content(render_result_note(view) + "\n（本邮件由系统自动发送，请勿直接回复。）\n", charset="utf-8")
    return msg


def send_pending_receipts(services: Services) -> int:
    """Send a receipt for each mail submission that has none yet; return how many were sent."""
    cfg = services.config.mailbox.receipts
    if not cfg.enabled:
        return 0
    db = services.db
    sent = 0
    for submission_id in db.mail_submissions_without("receipt_sent"):
        if db.event_count(submission_id, "receipt_failed") >= MAX_ATTEMPTS:
            continue
        view = submission_view(db, submission_id)
        sender = cfg.from_address or cfg.username
        try:
            _send(cfg, compose_receipt(view, sender))
        except Exception as exc:  # SMTP, the network, or a receipt that cannot be composed: only this one fails
            expected = isinstance(exc, (OSError, smtplib.SMTPException))
            log.warning("作品 #%s 的回执发送失败：%s", submission_id, describe(exc), exc_info=not expected)
            db.record_event("receipt_failed", {"error": describe(exc)}, submission_id=submission_id,
                            actor="mailbox")
            continue
        db.record_event("receipt_sent", {"to": view["sender"]}, submission_id=submission_id, actor="mailbox")
        sent += 1
    return sent


class ReceiptSender:
    """The mailbox loop's step after each pass: a receipt for every mail submission that has none yet.

    Receipts never stop the intake: whatever fails (SMTP, the network, the receipts' own database
    trouble) is logged and tried again after the next pass; each receipt is sent once.
    """

    def __init__(self, services: Services):
        self.services = services

    def send_pending(self) -> int:
        """How many receipts were sent now (0 when receipts are off or sending failed)."""
        try:
            return send_pending_receipts(self.services)
        except Exception as exc:  # the mails are recorded already: only the receipts wait
            log.error("发送回执时出错，下次再试：%s", describe(exc), exc_info=not isinstance(exc, IntakeError))
            return 0


def _send(cfg, msg: EmailMessage) -> None:
    password = smtp_password(cfg)
    if cfg.security == "ssl":
        smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_seconds,
                                context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
    with smtp:
        if cfg.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if cfg.username and password:
            smtp.login(cfg.username, password)
        smtp.send_message(msg)
