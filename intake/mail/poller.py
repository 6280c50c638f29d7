"""Poll the submission mailbox: every mail not yet recorded becomes one submission, then is marked.

A mail is marked (moved to mailbox.processed_folder, or flagged \\Seen plus mailbox.keyword) only after its
submission is committed: a crash before the commit leaves it to be read again; after it, its source_ref and
its Message-ID with its content keep it from being recorded twice. Claiming, retries and giving up are
intake.pipeline.record_once's; fetching, the Message-ID comparison and marking are the mailbox's own.
Only the mailbox or the database being away stops a pass; the loop then waits and reconnects, for ever
(a refused login slowly), and says so in data_dir/status/mailbox.json for ``intake doctor``.
"""

from __future__ import annotations

import imaplib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from core import failpoints
from core.errors import Cancelled, DatabaseGone, IntakeError, LoginRefused, MailRefused, MailboxError, RetryLater
from core.textsafe import one_line
from intake.inbox.archives import unpack_archives
from intake.mail.client import MailSession, imap_errors, read_password
from intake.mail.findings import warn_large_attachment_links, warn_mail_findings
from intake.mail.header import MailHeader, content_id, fetch_header, message_key, reused_key
from intake.mail.reader import MailReader
from intake.mail.receipts import ReceiptSender
from intake.pipeline.services import Services
from intake.pipeline.stages import store_files
from intake.pipeline.record_once import How, Recorded, record_once
from intake.pipeline.retries import describe
from intake.service.sources import SourceStatus
from intake.pipeline.task import SubmissionTask, TitleSource
from intake.pipeline.views import submission_view
from validators.results import Outcome, warned

log = logging.getLogger(__name__)
SEEN = rb"\Seen"
LOGIN_RETRY_SECONDS = 15 * 60   # a refused login does not heal in seconds; hammering it may lock the account
FIRST_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class MailResult:
    uid: int
    submission_id: int
    outcome: Outcome | None
    subject: str
    already_recorded: bool


# A mail's own stages before the pipeline's: its zips unpacked, its download links and other findings said.
MAIL_ARRIVAL = (unpack_archives, warn_large_attachment_links, warn_mail_findings)


@dataclass
class MailItem:
    """A mail as record_once takes it (see intake.pipeline.record_once.SourceItem)."""

    poller: MailPoller
    uid: int
    ref: str
    use_keyword: bool
    arrival = MAIL_ARRIVAL

    def build(self, work: Path) -> SubmissionTask | None:
        """The mail as a task, its attachments streamed into the store; None if it is gone from the server."""
        poller = self.poller
        head = fetch_header(poller.session, self.uid)
        if head is None:
            return None
        poller._head = head
        key = message_key(poller.session.account, head)
        return MailReader(poller.session, poller.services.config, work).read(head, self.ref, key)

    def identity(self) -> SubmissionTask:
        """What is known of a mail that could not be processed: enough to record it and answer its sender."""
        head, session = self.poller._head, self.poller.session
        if head is None or head.uid != self.uid:
            try:
                head = fetch_header(session, self.uid)
            except Exception:  # the header is what failed: record the mail by its place alone
                head = None
        if head is None:
            return SubmissionTask(source="mail", source_ref=self.ref, received_at=datetime.now(timezone.utc),
                                  title=f"（无法读取的邮件 UID {self.uid}）", actor="mailbox")
        # Its files are unknown: the subject is all there is to name the work by.
        return SubmissionTask(source="mail", source_ref=self.ref, received_at=head.internaldate,
                              title=head.subject or None, title_source=TitleSource.SUBJECT if head.subject else None,
                              subject=head.subject or None, message_key=message_key(session.account, head),
                              sender=head.sender, actor="mailbox")

    def recorded_before(self, task: SubmissionTask) -> int | None:
        """The submission this mail already is under another ref (a new UIDVALIDITY, a copy put back)."""
        key = task.message_key
        earlier = self.poller.services.db.submissions.id_for_message_key(key) if key else None
        return self.poller._same_mail(task, earlier, key) if earlier is not None else None

    def triage(self, exc: Exception) -> Exception:
        return self.poller._blame(exc, self.ref)

    def finish(self, recorded: Recorded) -> MailResult | None:
        return self.poller._finish(self.uid, self.use_keyword, recorded)


