"""Receipts are written for submitters: only the advice, only to the From address, at most once, and only
for mails recorded after receipts were turned on. Through a real SMTP server (aiosmtpd) and a real Dovecot."""

from __future__ import annotations

import ast
import email
import threading
from datetime import datetime, timedelta, timezone
from email import policy
from pathlib import Path

import pytest

from intake.inbox.archives import corrupt_archive_check, name_too_long_check, path_conflict_check, too_big_check
from intake.config import load_config
from intake.pipeline.contact_info import check_contact_info
from intake.pipeline.contest_rules import UnitMatch, check_deadline, check_quota, check_unit
from intake.mail.receipts import ReceiptSender
from intake.pipeline.stages import duplicate_found
from intake.pipeline.recording import record_submission
from intake.pipeline.retries import processing_error_check
from intake.pipeline.services import open_services
from intake.pipeline.task import MediaTask, SubmissionTask
from intake.pipeline.views import submission_view
from tests import mails
from tests.cli import listing
from tests.conftest import OPEN_CONTEST, REPO
from tests.dovecot import PASSWORD
from tests.mailboxes import (FORBIDDEN, append, assert_for_submitters, poller_for, received, smtp_collector,
                             write_mail_config)
from validators.checks import check_container, check_duration, check_size
from validators.rules import RulesConfig
from validators.results import warned
from validators.mediainfo import MediaFacts

CONTACT = "联系人：市国家保密局 王老师，电话：0772-2821234"


@pytest.fixture
def smtp():
    """A real SMTP server on loopback; every receipt it received is checked for what submitters must not read."""
    handler, controller = smtp_collector()
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()
    for envelope in handler.messages:
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        assert_for_submitters(str(msg["Subject"]) + "\n" + msg.get_content())


