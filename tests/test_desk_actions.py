"""The desk's remaining actions over HTTP: export (admins), attach by upload (clerks, admins), the receipt's
preview and resend through a real SMTP server (aiosmtpd), and the settings view; each refused for the
wrong role, without the CSRF token, and for what it must not do (an oversized upload stores nothing, an
export into the intake's own folders is refused). In process (httpx.ASGITransport), but for the uploads' bounds
on a connection and one upload in Chromium from the entry page, which go through a real server."""

from __future__ import annotations

import dataclasses
import email
import http.client
import json
import re
import time
import uuid
from email import policy
from urllib.parse import unquote

import pytest
from markupsafe import escape

from core.errors import IntakeError
from intake.config import Config
from intake.review.decisions import decide
from intake.desk.settings import masked_url
from intake.desk.uploads import INCOMPLETE
from intake.report.export import SUMMARY
from intake.report.export_folder import MANIFEST
from intake.mail.receipts import NO_SENDER, compose_receipt, receipts_unusable, send_receipt_now
from intake.pipeline.views import submission_view, submission_views
from scripts.docs import config_keys
from tests import mails
from tests.desks import XSS_TITLE, Client, desk_in_process, log_in_page, logged_in, make_desk, running_desk
from tests.dovecot import free_port
from tests.mailboxes import smtp_collector
from tests.waiting import wait_until

MAX_SIZE = 1024 * 1024   # rules.max_size_bytes of this desk: an oversized upload stays cheap to send
FROM = "bmjfgxck@163.com"
CONTACT = "联系人：王老师，电话：0772-2821234"
TOO_LARGE = "上传的文件太大：超过 1 MB 的上限，没有保存。请先压缩到 1 MB 以内再补登。"


@pytest.fixture(scope="module")
def made(clips, tmp_path_factory):
    """(root, ids, smtp handler) of one desk whose receipts go to a real SMTP server."""
    handler, controller = smtp_collector()
    controller.start()
    root = tmp_path_factory.mktemp("desk")
    # OPEN_CONTEST ends inside rules: (rules.opening), so the limit below is rules.max_size_bytes
    extra = (f"  max_size_bytes: {MAX_SIZE}\n"
             f"mailbox:\n  receipts:\n    enabled: true\n    host: 127.0.0.1\n    port: {controller.port}\n"
             f"    security: none\n    from_address: {FROM}\n    contact_line: \"{CONTACT}\"\n")
    try:
        yield root, make_desk(root, clips, extra), handler
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def desk(made):
    """(root, app, ids, services, smtp handler): the desk in process."""
    root, ids, handler = made
    with desk_in_process(root) as (app, services):
        assert services.config.rules.max_size_bytes == MAX_SIZE
        yield root, app, ids, services, handler


@pytest.fixture(scope="module")
def served(made):
    """(root, port, ids, services, smtp handler): the same desk on a real server."""
    root, ids, handler = made
    with running_desk(root) as (port, services):
        yield root, port, ids, services, handler


def multipart(fields: list[tuple[str, str | tuple[str, bytes]]]) -> tuple[bytes, str]:
    """A multipart/form-data body of ``fields`` in order (a file as (name, content)); (body, content type)."""
    boundary = uuid.uuid4().hex
    out = b""
    for name, value in fields:
        if isinstance(value, tuple):
            filename, content = value
            head = f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n' \
                   "Content-Type: application/octet-stream\r\n"
        else:
            head, content = f'Content-Disposition: form-data; name="{name}"\r\n', value.encode()
        out += f"--{boundary}\r\n{head}\r\n".encode() + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload(client: Client, submission_id: int, fields, headers: dict | None = None, chunked: bool = False,
           cut: int = 0):
    """POST the fields as an upload to the entry's attach route (``cut`` bytes short): (status, body text)."""
    body, content_type = multipart(fields)
    body = body[:len(body) - cut]
    step = 64 * 1024
    reply = client.request("POST", f"/entries/{submission_id}/attach", headers={"Content-Type": content_type,
                                                                                **(headers or {})},
                           body=(body[i:i + step] for i in range(0, len(body), step)) if chunked else body)
    return reply.status, reply.text