class MailPoller:
    def __init__(self, services: Services, password: str | None = None):
        self.services = services
        self.cfg = services.config.mailbox
        self.session = MailSession(self.cfg, password if password is not None else read_password(self.cfg))
        self.status = SourceStatus(services.config.storage.data_dir, "mailbox", "邮箱接收")
        self.receipts = ReceiptSender(services)   # run after each pass, never inside one
        self._head: MailHeader | None = None   # the mail being read, for its identity if it fails
        # Mails that were being read when the connection broke, and how often: they are read last, so that
        # a mail on which the server keeps dropping us never holds up the mails behind it.
        self._dropped_on: dict[str, int] = {}

    # -- one pass -------------------------------------------------------------------------
    def poll_once(self) -> list[MailResult]:
        uidvalidity, permanent = self.session.select(self.cfg.folder)
        use_keyword = self.cfg.processed_folder is None and rb"\*" in permanent
        criteria: list = ["UNKEYWORD", self.cfg.keyword] if use_keyword else ["ALL"]
        if self.cfg.since:
            criteria = [*criteria, "SINCE", self.cfg.since]
        with imap_errors(f"搜索文件夹 {self.cfg.folder}"):
            uids = sorted(self.session.client.search(criteria))   # no CHARSET: several servers reject it
        prefix = f"mail:{self.session.account}:{self.cfg.folder}:{uidvalidity}:"
        uids.sort(key=lambda uid: self._dropped_on.get(f"{prefix}{uid}", 0))
        # A mail recorded by an earlier run that stopped before marking it is only marked (record_once).
        results = [self._take(uid, f"{prefix}{uid}", use_keyword) for uid in uids]
        return [result for result in results if result is not None]

    def _take(self, uid: int, ref: str, use_keyword: bool) -> MailResult | None:
        """Record the mail once (intake.pipeline.record_once) and mark it; None if there is nothing to say for it now."""
        self._head = None
        try:
            result = record_once(MailItem(self, uid, ref, use_keyword), self.services)
        except RetryLater as later:
            if later.cause is not None:
                bug = not isinstance(later.cause, (IntakeError, MailRefused))
                log.warning("邮件 UID %s 第 %d 次处理失败：%s（%.0f 秒后再试，其他邮件照常处理）", uid, later.attempts,
                            describe(later.cause), later.delay, exc_info=later.cause if bug else None)
            return None
        self._dropped_on.pop(ref, None)
        return result

    def _blame(self, exc: Exception, ref: str | None = None) -> Exception:
        """Re-raise what is not this mail's fault (the connection, the database, the disk); return what is."""
        if isinstance(exc, MailboxError):
            cause = exc.__cause__
            refused = isinstance(cause, imaplib.IMAP4.error) and not isinstance(cause, imaplib.IMAP4.abort)
            if refused and self._still_connected():
                return MailRefused(f"邮箱服务器拒绝读取这封邮件：{one_line(str(cause), 200)}")
            if ref is not None:
                self._dropped_on[ref] = self._dropped_on.get(ref, 0) + 1
            raise exc
        if isinstance(exc, (DatabaseGone, Cancelled)) or (isinstance(exc, IntakeError) and not exc.item_fault):
            raise exc
        return exc

    def _still_connected(self) -> bool:
        try:
            self.session.client.noop()
            return True
        except Exception:  # any failure here means the connection is what broke
            return False

    def _finish(self, uid: int, use_keyword: bool, done: Recorded) -> MailResult | None:
        """Mark the recorded mail (held by the claim still), after noting what it carried."""
        db, task, how = self.services.db, done.task, done.how
        subject = (task.subject or "") if task else ""
        if how is How.SAME_AS:
            db.audit.record("mail_seen_again", {"source_ref": task.source_ref}, submission_id=done.submission_id,
                            actor="mailbox")
        elif how is How.PROCESSED:
            # What the mail carried, so that a later mail with this Message-ID can be told apart.
            db.audit.record("mail_content", {"content": _content_of(task)}, submission_id=done.submission_id,
                            actor="mailbox")
        if how in (How.PROCESSED, How.RACED):
            failpoints.reached("before_mark")
        self._mark_recorded(uid, use_keyword)   # EARLIER: by an earlier run, or another poller since our search
        if how is How.EARLIER:
            return None
        outcome = Outcome.NEEDS_REVIEW if how is How.GAVE_UP else task.outcome if how is How.PROCESSED else None
        return MailResult(uid, done.submission_id, outcome, subject, already_recorded=done.resumed)

    def _same_mail(self, task: SubmissionTask, earlier: int, key: str) -> int | None:
        """The submission this mail already is, or None. A Message-ID alone proves nothing: senders'
        clients reuse them. The content must match too; if it does not, the mail is recorded with a warning."""
        db = self.services.db
        store_files(task, self.services)   # a zip's videos get their hashes now (the store keeps one copy)
        hashes = _hashes(task)
        content = _content_of(task)
        then = db.submissions.file_hashes(earlier)
        if hashes or then:
            same = hashes == then
        else:
            kept = [e.data.get("content") for e in db.audit.events(earlier) if e.kind == "mail_content"]
            # Recorded before contents were kept: the subject is all there is to compare.
            same = kept[-1] == content if kept else submission_view(db, earlier)["subject"] == task.subject
        if same:
            return earlier
        again = db.submissions.id_for_message_key(reused_key(key, content))
        if again is not None:
            return again
        task.message_key = reused_key(key, content)
        task.checks.append(warned(
            "duplicate", "message_id_reused",
            f"这封邮件的 Message-ID 与第 {earlier} 号作品的邮件相同，但内容不同，已作为新作品登记。"
            "请评审人员核对两件作品，确认是否为重复报送。",
            advice="这封邮件与此前收到的一封邮件标识相同但内容不同，已作为新作品登记，暂不需要处理。",
            earlier_submission_id=earlier))
        return None

    def _mark(self, uid: int, use_keyword: bool) -> None:
        client = self.session.client
        target = self.cfg.processed_folder
        with imap_errors(f"标记邮件 UID {uid}"):
            if target:
                if not client.folder_exists(target):
                    client.create_folder(target)
                if self.session.has("MOVE"):
                    client.move([uid], target)
                else:
                    client.copy([uid], target)
                    client.add_flags([uid], [rb"\Deleted"])
                    if self.session.has("UIDPLUS"):
                        client.uid_expunge([uid])
                    else:
                        client.expunge()
            else:
                client.add_flags([uid], [SEEN, self.cfg.keyword.encode()] if use_keyword else [SEEN])

    def _mark_recorded(self, uid: int, use_keyword: bool) -> None:
        """Mark a mail that is recorded already; a server that refuses to mark this one mail stops nothing."""
        try:
            self._mark(uid, use_keyword)
        except MailboxError as exc:
            self._blame(exc)   # the connection: stop the pass
            log.warning("邮件 UID %s 已登记，但服务器拒绝标记：%s", uid, exc.message)

    # -- the loop -------------------------------------------------------------------------
    def run(self, stop: threading.Event, on_result=None, once: bool = False) -> None:
        """Poll until ``stop``, sending the receipts after each pass; after any failure wait and go on: a
        dropped connection or a database that is away with a doubling wait, a refused login every
        LOGIN_RETRY_SECONDS. ``once`` raises instead."""
        delay = FIRST_RETRY_SECONDS
        refused: str | None = None
        while not stop.is_set():
            try:
                for result in self.poll_once():
                    if on_result:
                        on_result(result)
                self.receipts.send_pending()
                self.status.succeeded()
                if refused:
                    log.info("邮箱 %s 已能正常登录。", self.session.account)
                delay, refused = FIRST_RETRY_SECONDS, None
                if once:
                    break
                self._wait_for_mail(stop)
                continue
            except LoginRefused as exc:
                self.status.failed(str(exc))
                self.session.close()
                if once:
                    raise
                if refused != exc.message:   # said once, clearly; repeated only when it changes
                    log.error("%s（%d 分钟后再试）", exc, LOGIN_RETRY_SECONDS // 60)
                refused = exc.message
                stop.wait(LOGIN_RETRY_SECONDS)
                self._reread_password()
                continue
            except Cancelled:
                break   # a stop request ended a check midway: the mail stays unmarked for the next run
            except DatabaseGone as exc:
                self.status.failed(str(exc))
                log.critical("%s", exc)
                stop.set()   # recording on would lose every mail: the whole job stops
                raise
            except Exception as exc:  # an IntakeError, or a bug: keep the traceback, keep the source alive
                expected = isinstance(exc, IntakeError)
                count = self.status.failed(str(exc) if expected else describe(exc))
                if once:   # the caller reports it
                    self.session.close()
                    raise
                if expected:
                    log.error("邮箱接收出错（连续第 %d 次）：%s（%.0f 秒后重试）", count, exc, delay)
                else:
                    log.exception("邮箱接收遇到意外错误（连续第 %d 次，%.0f 秒后重试）", count, delay)
            self.session.close()   # the connection may be in any state after a failure
            stop.wait(delay)
            delay = min(delay * 2, self.cfg.reconnect_max_seconds)
        self.session.close()

    def _reread_password(self) -> None:
        """A new authorization code put into mailbox.password_file is taken without a restart."""
        try:
            self.session.set_password(read_password(self.cfg))
        except MailboxError as exc:
            log.error("%s", exc)

    def _next_retry_in(self) -> float | None:
        """Seconds until a mail that failed before is due again (None if none is waiting)."""
        try:
            waiting = self.services.db.claims.failing_items(f"mail:{self.session.account}:{self.cfg.folder}:")
        except IntakeError:
            return None
        if not waiting:
            return None
        soonest = min(item.next_at for item in waiting)
        return max(0.5, (soonest - datetime.now(timezone.utc)).total_seconds())

    def _wait_for_mail(self, stop: threading.Event) -> None:
        """Until new mail, the next poll, or a failed mail's next try, whichever comes first."""
        retry_in = self._next_retry_in()
        if not (self.cfg.idle and self.session.has("IDLE")):
            stop.wait(min(self.cfg.poll_seconds, retry_in or self.cfg.poll_seconds))
            return
        client = self.session.client
        with imap_errors("IDLE"):
            client.idle()
            try:
                # Re-issue IDLE before servers drop it (RFC 2177: 29 minutes); wake for a retry that is due.
                deadline = time.monotonic() + min(self.cfg.idle_renew_seconds, retry_in or self.cfg.idle_renew_seconds)
                while not stop.is_set() and time.monotonic() < deadline:
                    responses = client.idle_check(timeout=1)
                    if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                        return
            finally:
                client.idle_done()


def _hashes(task: SubmissionTask) -> set[str]:
    return {media.blob.sha256 for media in task.files if media.blob is not None}


def _content_of(task: SubmissionTask) -> str:
    return content_id(_hashes(task), task.subject, task.body_text)
