"""Hostile and careless mail against a real Dovecot: every mail ends recorded, and no mail stops the mailbox."""

from __future__ import annotations

import email
import json
import logging
import threading
from datetime import datetime, timedelta, timezone
from email import policy

import pytest

from core.errors import DatabaseError, LoginRefused
from intake.config import load_config
from intake.mail import poller as poller_module
from intake.mail.poller import MailPoller
from intake.pipeline.services import open_services
from tests.configs import add_config, end_backoff
from tests import mails
from tests.dovecot import PASSWORD
from tests.cli import listing, run
from tests.mailboxes import append, flags_of, poller_for, smtp_collector, write_mail_config
from tests.waiting import run_in_thread_until, wait_until


def checks_of(sub: dict) -> set[tuple[str, str, str]]:
    return {(c["id"], c["status"], c["code"]) for c in sub["checks"]}


# -- 1. thousands of MIME parts ---------------------------------------------------------------
def test_thousands_of_parts_are_fetched_in_batches_and_the_mail_behind_is_recorded(clips, workdir, dovecot,
                                                                                   monkeypatch):
    from tests.tcpproxy import Proxy

    mp4 = clips["valid"].read_bytes()
    append(dovecot, mails.many_parts(mails.variant(mp4, "bomb"), 4000), mails.foxmail_gbk(mails.variant(mp4, "ok")))
    proxy = Proxy(dovecot.port)
    monkeypatch.setenv("INTAKE_IMAP_PASSWORD", PASSWORD)
    write_mail_config(workdir, proxy.port)
    poller = poller_for(workdir)
    results = poller.poll_once()
    poller.session.close()
    proxy.close()
    assert [r.already_recorded for r in results] == [False, False]
    longest = max(len(line) for sent in proxy.sent for line in bytes(sent).split(b"\r\n"))
    assert longest < 8192   # RFC 7162's advice; Dovecot refuses lines over 64 KB
    bomb, fox = sorted(listing(workdir), key=lambda s: s["id"])
    assert [f["original_name"] for f in bomb["files"]] == ["work.mp4"]
    assert ("mail_parts", "warn", "too_many_parts") in checks_of(bomb)
    assert "4002" in next(c["message"] for c in bomb["checks"] if c["id"] == "mail_parts")
    assert bomb["outcome"] == "needs_review"
    assert fox["unit"] == "柳城县" and fox["outcome"] == "accepted", fox["checks"]
    assert all({b"\\Seen", b"$IntakeRecorded"} <= f for f in flags_of(dovecot).values())


# -- 2. receipts: CR/LF in the subject, one failing receipt ---------------------------------------
def test_crlf_subject_gets_a_one_line_receipt_and_one_failed_receipt_blocks_nothing(clips, workdir, dovecot,
                                                                                    monkeypatch):
    from intake.mail import receipts

    handler, controller = smtp_collector()
    controller.start()
    real_send = receipts._send
    failed_once: list[str] = []

    def send_failing_first(cfg, msg):
        if "第二封" in str(msg["Subject"]) and not failed_once:
            failed_once.append(msg["Subject"])
            raise RuntimeError("simulated receipt failure")
        real_send(cfg, msg)

    monkeypatch.setattr(receipts, "_send", send_failing_first)
    try:
        monkeypatch.setenv("INTAKE_IMAP_PASSWORD", PASSWORD)
        write_mail_config(workdir, dovecot.port, receipts={
            "enabled": True, "host": "127.0.0.1", "port": controller.port,
            "security": "none", "from_address": "bmjfgxck@163.com", "for_no_video": True})   # mails without video
        evil = mails.ew("柳南区作品\r\nBcc: victim@example.org\r\nX-Evil: 1")
        append(dovecot, mails.plain(evil), mails.plain(mails.ew("第二封作品")), mails.plain(mails.ew("第三封作品")))
        poller = poller_for(workdir)
        assert len(poller.poll_once()) == 3          # receipts are their own step, after the pass
        assert handler.messages == []
        assert poller.receipts.send_pending() == 2   # the failing receipt did not stop the others
        assert len(handler.messages) == 2
        poller.poll_once()
        poller.receipts.send_pending()               # the failed one is sent now; none twice
        poller.receipts.send_pending()
        poller.session.close()
    finally:
        controller.stop()
    assert failed_once and len(handler.messages) == 3
    subjects = []
    for envelope in handler.messages:
        assert envelope.rcpt_tos == [mails.FROM]
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        assert msg["Bcc"] is None and msg["X-Evil"] is None
        subjects.append(str(msg["Subject"]))
    assert sorted(subjects)[0].startswith("回执：已收到《柳南区作品 Bcc: victim@example.org X-Evil: 1》")
    assert all("\r" not in s and "\n" not in s for s in subjects)
    [evil_sub] = [s for s in listing(workdir) if s["title"].startswith("柳南区作品")]
    assert evil_sub["title"] == "柳南区作品 Bcc: victim@example.org X-Evil: 1"


