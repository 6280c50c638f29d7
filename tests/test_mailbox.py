"""Mailbox intake against a real Dovecot started by the test suite."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.errors import MailboxError
from intake.config import load_config
from intake.pipeline.services import open_services
from tests.configs import add_config
from tests import mails
from tests.cli import INTAKE, listing, run
from tests.conftest import require_tool
from tests.dovecot import PASSWORD, USER, running_dovecot
from tests.mailboxes import append, flags_of, poller_for, smtp_collector, write_mail_config
from tests.waiting import wait_until

pytestmark = pytest.mark.slow   # a long module: scheduled first (conftest.py)


def test_every_kind_of_mail_is_recorded_once(clips, mailbox, dovecot):
    mp4 = clips["valid"].read_bytes()
    append(dovecot, mails.foxmail_gbk(mails.variant(mp4, "a")), mails.rfc2231_split(mails.variant(mp4, "b")),
           mails.raw_8bit_name(mails.variant(mp4, "c")), mails.inline_and_nameless(mails.variant(mp4, "d")),
           mails.zip_mail(mails.variant(mp4, "e")), mails.large_163(), mails.large_qq(), mails.no_video())
    out = run("poll", "--once", cwd=mailbox)
    assert out.returncode == 0, out.stderr
    subs = listing(mailbox)
    assert len(subs) == 8
    by_unit = {s["unit"]: s for s in subs}

    fox = by_unit["柳城县"]
    # The work is named after its video; the subject is kept apart.
    assert (fox["title"], fox["subject"]) == ("朱镕基同志讲保密", "柳城县参赛作品（镕）")
    assert (fox["contact"], fox["phone"]) == ("覃镕", "0772-7612345")
    assert [f["original_name"] for f in fox["files"]] == ["朱镕基同志讲保密.mp4"]
    assert fox["outcome"] == "accepted", fox["checks"]
    assert fox["sender"] == mails.FROM

    assert [f["original_name"] for f in by_unit["鹿寨县"]["files"]] == ["鹿寨县保密法治代言人作品.mp4"]
    assert (by_unit["鹿寨县"]["contact"], by_unit["鹿寨县"]["phone"]) == ("蒙一", "13977200001")
    assert [f["original_name"] for f in by_unit["融安县"]["files"]] == ["融安县作品.mp4"]

    jiang = by_unit["柳江区"]
    assert (jiang["contact"], jiang["phone"]) == ("黄三", "13977200003")
    assert len(jiang["files"]) == 2 and jiang["files"][0]["original_name"] == "inline.mp4"
    assert all(f["container"] == "mp4" for f in jiang["files"])

    zipped = by_unit["城中区"]
    assert [f["original_name"] for f in zipped["files"]] == ["城中区.zip/城中区作品/守护秘密.mp4"]
    assert zipped["title"] == "守护秘密"
    assert zipped["outcome"] == "accepted", zipped["checks"]

    for unit, host in (("三江侗族自治县", "mail.163.com"), ("融水苗族自治县", "wx.mail.qq.com")):
        sub = by_unit[unit]
        assert sub["outcome"] == "needs_review"
        link = next(c for c in sub["checks"] if c["id"] == "large_attachment_link")
        assert link["status"] == "warn" and host in link["message"] and "到期" in link["message"]
        assert sub["files"] == []
    assert by_unit["三江侗族自治县"]["title"] == "三江作品"   # the file name the download link gives

    nothing = next(s for s in subs if s["subject"] == "关于报送作品的咨询")
    assert nothing["title"] == "关于报送作品的咨询"   # nothing else names it
    assert nothing["outcome"] == "rejected"
    assert [(c["id"], c["code"]) for c in nothing["checks"] if c["status"] == "fail"] == [("files", "no_video")]

    # INTERNALDATE, not the Date header, is the time received
    assert all(s["received_at"].endswith("+08:00") for s in subs)
    # every mail is marked: \Seen and the keyword
    assert all({b"\\Seen", b"$IntakeRecorded"} <= f for f in flags_of(dovecot).values())
    # ID went before SELECT on the connection
    log = dovecot.log_text()
    assert "ID sent: name=liuzhou-intake" in log
    # a second poll records nothing new
    again = run("poll", "--once", cwd=mailbox)
    assert again.returncode == 0
    assert len(listing(mailbox)) == 8


def test_id_is_sent_before_every_select(clips, workdir, dovecot, monkeypatch):
    from tests.tcpproxy import Proxy

    proxy = Proxy(dovecot.port)
    monkeypatch.setenv("INTAKE_IMAP_PASSWORD", PASSWORD)
    write_mail_config(workdir, proxy.port)
    append(dovecot, mails.foxmail_gbk(clips["valid"].read_bytes()))
    poller = poller_for(workdir)
    poller.poll_once()
    poller.poll_once()
    poller.session.close()
    proxy.close()
    commands = bytes(proxy.sent[0]).upper()
    selects = [i for i in range(len(commands)) if commands.startswith(b" SELECT ", i)]
    ids = [i for i in range(len(commands)) if commands.startswith(b" ID (", i)]
    assert len(selects) == 2 and len(ids) == 2
    assert all(any(i < s and not any(i < t < s for t in selects) for i in ids) for s in selects)
    assert b"CHARSET" not in commands


def test_processed_folder_receives_marked_mails(clips, workdir, dovecot, monkeypatch):
    monkeypatch.setenv("INTAKE_IMAP_PASSWORD", PASSWORD)
    write_mail_config(workdir, dovecot.port, processed_folder="已处理作品")
    mp4 = clips["valid"].read_bytes()
    append(dovecot, mails.foxmail_gbk(mp4), mails.no_video())
    results = poller_for(workdir).poll_once()
    assert len(results) == 2
    assert flags_of(dovecot) == {}
    assert len(flags_of(dovecot, "已处理作品")) == 2
    assert len(listing(workdir)) == 2


def test_server_without_id_or_idle(clips, workdir, monkeypatch):
    require_tool("dovecot")
    with running_dovecot(capability="IMAP4rev1 LITERAL+ UIDPLUS") as server:
        monkeypatch.setenv("INTAKE_IMAP_PASSWORD", PASSWORD)
        write_mail_config(workdir, server.port)
        append(server, mails.rfc2231_split(clips["valid"].read_bytes()))
        poller = poller_for(workdir)
        stop = threading.Event()
        seen = []
        thread = threading.Thread(target=poller.run, args=(stop,), kwargs={"on_result": seen.append})
        thread.start()
        try:
            wait_until(lambda: seen, 30, "the first mail")
            assert not poller.session.has("ID") and not poller.session.has("IDLE")
            append(server, mails.no_video())   # picked up by the next poll (poll_seconds: 1)
            wait_until(lambda: len(seen) >= 2, 30, "the second mail, by polling")
        finally:
            stop.set()
            thread.join(10)
        assert len(seen) == 2
        assert "ID sent" not in server.log_text()


def test_idle_wakes_on_new_mail(clips, mailbox, dovecot):
    poller = poller_for(mailbox)
    poller.cfg = poller.cfg.model_copy(update={"poll_seconds": 3600})   # only IDLE can bring it in time
    stop = threading.Event()
    seen = []
    thread = threading.Thread(target=poller.run, args=(stop,), kwargs={"on_result": seen.append})
    thread.start()
    try:
        # The first pass is over (its status is written) and found nothing: what comes now comes through IDLE.
        wait_until((mailbox / "data" / "status" / "mailbox.json").exists, 30, "the first pass")
        assert poller.session.has("IDLE") and seen == []
        append(dovecot, mails.no_video())
        wait_until(lambda: seen, 20, "the mail, through IDLE")
    finally:
        stop.set()
        thread.join(15)
    assert len(seen) == 1


def test_uidvalidity_reset_neither_skips_nor_duplicates(clips, mailbox, dovecot, backend):
    mp4 = clips["valid"].read_bytes()
    append(dovecot, mails.foxmail_gbk(mails.variant(mp4, "1")), mails.no_video(), mails.large_qq())
    poller_for(mailbox).poll_once()
    assert len(listing(mailbox)) == 3
    # The server loses its UID list and flags (a mailbox rebuild): new UIDVALIDITY, no keyword.
    dovecot.stop()
    maildir = dovecot.maildir()
    # Dovecot derives UIDVALIDITY from the clock: the new one is a later second than the old one.
    old_validity = int((maildir / "dovecot-uidlist").read_text().split()[1].lstrip("V"))
    for state in list(maildir.glob("dovecot-uidlist*")) + list(maildir.glob("dovecot.index*")):
        state.unlink()
    for sub in ("cur", "new"):
        for f in (maildir / sub).iterdir():
            f.rename(maildir / "new" / f.name.split(":")[0])
    for f in maildir.glob("dovecot-keywords"):
        f.unlink()
    wait_until(lambda: time.time() >= old_validity + 1, 5, "a second after the old UIDVALIDITY")
    dovecot.start()
    assert all(b"$IntakeRecorded" not in flags for flags in flags_of(dovecot).values())
    append(dovecot, mails.rfc2231_split(mails.variant(mp4, "2")))
    results = poller_for(mailbox).poll_once()
    assert sorted(r.already_recorded for r in results) == [False, True, True, True]
    subs = listing(mailbox)
    assert len(subs) == 4
    assert len({s["source_ref"].rsplit(":", 2)[1] for s in subs}) == 2   # two UIDVALIDITY values
    assert all(b"$IntakeRecorded" in flags for flags in flags_of(dovecot).values())


def test_connection_dropped_in_the_middle_of_a_fetch(clips, workdir, dovecot, monkeypatch):
    from tests.tcpproxy import Proxy

    mp4 = clips["valid"].read_bytes()
    append(dovecot, mails.foxmail_gbk(mp4))
    proxy = Proxy(dovecot.port, cut_after=4000 + len(mp4) // 2)
    monkeypatch.setenv("INTAKE_IMAP_PASSWORD", PASSWORD)
    write_mail_config(workdir, proxy.port)
    poller = poller_for(workdir)
    with pytest.raises(MailboxError) as err:
        poller.poll_once()
    assert "与邮箱服务器通信失败" in str(err.value)
    poller.session.close()
    assert listing(workdir) == []
    assert all(b"\\Seen" not in f for f in flags_of(dovecot).values())
    assert not any((workdir / "data" / "store").rglob("*.mp4"))
    # the next connection goes through: the mail is recorded exactly once
    results = poller.poll_once()
    poller.session.close()
    proxy.close()
    assert [r.already_recorded for r in results] == [False]
    assert len(listing(workdir)) == 1


def test_two_pollers_at_once_record_each_mail_once(clips, mailbox, dovecot, backend):
    mp4 = clips["valid"].read_bytes()
    append(dovecot, *[mails.foxmail_gbk(mails.variant(mp4, str(i))) for i in range(6)],
           *[mails.no_video() for _ in range(4)])
    procs = [subprocess.Popen(INTAKE + ["poll", "--once"], cwd=mailbox, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    subs = listing(mailbox)
    assert len(subs) == 10
    assert len({s["source_ref"] for s in subs}) == 10
    assert all({b"\\Seen", b"$IntakeRecorded"} <= f for f in flags_of(dovecot).values())


def test_oversized_attachment_is_not_downloaded(clips, workdir, dovecot, monkeypatch):
    from tests.tcpproxy import Proxy

    mp4 = clips["s119"].read_bytes()
    append(dovecot, mails.foxmail_gbk(mp4))
    proxy = Proxy(dovecot.port)
    monkeypatch.setenv("INTAKE_IMAP_PASSWORD", PASSWORD)
    write_mail_config(workdir, proxy.port)
    add_config(workdir, f"rules:\n  max_size_bytes: {len(mp4) // 4}\n")
    poller_for(workdir).poll_once()
    proxy.close()
    [sub] = listing(workdir)
    assert sub["outcome"] == "rejected"
    assert ("size", "too_large") in [(c["id"], c["code"]) for c in sub["checks"]]
    assert sub["files"][0]["sha256"] is None
    assert proxy.received < len(mp4) // 2


def test_zip_too_large_to_fetch_is_rejected_unread(clips, workdir, dovecot, monkeypatch):
    mp4 = clips["valid"].read_bytes()
    append(dovecot, mails.zip_mail(mails.variant(mp4, "big")))
    monkeypatch.setenv("INTAKE_IMAP_PASSWORD", PASSWORD)
    write_mail_config(workdir, dovecot.port)
    add_config(workdir, f"watch:\n  max_zip_total_bytes: {len(mp4) // 2}\n")
    poller_for(workdir).poll_once()
    [sub] = listing(workdir)
    assert sub["outcome"] == "rejected" and sub["files"] == []
    checks = [(c["id"], c["status"], c["code"]) for c in sub["checks"]]
    assert ("archive", "fail", "too_large_unpacked") in checks
    assert not any(c[0] == "files" for c in checks)   # rejected already: no second "no video"


def test_receipt_is_sent_once(clips, workdir, dovecot, monkeypatch):
    handler, controller = smtp_collector()
    port = controller.port
    controller.start()
    try:
        monkeypatch.setenv("INTAKE_IMAP_PASSWORD", PASSWORD)
        write_mail_config(workdir, dovecot.port, receipts={
            "enabled": True, "host": "127.0.0.1", "port": port,
            "security": "none", "from_address": "bmjfgxck@163.com"})
        append(dovecot, mails.large_qq())
        poller = poller_for(workdir)
        for _ in range(2):   # the loop sends the receipts after each pass
            poller.run(threading.Event(), once=True)
    finally:
        controller.stop()
    assert len(handler.messages) == 1
    envelope = handler.messages[0]
    assert envelope.rcpt_tos == [mails.FROM]
    import email
    from email import policy

    msg = email.message_from_bytes(envelope.content, policy=policy.default)
    assert msg["Subject"].startswith("回执：已收到《融水作品》（待复核）")   # the work, named by its link
    body = msg.get_content()
    assert "处理结果：待复核" in body and "超大附件" in body


def test_missing_password_is_a_clear_error(workdir, dovecot, monkeypatch):
    monkeypatch.delenv("INTAKE_IMAP_PASSWORD", raising=False)
    write_mail_config(workdir, dovecot.port)
    out = run("poll", "--once", cwd=workdir)
    assert out.returncode == 1
    assert "没有提供邮箱授权码" in out.stderr and "INTAKE_IMAP_PASSWORD" in out.stderr
    assert "Traceback" not in out.stderr


def test_wrong_password_is_a_clear_error(workdir, dovecot, monkeypatch):
    monkeypatch.setenv("INTAKE_IMAP_PASSWORD", "web-password")
    write_mail_config(workdir, dovecot.port)
    out = run("poll", "--once", cwd=workdir)
    assert out.returncode == 1
    assert "邮箱登录失败" in out.stderr and "客户端授权码" in out.stderr
    assert "web-password" not in out.stderr + (workdir / "data" / "logs" / "intake.log").read_text()


def test_attach_adds_a_downloaded_file(clips, mailbox, dovecot):
    append(dovecot, mails.large_163())
    poller_for(mailbox).poll_once()
    [sub] = listing(mailbox)
    assert sub["files"] == [] and sub["outcome"] == "needs_review"
    assert (sub["speaker"], sub["topic"]) == (None, None)
    out = run("attach", str(sub["id"]), str(clips["valid"]), "--reviewer", "刘建东", cwd=mailbox)
    assert out.returncode == 0, out.stderr
    assert f"已把 valid.mp4 补登到作品 #{sub['id']}" in out.stdout
    assert "“超大附件”提醒已解除。\n按视频开头语补充了代言人：小测，主题：保密法。\n" in out.stdout
    [sub] = listing(mailbox)
    assert [f["original_name"] for f in sub["files"]] == ["valid.mp4"]
    # the video is here: the link no longer waits, and the work is judged on what it is
    link = next(c for c in sub["checks"] if c["id"] == "large_attachment_link")
    assert (link["status"], link["code"], link["message"]) == ("pass", "attached", "“超大附件”中的视频已下载并补登：“valid.mp4”。")
    assert sub["outcome"] == "accepted", sub["checks"]
    assert (sub["speaker"], sub["topic"]) == ("小测", "保密法")
    assert "超大附件" not in run("list", cwd=mailbox).stdout
    event = [e for e in open_services(load_config(mailbox / "config.yaml")).db.audit.events(sub["id"])
             if e.kind == "files_added"][-1]
    assert event.actor == "刘建东" and event.data["settled"][0]["status"] == "warn"
    assert event.data["filled"] == {"speaker": "小测", "topic": "保密法"}
    missing = run("attach", "99", str(clips["valid"]), cwd=mailbox)
    assert missing.returncode == 2 and "找不到编号为 99 的作品" in missing.stderr


def test_a_mail_with_two_links_waits_for_both_files():
    from types import SimpleNamespace

    from intake.review.attach import settled_checks
    from intake.pipeline.task import MediaTask

    link = SimpleNamespace(id=7, check_id="large_attachment_link", status="warn", code="large_attachment_link",
                           media_file_id=None, details={"links": [{"url": "a"}, {"url": "b"}]})
    first = SimpleNamespace(checks=[link], files=[])
    assert settled_checks(first, MediaTask(source_path=None, original_name="甲.mp4")) == {}
    second = SimpleNamespace(checks=[link], files=[SimpleNamespace(original_name="甲.mp4")])
    [(row_id, check)] = settled_checks(second, MediaTask(source_path=None, original_name="乙.mp4")).items()
    assert (row_id, check.status.value, check.message) == (7, "pass", "“超大附件”中的视频已下载并补登：“甲.mp4”、“乙.mp4”。")


def test_link_over_the_limit_is_rejected_before_download_until_the_file_is_attached(clips, mailbox, dovecot):
    name = "三江县 保密法治微视频（终版）(1).mp4"
    earlier = mailbox / "earlier.mp4"   # the county's place is taken already
    earlier.write_bytes(mails.variant(clips["valid"].read_bytes(), "earlier"))
    assert run("ingest", earlier, "--unit", "三江侗族自治县", "--contact", "杨四", "--phone", "13977200005",
               cwd=mailbox).returncode in (0, 3)
    append(dovecot, mails.netease_large([(name, "330.5M")], body="单位：三江侗族自治县 联系人：杨四 电话：13977200005"))
    assert run("poll", "--once", cwd=mailbox).returncode == 0
    sub = listing(mailbox)[1]
    assert not [c for c in sub["checks"] if c["id"] == "quota"]   # a rejected work takes no place
    assert sub["outcome"] == "rejected" and sub["files"] == []
    size = next(c for c in sub["checks"] if c["id"] == "size")
    assert (size["status"], size["code"]) == ("fail", "link_too_large")
    assert f"“{name}”（330.5 MB）" in size["message"] and "300 MB 的上限" in size["message"]
    # a reviewer downloads it anyway and attaches it: the file's own checks now speak
    out = run("attach", str(sub["id"]), str(clips["valid"]), cwd=mailbox)
    assert out.returncode == 0, out.stderr
    sub = listing(mailbox)[1]
    assert [(c["id"], c["status"], c["code"]) for c in sub["checks"] if c["id"] in ("size", "large_attachment_link")
            and "file" not in c] == [("large_attachment_link", "pass", "attached"), ("size", "pass", "attached")]
    # no longer rejected, it now counts against the county's quota: the quota is asked again
    [quota] = [c for c in sub["checks"] if c["id"] == "quota"]
    assert (quota["status"], quota["code"]) == ("warn", "over_quota") and "#1" in quota["message"]
    assert sub["outcome"] == "needs_review", sub["checks"]
    assert "作品现在：待复核" in out.stdout


def test_attaching_a_video_to_a_mail_that_had_none_answers_its_no_video_failure(clips, mailbox, dovecot):
    append(dovecot, mails.no_video())
    assert run("poll", "--once", cwd=mailbox).returncode == 0
    [sub] = listing(mailbox)
    assert ("files", "fail", "no_video") in [(c["id"], c["status"], c["code"]) for c in sub["checks"]]
    out = run("attach", "#1", str(clips["valid"]), cwd=mailbox)
    assert out.returncode == 0, out.stderr
    [sub] = listing(mailbox)
    [files] = [c for c in sub["checks"] if c["id"] == "files"]
    assert (files["status"], files["code"], files["message"]) == ("pass", "attached", "已补登视频文件“valid.mp4”。")
    assert sub["outcome"] != "rejected", sub["checks"]


def test_run_handles_mailbox_and_folder_together(clips, mailbox, dovecot):
    (mailbox / "inbox").mkdir()
    (mailbox / "inbox" / "柳北区-甲-13977200009-夹.mp4").write_bytes(mails.variant(clips["valid"].read_bytes(), "f"))
    append(dovecot, mails.large_qq())
    out = run("run", "--once", cwd=mailbox)
    assert out.returncode == 0, out.stderr
    assert f"{USER} 的 INBOX" in out.stdout
    assert sorted(s["source"] for s in listing(mailbox)) == ["folder", "mail"]


PEAK_CHILD = r"""
import json, sys
from pathlib import Path
from intake.config import load_config
from intake.mail.poller import MailPoller
from intake.pipeline.services import open_services
results = MailPoller(open_services(load_config(Path("config.yaml")))).poll_once()
# VmHWM, not ru_maxrss: Linux carries the parent's RSS high-water mark across fork and exec into ru_maxrss,
# so a large test process would count as this child's peak.
hwm_kb = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
              if line.startswith("VmHWM:"))