def receipts_config(port: int, **extra) -> str:
    lines = ["mailbox:", "  receipts:", "    host: 127.0.0.1", f"    port: {port}", "    security: none",
             "    from_address: bmjfgxck@163.com"]
    lines += [f"    {key}: {'true' if value is True else 'false' if value is False else value}"
              for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def services_for(folder: Path, port: int, database: str = "", **receipts):
    """Services whose config (in ``folder``) has the receipts as given; ``database`` a URL line or ''."""
    folder.mkdir(exist_ok=True)
    (folder / "config.yaml").write_text(OPEN_CONTEST + receipts_config(port, **receipts) + database, encoding="utf-8")
    return open_services(load_config(folder / "config.yaml"))


def mail_task(n: int, sender: str | None = None, checks=(), files=()) -> SubmissionTask:
    return SubmissionTask(source="mail", received_at=datetime(2024, 4, 1, 9, n, tzinfo=timezone.utc),
                          source_ref=f"mail:test:{n}", unit="柳南区", contact="张三", phone="13800138000",
                          title=f"作品{n}", sender=sender or f"unit{n}@example.cn", checks=list(checks),
                          files=list(files))


def events_of(services, kind: str, submission_id: int | None = None) -> list:
    return [e for e in services.db.audit.events(submission_id) if e.kind == kind]


# -- the texts ---------------------------------------------------------------------------------------
def _advice_calls():
    """Every warned(...)/failed(...) call in our code: (where, the advice expression or None, what each name
    in the file is assigned)."""
    for root in ("validators", "intake"):
        for path in sorted((REPO / root).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            constants: dict[str, list[ast.expr]] = {}
            for node in ast.walk(tree):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            constants.setdefault(target.id, []).append(node.value)
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("warned", "failed"):
                    advice = next((k.value for k in node.keywords if k.arg == "advice"), None)
                    yield f"{path.relative_to(REPO)}:{node.lineno}", advice, constants


def _literal_texts(expr, constants) -> list[str]:
    """The literal text an advice expression is made of, with what the names in it are assigned."""
    texts = []
    for node in ast.walk(expr):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            texts.append(node.value)
        elif isinstance(node, ast.Name):
            for value in constants.get(node.id, []):
                texts += _literal_texts(value, {})
    return texts


def test_every_warning_and_failure_carries_advice_for_the_submitter():
    calls = list(_advice_calls())
    assert len(calls) > 40
    missing = [where for where, advice, _ in calls if advice is None
               or (isinstance(advice, ast.Constant) and not advice.value)]
    assert missing == [], "warned()/failed() without advice= for the submitter"
    for where, advice, constants in calls:
        text = "".join(_literal_texts(advice, constants))
        assert text.strip(), where
        for word in (*FORBIDDEN, "#", "请人工", "intake"):
            assert word not in text, f"{where}: {word!r} in advice"


def test_numbers_in_messages_read_as_people_read_them():
    rules = RulesConfig()
    too_long = check_duration(MediaFacts(general={"duration": "126000"}), None, rules)
    assert too_long.message == "时长 2分6秒，超过 2分 的要求。请剪辑到 2分 以内后重新报送。"
    assert too_long.advice == "视频时长 2分6秒，超过 2分 的要求。请剪辑到 2分 以内后重新报送。"
    grace = check_duration(MediaFacts(general={"duration": "120400"}), None, rules)
    assert (grace.code, grace.message) == ("too_long_grace", "时长 2分0.4秒，略超过 2分（原则上不超过）。由评审人员决定是否接受。")
    assert check_duration(MediaFacts(general={"duration": "8000"}), None, rules).message == "时长 8秒。"
    assert check_duration(MediaFacts(general={"duration": "119600"}), None, rules).message == "时长 2分。"
    big = check_size(13_002_342, rules.model_copy(update={"max_size_bytes": 10 * 2**20}))
    assert big.message == "文件大小为 12.4 MB，超过 10 MB 的上限。请压缩视频（如降低码率）后重新报送。"
    one_byte_over = check_size(rules.max_size_bytes + 1, rules)
    assert one_byte_over.message.startswith("文件大小为 300 MB（314,572,801 字节），超过 300 MB 的上限。")
    assert too_big_check(600 * 2**20).message.startswith("压缩包解压后超过 600 MB 的上限")


def test_a_receipt_quotes_only_the_advice_and_ends_with_the_contact_line(workdir, smtp):
    handler, port = smtp
    services = services_for(workdir, port, enabled=True, contact_line=f'"{CONTACT}"')
    sender = ReceiptSender(services)
    rules = services.config.rules
    video = MediaTask(source_path=None, original_name="作品.mp4", size_bytes=400 * 2**20,
                      extra_checks=[check_size(400 * 2**20, rules), check_container("quicktime", None, rules),
                                    check_duration(MediaFacts(general={"duration": "126000"}), None, rules)])
    duplicate_found(video, {"id": 3, "unit": "柳北区", "received_at": datetime(2024, 4, 1, tzinfo=timezone.utc)})
    deadline = datetime(2024, 3, 31, tzinfo=timezone.utc)
    checks = [check_contact_info("柳南区", None, "123"), check_unit("柳南区委办", UnitMatch("柳南区", "fuzzy", 0.7)),
              check_deadline(deadline + timedelta(days=1), deadline), check_quota("柳南区", [4, 9], 1),
              processing_error_check(RuntimeError("boom"), 3, ["作品.mp4"]), corrupt_archive_check(ValueError("x")),
              path_conflict_check("a/b"), name_too_long_check("长" * 300)]
    submission_id = record_submission(services.db, mail_task(1, checks=checks, files=[video]))
    assert sender.send_pending() == 1
    [msg] = received(handler)
    assert (msg["To"], msg["Subject"]) == ("unit1@example.cn", "回执：已收到《作品1》（不合格）")
    body = msg.get_content()
    lines = body.rstrip("\n").split("\n")
    assert lines[-1] == CONTACT and lines[-2] == "（本邮件由系统自动发送，请勿直接回复。）"
    assert "处理结果：不合格" in body and "文件：作品.mp4" in body
    view = submission_view(services.db, submission_id)
    for check in view["checks"]:
        assert check["advice"] and check["advice"] in body, check
        if check["message"] not in check["advice"]:   # the reviewer's own words stay with the reviewer
            assert check["message"] not in body
    assert "视频时长 2分6秒，超过 2分 的要求。请剪辑到 2分 以内后重新报送。" in body
    assert "视频文件大小为 400 MB，超过 300 MB 的上限。" in body
    assert "这个视频在 2024-04-01 08:00 已经收到过，内容完全相同，无需再次发送。" in body


def test_a_receipt_for_a_check_recorded_without_advice_never_quotes_the_message(workdir, smtp):
    handler, port = smtp
    services = services_for(workdir, port, enabled=True)
    sender = ReceiptSender(services)
    old = warned("quota", "over_quota", "柳南区此前已报送 1 件作品（#4）。请评审人员确认以哪一件为准。")
    record_submission(services.db, mail_task(1, checks=[old]))
    assert sender.send_pending() == 1
    body = received(handler)[0].get_content()
    assert "名额：工作人员将核实这一情况，暂不需要处理。" in body and "#4" not in body
    assert body.rstrip("\n").endswith("（本邮件由系统自动发送，请勿直接回复。）")   # no contact line configured


# -- who gets one, and when ----------------------------------------------------------------------------
def test_turning_receipts_on_never_answers_the_mails_recorded_before(tmp_path, smtp):
    handler, port = smtp
    db_line = f"database:\n  url: sqlite:///{tmp_path / 'intake.db'}\n"   # one database, several configs
    off = services_for(tmp_path / "off", port, database=db_line)
    record_submission(off.db, mail_task(1))
    ReceiptSender(off).send_pending()
    on = services_for(tmp_path / "on", port, database=db_line, enabled=True)
    first = ReceiptSender(on)                                # the switch: mail 1 was recorded before it
    record_submission(on.db, mail_task(2))
    assert ReceiptSender(on).send_pending() == 1             # a restart keeps the moment
    assert first.send_pending() == 0
    assert len(events_of(on, "receipts_on")) == 1
    ReceiptSender(services_for(tmp_path / "off2", port, database=db_line)).send_pending()   # off again
    record_submission(on.db, mail_task(3))                   # recorded while receipts were off
    again = ReceiptSender(services_for(tmp_path / "on2", port, database=db_line, enabled=True))
    record_submission(on.db, mail_task(4))
    assert again.send_pending() == 1
    assert [m["To"] for m in received(handler)] == ["unit2@example.cn", "unit4@example.cn"]
    assert [e.kind for e in on.db.audit.events() if e.kind.startswith("receipts_")] == \
        ["receipts_on", "receipts_off", "receipts_on"]


def test_a_receipt_interrupted_while_sending_is_not_sent_again(workdir, smtp):
    handler, port = smtp
    services = services_for(workdir, port, enabled=True)
    sender = ReceiptSender(services)
    submission_id = record_submission(services.db, mail_task(1))
    services.db.audit.record("receipt_sending", {"to": "unit1@example.cn"}, submission_id=submission_id)
    assert sender.send_pending() == 0 and sender.send_pending() == 0
    assert handler.messages == []
    [skipped] = events_of(services, "receipt_skipped", submission_id)
    assert skipped.data == {"reason": "interrupted"}


def test_two_workers_send_each_receipt_once_and_note_the_switch_once(workdir, backend, smtp):
    handler, port = smtp
    database = f"database:\n  url: {backend}\n" if backend != "sqlite" else \
        f"database:\n  url: sqlite:///{workdir / 'data' / 'intake.db'}\n"
    workers = [services_for(workdir / f"w{i}", port, database=database, enabled=True) for i in range(4)]
    start = threading.Barrier(len(workers))
    senders: list[ReceiptSender | None] = [None] * len(workers)
    sent = [0] * len(workers)
    errors: list[BaseException] = []

    def work(i: int, step: str) -> None:
        try:
            start.wait(timeout=30)
            if step == "switch":
                senders[i] = ReceiptSender(workers[i], worker=f"test:{i}")
            else:
                sent[i] = senders[i].send_pending()
        except BaseException as exc:  # seen by the test below
            errors.append(exc)

    for step in ("switch", "send"):
        threads = [threading.Thread(target=work, args=(i, step)) for i in range(len(workers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == [] and not any(t.is_alive() for t in threads)
        if step == "switch":
            assert len(events_of(workers[0], "receipts_on")) == 1
            for n in range(1, 7):
                record_submission(workers[0].db, mail_task(n))
    assert sum(sent) == 6
    assert sorted(e.rcpt_tos[0] for e in handler.messages) == [f"unit{n}@example.cn" for n in range(1, 7)]
    assert len(events_of(workers[0], "receipt_sent")) == 6


# -- end to end through the mailbox --------------------------------------------------------------------
def video_mail(subject: str, mp4: bytes, reply_to: str | None = None) -> bytes:
    """A mail whose video is named as its subject (whichever the title is taken from, it reads the same)."""
    raw = mails.modern(subject, "单位：柳南区\n联系人：张三\n电话：13800138000\n",
                       [(f"{subject}.mp4", mp4, "video/mp4")])
    return (f"Reply-To: {reply_to}\r\n".encode() + raw) if reply_to else raw


def test_mailbox_receipts_go_to_the_from_address_of_later_mails_only(clips, workdir, dovecot, monkeypatch, smtp):
    handler, port = smtp
    monkeypatch.setenv("INTAKE_IMAP_PASSWORD", PASSWORD)
    receipts = {"enabled": False, "host": "127.0.0.1", "port": port, "security": "none",
                "from_address": "bmjfgxck@163.com", "contact_line": CONTACT}
    long_mp4 = clips["s126"].read_bytes()
    write_mail_config(workdir, dovecot.port, receipts=receipts)
    append(dovecot, video_mail("柳南区 早先的作品", mails.variant(long_mp4, "early")))
    poller_for(workdir).run(threading.Event(), once=True)          # recorded while receipts are off
    write_mail_config(workdir, dovecot.port, receipts={**receipts, "enabled": True})
    poller = poller_for(workdir)                                    # receipts turned on here
    append(dovecot, video_mail("柳南区 作品", mails.variant(long_mp4, "late"), reply_to="someone@elsewhere.org"),
           mails.no_video())
    for _ in range(2):
        poller.run(threading.Event(), once=True)
    [msg] = received(handler)
    assert handler.messages[0].rcpt_tos == [mails.FROM] and msg["To"] == mails.FROM
    assert msg["Subject"] == "回执：已收到《柳南区 作品》（不合格）"
    body = msg.get_content()
    assert "\n1. 视频时长 2分6秒，超过 2分 的要求。请剪辑到 2分 以内后重新报送。\n" in body
    assert body.rstrip("\n").split("\n")[-1] == CONTACT
    subs = listing(workdir)
    assert len(subs) == 3 and {s["sender"] for s in subs} == {mails.FROM}     # a Reply-To never wins
    for sub in subs:
        for check in sub["checks"]:
            assert bool(check["advice"]) == (check["status"] != "pass"), check
    [question] = [s for s in subs if not s["files"]]
    assert question["outcome"] == "rejected"
    services = poller.services
    assert [e.data for e in events_of(services, "receipt_skipped", question["id"])] == [{"reason": "no_video"}]
    # A question is answered once for_no_video is set; the one skipped before stays skipped.
    write_mail_config(workdir, dovecot.port, receipts={**receipts, "enabled": True, "for_no_video": True})
    append(dovecot, mails.no_video())
    poller_for(workdir).run(threading.Event(), once=True)
    assert len(handler.messages) == 2
    answer = received(handler)[1]
    assert answer["Subject"] == "回执：已收到《关于报送作品的咨询》（不合格）"
    assert "没有收到视频文件。请把 MP4 视频作为邮件附件（文件较大时可用超大附件）重新发送。" in answer.get_content()


def test_a_link_over_the_limit_is_told_one_thing_and_an_unreadable_mail_is_not_called_empty(workdir):
    """The 超大附件 advice must not promise a download the size failure below it refuses, and a mail whose
    attachments could not be processed is not told that no video came."""
    from intake.mail.findings import warn_large_attachment_links
    from intake.pipeline.task import LargeAttachmentLink
    from intake.pipeline.notes import render_receipt
    from intake.pipeline.services import Services

    services = Services(load_config(workdir / "config.yaml"), db=None, store=None)
    big = LargeAttachmentLink(url="https://mail.163.com/large/1", name="作品.mp4", size="400M", expires=None,
                              size_bytes=400 * 2**20)
    task = SubmissionTask(source="mail", received_at=datetime.now(timezone.utc), attachment_links=[big])
    warn_large_attachment_links(task, services)
    view = {"title": "作品", "received_at": "2026-03-01T10:00:00+08:00", "outcome": "rejected", "files": [],
            "checks": [c.as_json() for c in task.checks]}
    text = render_receipt(view)
    assert "暂不需要处理" not in text and "工作人员将在下载链接到期前下载" not in text
    assert "文件：（以“超大附件”下载链接发送）" in text
    assert "不能采用，请按下一条说明处理" in text and "请压缩视频（如降低码率）" in text

    failed = processing_error_check(RuntimeError("boom"), 3, ["作品.mp4"])
    view = {**view, "outcome": "needs_review", "checks": [failed.as_json()]}
    assert "文件：（附件处理出错，工作人员将核实）" in render_receipt(view)