# -- 3. text from outside, made safe where it enters -----------------------------------------
def test_long_and_nul_fields_are_recorded_on_both_backends(mailbox, dovecot, backend):
    long_subject = mails.ew("柳北区" + "长" * 600)
    nul_subject = "=?utf-8?Q?=E6=9F=B3=E5=8C=97=E5=8C=BA=00=E4=BD=9C=E5=93=81?="
    long_sender = "a" * 390 + "@example.cn"
    append(dovecot, mails.plain(long_subject), mails.plain(nul_subject), mails.plain(mails.ew("长发件人"),
                                                                                     sender=long_sender))
    results = poller_for(mailbox).poll_once()
    assert [r.already_recorded for r in results] == [False, False, False]
    long_sub, nul_sub, sender_sub = sorted(listing(mailbox), key=lambda s: s["id"])
    assert len(long_sub["title"]) == 500 and long_sub["title"].startswith("柳北区长长")
    assert nul_sub["title"] == "柳北区作品"
    assert len(sender_sub["sender"]) <= 320 and sender_sub["sender"].startswith("aaaa")
    assert all(b"$IntakeRecorded" in f for f in flags_of(dovecot).values())


def test_raw_utf8_from_rfc6532_is_recorded(mailbox, dovecot, backend):
    # The shape of imap_tools' rfc6532/utf8_headers.eml: raw UTF-8 in From, To and Subject, no Date,
    # no Message-ID, no MIME header, one text body.
    corpus = ('From: "Jöhn Doe" <jdöe@mächine.example>\r\nTo: "Märy Smith" <märy@exämple.net>\r\n'
              "Subject: Säying Hello\r\n\r\nbody\r\n").encode("utf-8")
    chinese = mails.plain("融安县作品", sender="张三 <张三@例子.中国>".encode("utf-8"))
    assert "融安县作品".encode("utf-8") in chinese and b"=?" not in chinese.split(b"\r\n\r\n")[0]
    append(dovecot, corpus, chinese)
    results = poller_for(mailbox).poll_once()
    assert [r.already_recorded for r in results] == [False, False]
    hello, rongan = sorted(listing(mailbox), key=lambda s: s["id"])
    assert (hello["sender"], hello["title"]) == ("jdöe@mächine.example", "Säying Hello")
    assert (rongan["sender"], rongan["title"]) == ("张三@例子.中国", "融安县作品")
    assert not any(c[0] == "text_encoding" for sub in (hello, rongan) for c in checks_of(sub))


def test_utf7_word_with_a_lone_surrogate_is_recorded_with_a_warning(mailbox, dovecot, backend):
    # "+2D0-" is a lone high surrogate in UTF-7: Python decodes it without complaint.
    append(dovecot, mails.plain("=?utf-7?B?KzJEMC1hYmM=?= =?utf-8?B?5p+z5Y2X5Yy6?="),
           mails.plain("ok", sender=b"\xff\xfe bad <x\xff@example.cn>"))
    results = poller_for(mailbox).poll_once()
    assert len(results) == 2
    utf7, bad_from = sorted(listing(mailbox), key=lambda s: s["id"])
    assert utf7["title"] == "\ufffdabc柳南区"
    assert ("text_encoding", "warn", "lossy_decoding") in checks_of(utf7)
    assert "主题" in next(c["message"] for c in utf7["checks"] if c["id"] == "text_encoding")
    assert "\ufffd" in bad_from["sender"] and ("text_encoding", "warn", "lossy_decoding") in checks_of(bad_from)


