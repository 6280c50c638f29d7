"""回执: a Chinese reply to the sender with the outcome and what to do about it, at most once per submission.

Only mails recorded after receipts were turned on are answered: the switch is an event (``receipts_on`` with
the last submission id before it, or ``receipts_off``), written once under a claim, so turning receipts on
again never answers the mails recorded meanwhile. Only the From address is answered (never a Reply-To); a mail
with no video and no download link (usually a question) only if ``for_no_video`` is set.

At most once: a worker claims ``receipt:<id>``, writes ``receipt_sending`` before the SMTP hand-over and
``receipt_sent`` or ``receipt_failed`` after; a try that stopped in between may have sent the mail, so it is
not sent again (``receipt_skipped``).
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from core.errors import IntakeError, UsageError
from core.textsafe import one_line
from intake.labels import OUTCOME_LABELS
from intake.pipeline.notes import render_receipt
from intake.pipeline.services import Services
from intake.pipeline.retries import describe
from intake.pipeline.views import submission_view
from storage.writers import worker_id
from validators.results import Outcome

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
TURNED_ON, TURNED_OFF = "receipts_on", "receipts_off"
SETTLED = ("receipt_sent", "receipt_skipped")   # a submission with one of these is never answered (again)
SWITCH_REF = "receipts:switch"                  # the claim under which a worker writes a switch event
ACTOR = "mailbox"


def compose_receipt(view: dict, sender: str, contact_line: str = "") -> EmailMessage:
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
    msg.set_content(render_receipt(view, contact_line), charset="utf-8")
    return msg


def receipts_start(services: Services, worker: str) -> int | None:
    """The last submission id recorded before receipts were turned on (later ones are answered), or None
    while they are off (or while another worker is writing the switch: the next pass knows)."""
    db, enabled = services.db, services.config.mailbox.receipts.enabled
    latest = db.audit.latest((TURNED_ON, TURNED_OFF))
    if _is_on(latest) == enabled:
        return latest.data["after_id"] if enabled else None
    if not db.claims.claim(SWITCH_REF, worker, services.config.database.claim_lease_seconds):
        return None
    try:
        latest = db.audit.latest((TURNED_ON, TURNED_OFF))   # again, now that no other worker can write it
        if _is_on(latest) == enabled:
            return latest.data["after_id"] if enabled else None
        if not enabled:
            db.audit.record(TURNED_OFF, {}, actor=ACTOR)
            log.info("回执已关闭。")
            return None
        after = db.submissions.last_id()
        db.audit.record(TURNED_ON, {"after_id": after}, actor=ACTOR)
        log.info("回执已开启：只回复此后登记的邮件（此前登记到作品 #%d，均不发回执）。", after)
        return after
    finally:
        db.claims.release(SWITCH_REF, worker)


def _is_on(event) -> bool:
    return event is not None and event.kind == TURNED_ON


def send_pending_receipts(services: Services, worker: str | None = None) -> int:
    """Send a receipt for each mail submission recorded since receipts were turned on that has none
    yet; return how many were sent."""
    worker = worker or worker_id()
    after = receipts_start(services, worker)
    if after is None:
        return 0
    sent = 0
    for submission_id in services.db.submissions.mail_without(SETTLED, since_id=after):
        ref = f"receipt:{submission_id}"
        if not services.db.claims.claim(ref, worker, services.config.database.claim_lease_seconds):
            continue   # another worker is answering it right now
        try:
            if _answer(services, submission_id):
                sent += 1
        finally:
            services.db.claims.release(ref, worker)
    return sent


def _answer(services: Services, submission_id: int) -> bool:
    """Under the submission's claim: send its receipt unless that is settled; True if sent now."""
    db, cfg = services.db, services.config.mailbox.receipts
    tries = [e.kind for e in db.audit.events(submission_id) if e.kind.startswith("receipt_")]
    if any(kind in SETTLED for kind in tries) or tries.count("receipt_failed") >= MAX_ATTEMPTS:
        return False   # settled by another worker meanwhile, or given up
    if tries and tries[-1] == "receipt_sending":   # neither sent nor failed after it
        log.warning("作品 #%s 的回执上次发送时程序中断，可能已经发出，不再重发。", submission_id)
        _skip(db, submission_id, "interrupted")
        return False
    view = submission_view(db, submission_id)
    if not cfg.for_no_video and any(c["id"] == "files" and c["code"] == "no_video" for c in view["checks"]):
        _skip(db, submission_id, "no_video")   # no video, no download link: usually a question
        return False
    return _deliver(services, submission_id, view, ACTOR) is None