def stored_state(root, services, submission_id: int):
    """What an upload could leave behind: the work folder's uploads, the store's files, the work's files."""
    work = root / "data" / "work"
    uploads = sorted(p.name for p in work.iterdir()) if work.is_dir() else []
    store = sorted(p.name for p in services.store.root.rglob("*") if p.is_file())
    return uploads, store, [f.original_name for f in services.db.submissions.get(submission_id).files]


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# -- roles and the CSRF token ------------------------------------------------------------------------
def test_each_action_needs_its_role_and_the_token(desk):
    root, app, ids, services, handler = desk
    judge, clerk, admin = logged_in(app, "judge"), logged_in(app, "clerk"), logged_in(app, "admin")
    mail = ids["mail"]
    for client, path in ((judge, "/export"), (judge, "/settings"), (judge, f"/entries/{mail}/receipt"),
                         (clerk, "/export"), (clerk, "/settings"), (clerk, "/export/summary")):
        reply = client.get(path)
        assert reply.status == 403 and f"{'评委' if client is judge else '登记员'}账号不能进行此操作。" in reply.text, path
    assert judge.post(f"/entries/{mail}/receipt", {"csrf": judge.csrf()}).status == 403
    assert clerk.post("/export", {"csrf": clerk.csrf(), "directory": str(root / "x")}).status == 403
    before = stored_state(root, services, mail)
    status, text = upload(judge, mail, [("csrf", judge.csrf()), ("file", ("a.mp4", b"x" * 1000))])
    assert status == 403 and "评委账号不能进行此操作。" in text
    # without the token, with another account's, or with the file before it: refused, nothing kept
    token = clerk.csrf()
    assert admin.post("/export", {"directory": str(root / "x")}).status == 403
    assert clerk.post(f"/entries/{mail}/receipt", {"csrf": admin.csrf()}).status == 403
    for fields, headers in (([("file", ("a.mp4", b"x" * 1000))], None),
                            ([("file", ("a.mp4", b"x" * 1000)), ("csrf", token)], None),
                            ([("note", "x"), ("csrf", token), ("file", ("a.mp4", b"x" * 1000))], None),
                            ([("csrf", "forged"), ("file", ("a.mp4", b"x" * 1000))], None),
                            ([("file", ("a.mp4", b"x" * 1000))], {"X-CSRF-Token": "forged"})):
        status, text = upload(clerk, mail, fields, headers)
        assert status == 403 and "页面已过期（缺少或不符的安全令牌），请刷新页面后重试。" in text, fields
    assert stored_state(root, services, mail) == before
    assert not (root / "x").exists() and handler.messages == []
    assert not [e for e in services.db.audit.events(mail) if e.kind.startswith("receipt_")]


# -- export ------------------------------------------------------------------------------------------
def test_admin_exports_from_the_page(desk, tmp_path):
    root, app, ids, services, handler = desk
    for name in ("accepted", "mail"):
        decide(services.db, ids[name], "shortlist", None, "judge")
    admin = logged_in(app, "admin")
    token = admin.csrf()
    assert "目前有 2 件入围作品" in admin.get("/export").text
    target = tmp_path / "报送"
    reply = admin.post("/export", {"csrf": token, "directory": str(target)})
    assert reply.status == 200, reply.text
    names = sorted(p.name for p in target.iterdir())
    assert names == sorted([MANIFEST, SUMMARY, "01_柳南区_守护秘密.mp4", "02_融水苗族自治县_融水.mp4"])
    shown = text_of(reply.text)
    assert f"已导出 2 个文件和汇总表到：{target}" in shown
    assert f"#{ids['accepted']} 柳南区《守护秘密》 ✓ 柳南.mp4 01_柳南区_守护秘密.mp4" in shown
    assert f"#{ids['mail']} 融水苗族自治县《融水》 ✓ 融水.mp4 02_融水苗族自治县_融水.mp4" in shown
    manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    assert sorted(f["name"] for f in manifest["files"]) == sorted(n for n in names if n != MANIFEST)
    [event] = [e for e in services.db.audit.events() if e.kind == "exported"]
    assert (event.actor, event.data["directory"], sorted(event.data["files"])) == \
        ("admin", str(target), ["01_柳南区_守护秘密.mp4", "02_融水苗族自治县_融水.mp4"])
    summary = admin.get("/export/summary")
    assert (summary.status, summary.body) == (200, (target / SUMMARY).read_bytes())
    assert "filename*=utf-8''%E6%B1%87%E6%80%BB%E8%A1%A8.xlsx" in summary.headers["content-disposition"]
    # again into the same folder: refused unless replace, which removes only the earlier export's files
    (target / "说明.txt").write_text("别删", encoding="utf-8")
    again = admin.post("/export", {"csrf": token, "directory": str(target)})
    assert again.status == 400
    assert (f"导出目录 {target} 不是空的（有 5 个文件或文件夹），为免把旧文件混进报送材料，没有导出。 请换一个空目录；"
            "要替换上次导出到这里的文件，请勾选“替换上次导出的文件”（只删除上次导出清单中列出且未被改动的文件，其他文件保留）。") \
        in text_of(again.text)
    replaced = admin.post("/export", {"csrf": token, "directory": str(target), "replace": "1"})
    assert replaced.status == 200 and "已删除上次导出的 3 个文件。" in replaced.text
    assert "目录中另有 1 个文件或文件夹不是上次导出写入的（或导出后被改动过），已保留：说明.txt" in replaced.text
    # the summary once changed on disk is no longer offered
    (target / SUMMARY).write_bytes(b"changed")
    assert admin.get("/export/summary").status == 404
    assert "/export/summary" not in admin.get("/export").text