# -- 4. Message-ID proves a duplicate only with the same content -------------------------------
def test_reused_message_id_with_other_content_is_its_own_submission(clips, mailbox, dovecot):
    mp4 = clips["valid"].read_bytes()
    first = mails.plain(mails.ew("柳南区 第一件"), message_id="<same@example.cn>", attachment=mails.variant(mp4, "1"))
    other = mails.plain(mails.ew("柳南区 第二件"), message_id="<same@example.cn>", attachment=mails.variant(mp4, "2"))
    text_a = mails.plain(mails.ew("咨询"), body="第一个问题", message_id="<text@example.cn>")
    text_b = mails.plain(mails.ew("咨询"), body="第二个问题", message_id="<text@example.cn>")
    append(dovecot, first, other, text_a, text_b)
    results = poller_for(mailbox).poll_once()
    assert [r.already_recorded for r in results] == [False] * 4
    subs = sorted(listing(mailbox), key=lambda s: s["id"])
    for earlier, later in ((subs[0], subs[1]), (subs[2], subs[3])):
        assert ("duplicate", "warn", "message_id_reused") not in checks_of(earlier)
        warn = next(c for c in later["checks"] if c["code"] == "message_id_reused")
        assert warn["id"] == "duplicate" and warn["status"] == "warn"
        assert f"第 {earlier['id']} 号作品" in warn["message"]
    # The same mails again (a copy put back, a mailbox rebuilt): nothing new is recorded.
    append(dovecot, first, other, text_a, text_b)
    again = poller_for(mailbox).poll_once()
    assert [(r.already_recorded, r.submission_id) for r in again] == [(True, s["id"]) for s in subs]
    assert len(listing(mailbox)) == 4
    assert all(b"$IntakeRecorded" in f for f in flags_of(dovecot).values())


# -- 6. a refused login ---------------------------------------------------------------------
def test_wrong_authorization_code_is_login_refused_said_once_and_retried_slowly(workdir, dovecot, monkeypatch,
                                                                               caplog):
    from intake.service.doctor import check_sources

    monkeypatch.setenv("INTAKE_IMAP_PASSWORD", "web-password")
    write_mail_config(workdir, dovecot.port)
    poller = poller_for(workdir)
    with pytest.raises(LoginRefused) as refused:
        poller.poll_once()
    assert "授权码不对或已失效" in refused.value.message and "POP3/SMTP/IMAP" in refused.value.hint

    waits: list[float] = []
    stop = threading.Event()
    real_wait = stop.wait

    def counting_wait(seconds=None):
        waits.append(seconds)
        if len(waits) >= 3:
            stop.set()
        return real_wait(0.01)

    monkeypatch.setattr(stop, "wait", counting_wait)
    with caplog.at_level(logging.ERROR, logger="intake.mail.poller"):
        poller.run(stop)
    assert waits == [poller_module.LOGIN_RETRY_SECONDS] * 3 and poller_module.LOGIN_RETRY_SECONDS >= 600
    assert len([r for r in caplog.records if "授权码不对" in r.getMessage()]) == 1
    [finding] = [f for f in check_sources(load_config(workdir / "config.yaml")) if f.what == "邮箱接收"]
    assert not finding.ok and "授权码不对或已失效" in finding.detail and "连续 3 次" in finding.detail
    doctor = run("doctor", "--no-mailbox", cwd=workdir)
    assert doctor.returncode == 1
    assert "✗ 邮箱接收：最近一次失败" in doctor.stdout and "授权码不对或已失效" in doctor.stdout

    out = run("poll", "--once", cwd=workdir)
    assert out.returncode == 1
    assert "邮箱登录失败：服务器拒绝登录，授权码不对或已失效" in out.stderr and "客户端授权码" in out.stderr
    assert "Traceback" not in out.stderr and "web-password" not in out.stderr


