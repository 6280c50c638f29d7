"""Poll the submission mailbox: every mail not yet recorded becomes one submission, then is marked.

A mail is marked (moved to mailbox.processed_folder, or flagged \\Seen plus
mailbox.keyword) only after its submission is committed. A crash before the
commit leaves it to be read again; after the commit, its source_ref (account,
folder, UIDVALIDITY, UID) and its Message-ID keep it from being recorded twice.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from dataclasses import dataclass

from intake import failpoints
from intake.errors import IntakeError, MailboxError
from intake.mail.client import MailSession, imap_errors, read_password
from intake.mail.reader import MailReader, fetch_header, message_key
from intake.mail.receipts import send_pending_receipts
from intake.pipeline import Services, process
from storage.database import DuplicateSource, worker_id
from validators.results import Outcome

log = logging.getLogger(__name__)
SEEN = rb"\Seen"


@dataclass(frozen=True)
class MailResult:
    uid: int
    submission_id: int
    outcome: Outcome | None
    subject: str
    already_recorded: bool


class MailPoller:
    def __init__(self, services: Services, password: str | None = None):
        self.services = services
        self.cfg = services.config.mailbox
        self.session = MailSession(self.cfg, password if password is not None else read_password(self.cfg))

    @property
    def folder(self) -> str:
        return self.cfg.folder

    def ref_prefix(self, uidvalidity: int) -> str:
        return f"mail:{self.session.account}:{self.folder}:{uidvalidity}:"

    # -- one pass -------------------------------------------------------------------------
    def poll_once(self) -> list[MailResult]:
        uidvalidity, permanent = self.session.select(self.folder)
        use_keyword = self.cfg.processed_folder is None and rb"\*" in permanent
        criteria: list = ["UNKEYWORD", self.cfg.keyword] if use_keyword else ["ALL"]
        if self.cfg.since:
            criteria = [*criteria, "SINCE", self.cfg.since]
        with imap_errors(f"搜索文件夹 {self.folder}"):
            uids = sorted(self.session.client.search(criteria))   # no CHARSET: several servers reject it
        prefix = self.ref_prefix(uidvalidity)
        recorded = self.services.db.recorded_refs(prefix)
        results = []
        for uid in uids:
            ref = f"{prefix}{uid}"
            if ref in recorded:
                # Committed by an earlier run that stopped before marking it.
                self._mark(uid, use_keyword)
                continue
            try:
                result = self._take(uid, ref, use_keyword)
            except (MailboxError, IntakeError):
                raise   # the connection, the database or the disk: stop this pass, retry later
            except Exception:
                # A mail we cannot read must not block the others; it stays unmarked and is tried again.
                log.exception("邮件 UID %s 无法处理，保留在邮箱中，下次再试", uid)
                continue
            if result is not None:
                results.append(result)
        send_pending_receipts(self.services)
        return results

    def _take(self, uid: int, ref: str, use_keyword: bool) -> MailResult | None:
        db, worker = self.services.db, worker_id()
        if not db.claim(ref, worker, self.services.config.database.claim_lease_seconds):
            return None   # another poller is reading this mail right now
        try:
            return self._read_and_record(uid, ref, use_keyword)
        finally:
            db.release(ref, worker)

    def _read_and_record(self, uid: int, ref: str, use_keyword: bool) -> MailResult | None:
        if self.services.db.submission_id_for_ref(ref) is not None:
            self._mark(uid, use_keyword)   # recorded by another poller since our search
            return None
        head = fetch_header(self.session, uid)
        if head is None:
            return None
        key = message_key(self.session.account, head)
        earlier = self.services.db.submission_id_for_message_key(key)
        if earlier is not None:
            # The same mail under a new UIDVALIDITY, or copied back: do not record it twice.
            self.services.db.record_event("mail_seen_again", {"source_ref": ref}, submission_id=earlier,
                                          actor="mailbox")
            self._mark(uid, use_keyword)
            return MailResult(uid, earlier, None, head.subject, already_recorded=True)
        work = self.services.config.storage.data_dir / "work" / uuid.uuid4().hex
        try:
            task = MailReader(self.session, self.services.config, self.services.store, work).read(head, ref, key)
            process(task, self.services)
            submission_id, outcome, again = task.submission_id, task.outcome, False
        except DuplicateSource as exc:   # recorded meanwhile by a poller whose lease had run out
            submission_id, outcome, again = exc.submission_id, None, True
        finally:
            shutil.rmtree(work, ignore_errors=True)
        failpoints.reached("before_mark")
        self._mark(uid, use_keyword)
        return MailResult(uid, submission_id, outcome, head.subject, already_recorded=again)

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

    # -- the loop -------------------------------------------------------------------------
    def run(self, stop: threading.Event, on_result=None, once: bool = False) -> None:
        """Poll until ``stop``; reconnect with backoff when the connection drops."""
        delay = 5.0
        while not stop.is_set():
            try:
                for result in self.poll_once():
                    if on_result:
                        on_result(result)
                delay = 5.0
                if once:
                    return
                self._wait_for_mail(stop)
            except MailboxError as exc:
                log.error("邮箱接收出错：%s（%.0f 秒后重连）", exc, delay)
                self.session.close()
                if once:
                    raise
                stop.wait(delay)
                delay = min(delay * 2, self.cfg.reconnect_max_seconds)
        self.session.close()

    def _wait_for_mail(self, stop: threading.Event) -> None:
        if not (self.cfg.idle and self.session.has("IDLE")):
            stop.wait(self.cfg.poll_seconds)
            return
        client = self.session.client
        with imap_errors("IDLE"):
            client.idle()
            try:
                # Re-issue IDLE before servers drop it (RFC 2177: 29 minutes).
                deadline = time.monotonic() + self.cfg.idle_renew_seconds
                while not stop.is_set() and time.monotonic() < deadline:
                    responses = client.idle_check(timeout=1)
                    if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                        return
            finally:
                client.idle_done()