def test_export_into_the_intakes_own_folders_is_refused(desk):
    root, app, ids, services, handler = desk
    decide(services.db, ids["accepted"], "shortlist", None, "judge")   # something to export, whatever ran before
    admin = logged_in(app, "admin")
    store = services.config.storage.root
    inside = admin.post("/export", {"csrf": admin.csrf(), "directory": str(store / "报送")})
    assert inside.status == 400
    assert (f"{store / '报送'} 位于文件库（{store}）中，不能导出到这里：导出的文件会被当作新作品登记或混入存档。 "
            "请指定这些文件夹以外的一个空目录，如 U 盘上的新文件夹。") in text_of(inside.text)
    relative = admin.post("/export", {"csrf": admin.csrf(), "directory": "报送"})
    # (item 9 of issue 24: the folder is on the computer running the tool, which the reviewer's may not be)
    assert relative.status == 400 and "请填写导出目录的完整路径（运行本工具的那台电脑上的路径）" in relative.text
    assert not (store / "报送").exists()


# -- attach by upload ----------------------------------------------------------------------------------
def test_clerk_attaches_an_uploaded_file(desk, clips):
    root, app, ids, services, handler = desk
    clerk = logged_in(app, "clerk")
    target = ids["rejected"]
    content = mails.variant(clips["valid"].read_bytes(), "upload-1")
    status, text = upload(clerk, target, [("csrf", clerk.csrf()), ("file", ("../下载/补登\u202e4pm.mp4", content))])
    assert status == 303, text
    files = services.db.submissions.get(target).files
    assert [f.original_name for f in files][1:] == ["补登4pm.mp4"]   # no folder, no bidi control
    assert files[1].sha256 and services.store.path_of(services.db.submissions.stored_paths(target)[1]).read_bytes() == content
    [added] = [e for e in services.db.audit.events(target) if e.kind == "files_added"]
    assert added.actor == "clerk"
    assert stored_state(root, services, target)[0] == []   # the upload's own folder is gone
    page = clerk.get(f"/entries/{target}?done=attach").text
    assert "已补登文件。" in page and "补登4pm.mp4" in page
    # an unknown work, and a form without a file
    assert upload(clerk, 99999, [("csrf", clerk.csrf()), ("file", ("a.mp4", b"x"))])[0] == 404
    status, text = upload(clerk, target, [("csrf", clerk.csrf()), ("file", ("", b""))])
    assert status == 400 and "请先选择要补登的文件。" in text
    # a body cut off before its closing boundary is not a whole file
    status, text = upload(clerk, target, [("csrf", clerk.csrf()), ("file", ("cut.mp4", content))], cut=200)
    assert status == 400 and "上传的内容不完整或格式不对，请重新补登。" in text
    assert [f.original_name for f in services.db.submissions.get(target).files][1:] == ["补登4pm.mp4"]
    assert stored_state(root, services, target)[0] == []