# -- 7. a mail that makes processing fail ----------------------------------------------------
def test_failing_mail_is_retried_with_backoff_then_recorded_and_blocks_nothing(clips, mailbox, dovecot, backend,
                                                                             monkeypatch):
    from intake.mail.reader import MailReader

    # A backoff no pass outlasts, however loaded the machine; the test ends it below through the stored next try.
    add_config(mailbox, "processing:\n  max_attempts: 2\n  retry_seconds: 600\n")
    real_read = MailReader.read
    tries: list[int] = []

    def read(self, head, source_ref, key):
        if "坏邮件" in head.subject:
            tries.append(head.uid)
            raise RuntimeError("a bug this mail's content triggers")
        return real_read(self, head, source_ref, key)

    monkeypatch.setattr(MailReader, "read", read)
    mp4 = clips["valid"].read_bytes()
    append(dovecot, mails.plain(mails.ew("坏邮件 柳江区"), attachment=mails.variant(mp4, "bad")),
           mails.foxmail_gbk(mails.variant(mp4, "good")))
    poller = poller_for(mailbox)
    first = poller.poll_once()
    assert [r.subject for r in first] == ["柳城县参赛作品（镕）"]   # the mail behind it, in the same pass
    poller.poll_once()                                            # backing off: not downloaded again
    assert len(tries) == 1

    # The backoff is over: the failure's stored next try is moved into the past, so the retry is due by the
    # database's state (as after ten minutes) and not by how long the passes took.
    db = poller.services.db
    [failing] = db.claims.failing_items()
    assert failing.attempts == 1 and failing.next_at > datetime.now(timezone.utc) + timedelta(seconds=500)
    end_backoff(db, failing.source_ref)

    def bad_recorded():
        return [r for r in poller.poll_once() if r.subject.startswith("坏邮件")]

    [late] = wait_until(bad_recorded, 30, "the failing mail to be recorded")
    poller.session.close()
    assert len(tries) == 2 and late.outcome.value == "needs_review"
    subs = sorted(listing(mailbox), key=lambda s: s["id"])
    assert len(subs) == 2
    bad = subs[1]
    assert bad["title"] == "坏邮件 柳江区" and bad["sender"] == mails.FROM and bad["outcome"] == "needs_review"
    error = next(c for c in bad["checks"] if c["id"] == "processing_error")
    assert error["status"] == "warn" and "共尝试 2 次" in error["message"] and "RuntimeError" in error["message"]
    assert all(b"$IntakeRecorded" in f for f in flags_of(dovecot).values())
    assert open_services(load_config(mailbox / "config.yaml")).db.claims.failing_items() == []


def test_a_failed_mail_is_retried_on_time_while_the_poller_waits_in_idle(clips, mailbox, dovecot, monkeypatch):
    """With IDLE the poller waits for new mail; a failed mail's next try must wake it all the same."""
    from intake.mail.reader import MailReader

    # The backoff must outlast the first pass (it records the good mail): 3 s, with four workers on two cores.
    add_config(mailbox, "processing:\n  max_attempts: 2\n  retry_seconds: 3\n")
    real_read = MailReader.read

    def read(self, head, source_ref, key):
        if "坏邮件" in head.subject:
            raise RuntimeError("a bug this mail's content triggers")
        return real_read(self, head, source_ref, key)

    monkeypatch.setattr(MailReader, "read", read)
    append(dovecot, mails.plain(mails.ew("坏邮件 柳江区"), attachment=mails.variant(clips["valid"].read_bytes(), "idle")))
    poller = poller_for(mailbox)
    assert poller.cfg.idle
    results, stop = [], threading.Event()
    run_in_thread_until(poller.run, stop, lambda: results, 30,
                        "the failing mail to be retried and recorded without new mail", stop, on_result=results.append)
    assert poller.session.has("IDLE")
    [bad] = results
    assert bad.subject.startswith("坏邮件") and bad.outcome.value == "needs_review"


# -- 5. the mailbox thread of `intake run` ---------------------------------------------------
def test_run_keeps_the_mailbox_thread_alive_through_a_database_error(clips, mailbox, dovecot, monkeypatch):
    from intake.service.doctor import check_sources
    from intake.service.runner import run_main_job

    monkeypatch.setattr(poller_module, "FIRST_RETRY_SECONDS", 0.1)
    real_poll = MailPoller.poll_once
    calls: list[str] = []

    def poll_once(self):
        calls.append("poll")
        if len(calls) == 1:
            raise DatabaseError("数据库暂时无法连接（测试）", "请稍候。")
        return real_poll(self)

    monkeypatch.setattr(MailPoller, "poll_once", poll_once)
    append(dovecot, mails.large_qq())
    config = load_config(mailbox / "config.yaml")
    stop = threading.Event()
    seen = []
    thread = threading.Thread(target=run_main_job, args=(config, stop),
                              kwargs={"with_mailbox": True, "on_mail": seen.append})
    thread.start()
    try:
        wait_until(lambda: seen, 60, "the mail to be recorded after the database error")
        status = json.loads((config.storage.data_dir / "status" / "mailbox.json").read_text(encoding="utf-8"))
        wait_until(lambda: json.loads((config.storage.data_dir / "status" / "mailbox.json")
                                    .read_text(encoding="utf-8")).get("failures_in_a_row") == 0, 30, "a good pass")
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    assert len(calls) >= 2 and "数据库暂时无法连接" in status["last_error"]
    [finding] = [f for f in check_sources(config) if f.what == "邮箱接收"]
    assert finding.ok, finding