def _deliver(services: Services, submission_id: int, view: dict, actor: str) -> str | None:
    """Compose and send ``view``'s receipt, noting ``receipt_sending`` before and ``receipt_sent`` or
    ``receipt_failed`` after, under ``actor``; None when it was sent, else why not (in Chinese)."""
    db, cfg = services.db, services.config.mailbox.receipts
    try:
        msg = receipt_for(cfg, view)
        db.audit.record("receipt_sending", {"to": view["sender"]}, submission_id=submission_id, actor=actor)
        _send(cfg, msg)
    except Exception as exc:  # SMTP, the network, or a receipt that cannot be composed: only this one fails
        expected = isinstance(exc, (OSError, smtplib.SMTPException))
        log.warning("作品 #%s 的回执发送失败：%s", submission_id, describe(exc), exc_info=not expected)
        db.audit.record("receipt_failed", {"error": describe(exc)}, submission_id=submission_id, actor=actor)
        return describe(exc)
    db.audit.record("receipt_sent", {"to": view["sender"]}, submission_id=submission_id, actor=actor)
    return None


def receipt_for(cfg, view: dict) -> EmailMessage:
    """The receipt ``view``'s sender would get now, under the receipts' settings ``cfg``."""
    return compose_receipt(view, cfg.from_address or cfg.username, cfg.contact_line)


def receipts_unusable(cfg) -> str | None:
    """Why no receipt can be sent by hand under ``cfg`` (off, or no sending address), in Chinese; None if one can."""
    if not cfg.enabled:
        return "回执功能没有开启（config.yaml 中 mailbox.receipts.enabled 为 false），不能发送回执。"
    if not (cfg.from_address or cfg.username) or not cfg.host:
        return ("回执的发件设置不完整（config.yaml 中 mailbox.receipts 的 host，以及 from_address 或 username），"
                "不能发送回执。")
    return None


NO_SENDER = "这件作品没有发件人地址（不是通过邮件报送的），无法发送回执。"


def send_receipt_now(services: Services, submission_id: int, actor: str) -> str:
    """Send the submission's receipt now (a reviewer's resend, whatever was sent before), under ``actor`` in
    the audit log; returns the address it went to. UsageError when receipts are off or not set up, the work
    has no sender, or a worker is answering it right now; IntakeError when sending failed (recorded)."""
    refusal = receipts_unusable(services.config.mailbox.receipts)
    if refusal:
        raise UsageError(refusal)
    view = submission_view(services.db, submission_id)
    if not view["sender"]:
        raise UsageError(NO_SENDER)
    ref, worker = f"receipt:{submission_id}", f"{worker_id()}:{actor}"
    if not services.db.claims.claim(ref, worker, services.config.database.claim_lease_seconds):
        raise UsageError("接收程序正在发送这件作品的回执，请稍后再试。")
    try:
        error = _deliver(services, submission_id, view, actor)
    finally:
        services.db.claims.release(ref, worker)
    if error:
        raise IntakeError(f"回执发送失败：{error}", "请检查 config.yaml 中 mailbox.receipts 的服务器、端口、账号和授权码。")
    return view["sender"]


def _skip(db, submission_id: int, reason: str) -> None:
    db.audit.record("receipt_skipped", {"reason": reason}, submission_id=submission_id, actor=ACTOR)


class ReceiptSender:
    """The mailbox loop's step after each pass: a receipt for every mail submission that has none yet.

    It notes a switch of receipts before the worker's first pass, so that the mails of that pass are answered.
    Receipts never stop the intake: whatever fails is logged and tried again after the next pass."""

    def __init__(self, services: Services, worker: str | None = None):
        self.services = services
        self.worker = worker or worker_id()
        try:
            receipts_start(services, self.worker)
        except Exception as exc:  # the database is away: the first pass notes the switch instead
            log.warning("无法记录回执开关，稍后再试：%s", describe(exc), exc_info=not isinstance(exc, IntakeError))

    def send_pending(self) -> int:
        """How many receipts were sent now."""
        try:
            return send_pending_receipts(self.services, self.worker)
        except Exception as exc:  # the mails are recorded already: only the receipts wait
            log.error("发送回执时出错，下次再试：%s", describe(exc), exc_info=not isinstance(exc, IntakeError))
            return 0


def _send(cfg, msg: EmailMessage) -> None:
    """Hand ``msg`` to the SMTP server. Once the server has accepted it, a failing goodbye is no failure:
    the receipt must not be sent twice."""
    password = os.environ.get(cfg.password_env, "")
    if not password and cfg.password_file is not None:
        password = cfg.password_file.read_text(encoding="utf-8").strip()
    if cfg.security == "ssl":
        smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_seconds,
                                context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
    try:
        if cfg.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if cfg.username and password:
            smtp.login(cfg.username, password)
        smtp.send_message(msg)
    except BaseException:
        smtp.close()
        raise
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