def test_an_oversized_upload_is_refused_and_nothing_is_stored(served):
    root, port, ids, services, handler = served
    clerk = logged_in(port, "clerk")
    target = ids["accepted"]
    before = stored_state(root, services, target)
    message = TOO_LARGE
    # sent in chunks without a length: stopped at the bound as it arrives
    big = b"\0" * (MAX_SIZE + 1024 * 1024 + 1)
    status, text = upload(clerk, target, [("csrf", clerk.csrf()), ("file", ("big.mp4", big))], chunked=True)
    assert (status, message in text) == (413, True)
    # a length over the bound: refused before a byte of the body is read
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("POST", f"/entries/{target}/attach")
    for name, value in (("Content-Type", "multipart/form-data; boundary=x"), ("Content-Length", str(10 ** 10)),
                        ("Cookie", "; ".join(f"{k}={v}" for k, v in clerk.cookies.items())),
                        ("X-CSRF-Token", clerk.csrf())):
        conn.putheader(name, value)
    conn.endheaders()
    response = conn.getresponse()
    assert (response.status, message in response.read().decode()) == (413, True)
    conn.close()
    assert stored_state(root, services, target) == before


def test_an_upload_part_with_a_huge_header_is_refused_as_it_arrives(served):
    """A part's header is held in memory as it arrives: python-multipart bounds each header line
    at 4 KB and a part at 8 headers, so a 64 KB one ends the upload (it must not grow up to the body's limit)."""
    root, port, ids, services, handler = served
    clerk = logged_in(port, "clerk")
    target = ids["accepted"]
    before = stored_state(root, services, target)
    body, content_type = multipart([("csrf", clerk.csrf()), ("file", ("a.mp4", b"x" * 1000))])
    padded = body.replace(b"Content-Type: application/octet-stream\r\n",
                          b"X-Padding: " + b"a" * (64 * 1024) + b"\r\nContent-Type: application/octet-stream\r\n")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", f"/entries/{target}/attach", body=padded, headers={
        "Content-Type": content_type, "Cookie": "; ".join(f"{k}={v}" for k, v in clerk.cookies.items())})
    response = conn.getresponse()
    assert (response.status, INCOMPLETE in response.read().decode()) == (400, True)
    conn.close()
    assert stored_state(root, services, target) == before


def test_an_upload_that_stops_sending_is_given_up_and_leaves_nothing(served, monkeypatch):
    """A trickle or a stalled upload holds a connection: after IDLE_SECONDS without data it ends with 408."""
    from intake.desk import uploads

    monkeypatch.setattr(uploads, "IDLE_SECONDS", 1.0)
    root, port, ids, services, handler = served
    clerk = logged_in(port, "clerk")
    target = ids["accepted"]
    before = stored_state(root, services, target)
    body, content_type = multipart([("csrf", clerk.csrf()), ("file", ("a.mp4", b"x" * 100_000))])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("POST", f"/entries/{target}/attach")
    for name, value in (("Content-Type", content_type), ("Content-Length", str(len(body))),
                        ("Cookie", "; ".join(f"{k}={v}" for k, v in clerk.cookies.items()))):
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(body[:50_000])          # half of it, then nothing
    started = time.monotonic()
    response = conn.getresponse()
    assert (response.status, uploads.STALLED in response.read().decode()) == (408, True)
    assert time.monotonic() - started < 15
    conn.close()
    assert stored_state(root, services, target) == before
    assert not any((root / "data" / "work").glob("upload-*"))


def test_a_form_sent_in_chunks_is_bounded_as_one_with_a_length(served):
    """MAX_FORM_BYTES holds for a body without Content-Length too (the login form is open to anyone)."""
    root, port, ids, services, handler = served
    field = "a=" + "x" * (900 * 1024)   # each field under Starlette's own 1 MB bound, the body over ours
    body = "&".join([field, field]).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/login", body=(body[i:i + 65536] for i in range(0, len(body), 65536)),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    assert (response.status, response.read().decode()) == (413, "提交的内容太大。")
    conn.close()