print(json.dumps({"results": len(results), "peak_mb": hwm_kb / 1024}))
"""


def test_300mb_attachment_is_streamed_in_bounded_memory(clips, mailbox, dovecot):
    size = 300 * 1024 * 1024 - 4096
    maildir = dovecot.maildir()
    (maildir / "new").mkdir(parents=True, exist_ok=True)
    mails.write_big_mail(maildir / "new" / "1700000000.big.host", clips["valid"].read_bytes(), size)
    shutil.chown(maildir, "nobody", "nogroup")
    for path in maildir.rglob("*"):
        shutil.chown(path, "nobody", "nogroup")
    # The memory is measured without coverage: pytest-cov would trace the child and double its peak.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE_PROCESS_"))}
    out = subprocess.run([sys.executable, "-c", PEAK_CHILD], cwd=mailbox, capture_output=True, text=True,
                         timeout=600, env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert out.returncode == 0, out.stderr
    measured = json.loads(out.stdout)
    print(f"peak RSS while streaming a {size / 1048576:.0f} MiB attachment: {measured['peak_mb']:.1f} MB")
    assert measured["results"] == 1
    assert measured["peak_mb"] < 150
    [sub] = listing(mailbox)
    assert sub["files"][0]["size_bytes"] == size
    assert sub["outcome"] == "accepted", sub["checks"]