def test_a_command_the_server_refuses_for_one_mail_counts_against_that_mail_only(clips, mailbox, dovecot,
                                                                                 monkeypatch):
    from intake.mail.client import imap_errors
    from intake.mail.reader import MailReader

    add_config(mailbox, "processing:\n  max_attempts: 1\n")
    real_read = MailReader.read

    def read(self, head, source_ref, key):
        if "服务器拒绝" in head.subject:
            # What a server's line limit (or any BAD/NO about this one mail) looks like to the reader.
            with imap_errors(f"读取邮件 UID {head.uid} 的附件信息"):
                self.session.client.fetch([head.uid], ["BODY.PEEK[not-a-section]"])
        return real_read(self, head, source_ref, key)

    monkeypatch.setattr(MailReader, "read", read)
    append(dovecot, mails.plain(mails.ew("服务器拒绝 柳江区")), mails.foxmail_gbk(clips["valid"].read_bytes()))
    poller = poller_for(mailbox)
    results = poller.poll_once()   # the connection is fine: the pass goes on to the next mail
    poller.session.close()
    assert sorted(r.subject for r in results) == ["服务器拒绝 柳江区", "柳城县参赛作品（镕）"]
    refused = next(s for s in listing(mailbox) if s["title"] == "服务器拒绝 柳江区")
    error = next(c for c in refused["checks"] if c["id"] == "processing_error")
    assert "邮箱服务器拒绝读取这封邮件" in error["message"] and "BAD" in error["message"]
    assert all(b"$IntakeRecorded" in f for f in flags_of(dovecot).values())


def test_a_mail_on_which_the_connection_keeps_dropping_does_not_hold_up_the_mails_behind(clips, mailbox, dovecot,
                                                                                      monkeypatch):
    import socket

    from core.errors import MailboxError
    from intake.mail.client import imap_errors
    from intake.mail.reader import MailReader

    real_read = MailReader.read
    drops: list[int] = []

    def read(self, head, source_ref, key):
        if "断线" in head.subject:
            drops.append(head.uid)
            self.session.client._imap.sock.shutdown(socket.SHUT_RDWR)   # the server hangs up on this mail
            with imap_errors(f"读取邮件 UID {head.uid}"):
                self.session.client.noop()
        return real_read(self, head, source_ref, key)

    monkeypatch.setattr(MailReader, "read", read)
    append(dovecot, mails.plain(mails.ew("断线 柳江区")), mails.foxmail_gbk(clips["valid"].read_bytes()))
    poller = poller_for(mailbox)
    for _ in range(2):
        with pytest.raises(MailboxError):
            poller.poll_once()   # a connection failure is never the mail's fault: the pass stops, no count
        poller.session.close()
    assert drops == [1, 1]
    assert [s["subject"] for s in listing(mailbox)] == ["柳城县参赛作品（镕）"]   # read first on the second pass
    assert open_services(load_config(mailbox / "config.yaml")).db.claims.failing_items() == []


def test_run_keeps_the_folder_watcher_alive_through_an_error(clips, workdir, monkeypatch):
    from intake.service import runner
    from core.errors import StorageError
    from intake.inbox.watcher import InboxWatcher

    monkeypatch.setattr(runner, "RESTART_SECONDS", 0.1)
    real_run = InboxWatcher.run
    calls: list[str] = []

    def run(self, stop, once=False, **kwargs):
        calls.append("run")
        if len(calls) == 1:
            raise StorageError("文件库暂时无法写入（测试）")
        return real_run(self, stop, once=once, **kwargs)

    monkeypatch.setattr(InboxWatcher, "run", run)
    add_config(workdir, "watch:\n  settle_seconds: 0.2\n")
    (workdir / "inbox").mkdir()
    (workdir / "inbox" / "柳北区-甲-13977200009-夹.mp4").write_bytes(clips["valid"].read_bytes())
    stop = threading.Event()
    finished = []
    thread = run_in_thread_until(runner.run_main_job, stop, lambda: finished, 60,
                                 "the dropped file to be recorded after the watcher's error",
                                 load_config(workdir / "config.yaml"), stop, with_mailbox=False,
                                 on_finished=finished.append)
    assert not thread.is_alive() and len(calls) == 2


def test_a_lost_database_file_stops_the_whole_job_with_its_error(mailbox, dovecot, monkeypatch):
    from core.errors import DatabaseGone
    from intake.service.runner import run_main_job

    def poll_once(self):
        raise DatabaseGone("数据库文件在程序运行期间被删除了（测试）", "请恢复后重新启动。")

    monkeypatch.setattr(MailPoller, "poll_once", poll_once)
    with pytest.raises(DatabaseGone):
        run_main_job(load_config(mailbox / "config.yaml"), threading.Event(), with_mailbox=True)