# -- receipts ------------------------------------------------------------------------------------------
def test_receipt_preview_and_resend(desk):
    root, app, ids, services, handler = desk
    clerk = logged_in(app, "clerk")
    mail = ids["mail"]
    with services.db.engine.begin() as conn:   # outside text in the receipt: shown, never run
        conn.exec_driver_sql("UPDATE submissions SET title = ? WHERE id = ?", (XSS_TITLE, mail))
    assert f'action="/entries/{mail}/receipt"' in clerk.get(f"/entries/{mail}").text
    page = clerk.get(f"/entries/{mail}/receipt").text
    view = submission_view(services.db, mail)
    expected = compose_receipt(view, FROM, CONTACT)
    assert f'<pre id="receipt-body" class="mail">{escape(expected.get_content())}</pre>' in page
    assert XSS_TITLE not in page
    # the headers read in Chinese (issue 24, item 11)
    for name, label in (("From", "发件人"), ("To", "收件人"), ("Subject", "主题")):
        assert f"<tr><th>{label}</th><td>{escape(str(expected[name]))}</td></tr>" in page
    assert "<tr><th>自动回复标记</th><td>auto-replied（" in page
    assert not re.search(r"<th>(From|To|Subject|Auto-Submitted)</th>", page)
    reply = clerk.post(f"/entries/{mail}/receipt", {"csrf": clerk.csrf()})
    assert (reply.status, reply.headers["location"]) == (303, f"/entries/{mail}/receipt?done=sent")
    [envelope] = handler.messages
    sent = email.message_from_bytes(envelope.content, policy=policy.default)
    assert (sent["To"], sent["From"], sent["Subject"]) == ("rongshui@163.com", FROM, expected["Subject"])
    assert sent.get_content() == expected.get_content()
    kinds = [(e.kind, e.actor, e.data) for e in services.db.audit.events(mail) if e.kind.startswith("receipt_")]
    assert kinds == [("receipt_sending", "clerk", {"to": "rongshui@163.com"}),
                     ("receipt_sent", "clerk", {"to": "rongshui@163.com"})]
    assert "已发送回执。" in clerk.get(f"/entries/{mail}/receipt?done=sent").text
    history = clerk.get(f"/entries/{mail}").text
    assert re.search(r'<tr data-kind="receipt_sent"><td>[^<]+</td><td>clerk</td><td>回执已发送</td>'
                     r'<td>收件人：rongshui@163.com</td></tr>', history)
    # a work that came without a mail has nobody to answer
    other = ids["accepted"]
    assert NO_SENDER in clerk.get(f"/entries/{other}/receipt").text
    refused = clerk.post(f"/entries/{other}/receipt", {"csrf": clerk.csrf()})
    assert refused.status == 400 and NO_SENDER in refused.text and len(handler.messages) == 1


def test_a_failed_resend_is_told_and_recorded(desk):
    root, app, ids, services, handler = desk
    receipts = services.config.mailbox.receipts.model_copy(update={"port": free_port()})   # nobody listens
    config = services.config.model_copy(
        update={"mailbox": services.config.mailbox.model_copy(update={"receipts": receipts})})
    with pytest.raises(IntakeError) as caught:
        send_receipt_now(dataclasses.replace(services, config=config), ids["mail"], "admin")
    assert caught.value.message.startswith("回执发送失败：ConnectionRefusedError")
    assert caught.value.hint == "请检查 config.yaml 中 mailbox.receipts 的服务器、端口、账号和授权码。"
    [failed] = [e for e in services.db.audit.events(ids["mail"]) if e.kind == "receipt_failed"]
    assert (failed.actor, failed.data["error"]) == ("admin", caught.value.message.removeprefix("回执发送失败："))


def test_receipts_off_or_without_an_address_are_named():
    on = Config().mailbox.receipts.model_copy(update={"enabled": True, "from_address": FROM})
    assert receipts_unusable(on) is None
    assert receipts_unusable(on.model_copy(update={"enabled": False})) == \
        "回执功能没有开启（config.yaml 中 mailbox.receipts.enabled 为 false），不能发送回执。"
    assert receipts_unusable(on.model_copy(update={"from_address": ""})) == \
        "回执的发件设置不完整（config.yaml 中 mailbox.receipts 的 host，以及 from_address 或 username），不能发送回执。"


# -- settings ------------------------------------------------------------------------------------------
def test_settings_show_every_key_in_force_without_secrets(desk):
    root, app, ids, services, handler = desk
    page = logged_in(app, "admin").get("/settings").text
    keys = re.findall(r'<tr data-key="([^"]+)"><td><code>[^<]+</code></td><td>([^<]*)</td><td class="value">([^<]*)</td>',
                      page)
    found = {key: (label, value) for key, label, value in keys}
    assert found["rules.max_size_bytes"] == ("文件大小上限（字节；300 MiB，Windows 显示为 300 MB）", str(MAX_SIZE))
    assert found["rules.opening.ocr"][1] == "否" and found["mailbox.receipts.enabled"][1] == "是"
    assert found["mailbox.receipts.port"][1] == str(services.config.mailbox.receipts.port)
    assert found["mailbox.receipts.password_env"] == ("存放 SMTP 授权码的环境变量名", "INTAKE_SMTP_PASSWORD")
    assert found["contest.deadline"][1] == "2099-12-31 23:59（北京时间）"
    assert found["contest.units"][1].startswith("城中区、鱼峰区、柳南区")
    assert found["database.url"][1] == services.config.database.url
    for section in ("rules.sensitive", "rules.repair", "watch", "storage", "desk"):
        assert f'data-section="{section}"' in page, section
    assert sorted(found) == sorted(key for key, _ in config_keys())   # every key the README lists
    assert masked_url("postgresql+psycopg://intake:s3cret@db.local/intake") == \
        "postgresql+psycopg://intake:******@db.local/intake"
    # libpq takes a password as a query option as well
    assert masked_url("postgresql+psycopg://intake@db.local/intake?password=s3cret&sslmode=require") == \
        "postgresql+psycopg://intake@db.local/intake?password=******&sslmode=require"
    assert masked_url("postgresql://intake:s3cret@db.local/intake?sslpassword=k3y") == \
        "postgresql://intake:******@db.local/intake?sslpassword=******"


# -- in the browser --------------------------------------------------------------------------------------
def test_clerk_uploads_from_the_entry_page_in_chromium(served, browser, clips, tmp_path):
    root, port, ids, services, handler = served
    base = f"http://127.0.0.1:{port}"
    target = ids["xss"]
    path = tmp_path / "超大附件下载.mp4"
    path.write_bytes(mails.variant(clips["valid"].read_bytes(), "upload-2"))
    context = browser.new_context()
    try:
        page = context.new_page()
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        log_in_page(page, base, "clerk")
        page.goto(f"{base}/entries/{target}")
        # a file over the limit is refused in the page, before it is sent
        big = tmp_path / "太大.mp4"
        big.write_bytes(b"\0" * (MAX_SIZE + 1))
        page.set_input_files("#attach-form input[type=file]", str(big))
        page.click("#attach-form button[type=submit]")
        assert page.locator("#attach-form .error").inner_text() == TOO_LARGE
        assert page.url == f"{base}/entries/{target}"
        page.set_input_files("#attach-form input[type=file]", str(path))
        page.click("#attach-form button[type=submit]")
        page.wait_for_url(f"{base}/entries/{target}?done=attach")
        assert page.locator(".done").inner_text() == "已补登文件。"
        assert page.locator("#history tr[data-kind=files_added]").inner_text().split("\t")[1:] == \
            ["clerk", "补登文件", "超大附件下载.mp4；结果：通过"]
        assert "超大附件下载.mp4" in page.locator("#files").inner_text()
        assert errors == []
    finally:
        context.close()
    assert [f.original_name for f in services.db.submissions.get(target).files][-1] == "超大附件下载.mp4"


# -- the export as one zip, and long work as jobs ------------------------------------------------------
def test_the_export_page_says_where_a_folder_is_and_offers_one_zip(desk):
    """Issue 24, item 9: a folder export goes to the computer running the tool (said plainly); the zip is the
    reviewer's own download."""
    root, app, ids, services, handler = desk
    page = text_of(logged_in(app, "admin").get("/export").text)
    assert "文件会写到 运行本工具（intake）的那台电脑 上，而不是你正在使用的这台电脑——除非两者是同一台。" in page
    assert "导出目录（运行本工具的那台电脑上的完整路径" in page and "这台电脑上的完整路径" not in page
    assert "下载报送材料（zip）" in page


def test_admin_downloads_the_export_as_one_zip(desk):
    """The same files, names, 汇总表 and manifest as a folder export, in one zip (videos stored, not deflated),
    and the audit log records who took which files."""
    import io
    import zipfile

    root, app, ids, services, handler = desk
    for name in ("accepted", "mail"):
        decide(services.db, ids[name], "shortlist", None, "judge")
    admin = logged_in(app, "admin")
    assert admin.post("/export/zip", {"csrf": "forged"}).status == 403
    assert logged_in(app, "clerk").post("/export/zip", {"csrf": logged_in(app, "clerk").csrf()}).status == 403
    reply = admin.post("/export/zip", {"csrf": admin.csrf()})
    assert (reply.status, reply.headers["content-type"]) == (200, "application/zip")
    assert re.fullmatch(r"attachment; filename\*=utf-8''%E6%8A%A5%E9%80%81%E6%9D%90%E6%96%99-\d{8}-\d{4}\.zip",
                        reply.headers["content-disposition"])
    archive = zipfile.ZipFile(io.BytesIO(reply.body))
    from intake.report.export import plan_export   # the names a folder export gives them
    planned = plan_export(submission_views(services.db), services.store)
    videos = [item.name for work in planned for item in work.exported]
    assert videos[0] == "01_柳南区_守护秘密.mp4" and videos[1].startswith("02_融水苗族自治县_")
    assert sorted(archive.namelist()) == sorted([MANIFEST, SUMMARY, *videos])
    for name, work in zip(videos, ("accepted", "mail")):
        assert archive.getinfo(name).compress_type == zipfile.ZIP_STORED
        assert archive.read(name) == services.store.path_of(services.db.submissions.stored_paths(ids[work])[0]).read_bytes()
    manifest = json.loads(archive.read(MANIFEST))
    assert sorted(f["name"] for f in manifest["files"]) == sorted([SUMMARY, *videos])
    event = services.db.audit.latest(("exported",))
    name = unquote(reply.headers["content-disposition"].split("''")[1])
    assert (event.actor, event.data["files"], event.data["zip"]) == ("admin", videos, name)


def test_the_zip_is_written_as_it_is_sent(desk, monkeypatch):
    """A chunk at a time, never the whole export in memory."""
    from datetime import datetime, timezone

    from intake.desk import export_zip
    from intake.report.export import plan_export
    from intake.pipeline.views import submission_views

    root, app, ids, services, handler = desk
    decide(services.db, ids["accepted"], "shortlist", None, "judge")
    monkeypatch.setattr(export_zip, "CHUNK", 16 * 1024)
    works = plan_export(submission_views(services.db), services.store)
    done = []
    sizes = [len(chunk) for chunk in export_zip.zip_chunks(works, services.store, "比赛", datetime.now(timezone.utc),
                                                           lambda: done.append(True))]
    video = max(f["size_bytes"] for w in works for f in (i.file for i in w.exported))
    assert len(sizes) > video // (16 * 1024) and max(sizes) < 64 * 1024 and done == [True]


def test_a_long_export_and_recheck_show_their_progress_and_end_on_their_page(desk, monkeypatch, tmp_path):
    """Long work runs as a job outside the request: past ANSWER_WITHIN the page shows its progress
    (/api/jobs/{id}), then its result; a second export meanwhile is refused."""
    import threading

    from intake.desk import exporting, jobs

    root, app, ids, services, handler = desk
    monkeypatch.setattr(jobs, "ANSWER_WITHIN", 0)
    decide(services.db, ids["accepted"], "shortlist", None, "judge")
    release = threading.Event()
    real = exporting.export_shortlist

    def slow(*args, progress=None, **kwargs):
        progress(0, 2)
        assert release.wait(30)
        return real(*args, progress=progress, **kwargs)

    monkeypatch.setattr(exporting, "export_shortlist", slow)
    admin = logged_in(app, "admin")
    started = admin.post("/export", {"csrf": admin.csrf(), "directory": str(tmp_path / "报送")})
    assert started.status == 303 and started.headers["location"].startswith("/export?job=")
    job = started.headers["location"].split("=")[1]
    try:
        wait_until(lambda: admin.get(f"/api/jobs/{job}").json()["progress"].startswith("正在复制文件"), 30,
                   "the export to start copying")
        shown = admin.get(started.headers["location"]).text
        assert f'id="job" role="status" data-job="{job}">正在复制文件：已复制 0 / 2 个。（已用时' in shown
        state = admin.get(f"/api/jobs/{job}").json()
        assert (state["state"], state["progress"], state["next"]) == ("running", "正在复制文件：已复制 0 / 2 个。", None)
        again = admin.post("/export", {"csrf": admin.csrf(), "directory": str(tmp_path / "另一个")})
        assert again.status == 400 and "另一次导出正在进行，请等它完成后再试。" in again.text
        assert logged_in(app, "clerk").get(f"/api/jobs/{job}").status == 404   # not the clerk's
    finally:
        release.set()
    wait_until(lambda: admin.get(f"/api/jobs/{job}").json()["state"] == "done", 30, "the export")
    assert re.search(r"已导出 \d 个文件和汇总表到：\S+报送（运行本工具的电脑上）", text_of(admin.get(f"/export?job={job}").text))

    clerk = logged_in(app, "clerk")
    started = clerk.post(f"/entries/{ids['accepted']}/recheck", {"csrf": clerk.csrf()})
    location = started.headers["location"]
    assert started.status == 303 and location.startswith(f"/entries/{ids['accepted']}?job=")
    job = location.split("=")[1]
    wait_until(lambda: clerk.get(f"/api/jobs/{job}").json()["state"] == "done", 30, "the recheck")
    assert clerk.get(f"/api/jobs/{job}").json()["next"] == f"/entries/{ids['accepted']}?done=recheck"
    assert [e.actor for e in services.db.audit.events(ids["accepted"]) if e.kind == "rechecked"][-1] == "clerk"


def test_the_desk_speaks_of_its_own_forms_not_command_flags(desk):
    """Issue 24, item 11: a wrong phone on the desk's form names the form's field, not ``--phone ""``; the settings
    page names the scoring section and shows numbers as people write them."""
    root, app, ids, services, handler = desk
    clerk = logged_in(app, "clerk")
    page = clerk.get(f"/entries/{ids['accepted']}").text
    version = re.search(r'name="version" value="([^"]+)"', page).group(1)
    reply = clerk.post(f"/entries/{ids['accepted']}/edit", {"csrf": clerk.csrf(), "version": version, "phone": "12345"})
    assert reply.status == 400
    assert "“12345”不是电话号码。 请填写手机号（如 13800138000）或座机号（如 0772-2612345）；要清除电话，请把“联系电话”一栏清空后保存。" \
        in text_of(reply.text)
    assert "--phone" not in reply.text
    settings = logged_in(app, "admin").get("/settings").text
    assert '<h2 id="section-contest.scoring">评分 <span class="small">contest.scoring</span></h2>' in settings
    assert "contest.scoring contest.scoring" not in text_of(settings)
    values = re.findall(r'<td class="value">([^<]*)</td>', settings)
    assert [v for v in values if re.fullmatch(r"-?\d+\.0", v)] == []
    assert re.search(r'<tr data-key="rules.duration_tolerance_seconds">.*?<td class="value">1</td>', settings)


def test_the_history_names_people_not_programs(desk):
    """Issue 24, item 11: the folder watcher, the mailbox and root read in Chinese in the desk's history."""
    root, app, ids, services, handler = desk
    for actor in ("folder-watcher", "mailbox", "root"):
        services.db.audit.record("moved", {}, submission_id=ids["accepted"], actor=actor)
    page = logged_in(app, "admin").get(f"/entries/{ids['accepted']}").text
    shown = re.findall(r'<tr data-kind="moved"><td>[^<]+</td><td>([^<]+)</td>', page)
    assert shown[-3:] == ["投递文件夹", "邮箱", "系统管理员（root）"]
