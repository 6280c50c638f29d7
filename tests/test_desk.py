"""The screening desk over HTTP: accounts (``intake user``), ``intake serve``'s guards, every route behind a
session, CSRF, roles, sessions, login throttling, Range on videos, path traversal, and the API. In process
(httpx.ASGITransport) but for Range, raw paths and ``intake run``, which go through a real server."""

from __future__ import annotations

import re
import signal
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from starlette.routing import Mount

from intake.config import load_config
from intake.desk.accounts import Throttle, hash_password, verify_password
from intake.desk.app import create_app
from intake.desk.base import PUBLIC
from intake.pipeline.services import open_services
from storage.database import Database
from tests.cli import INTAKE, listing, run
from tests.dovecot import free_port
from tests.configs import add_config
from tests.desks import (PASSWORD, XSS_CONTACT, XSS_TITLE, XSS_UNIT, Client, desk_in_process, logged_in, make_desk,
                         running_desk)


@pytest.fixture(scope="module")
def made(clips, tmp_path_factory):
    """(root, ids) of the module's works and accounts."""
    root = tmp_path_factory.mktemp("desk")
    return root, make_desk(root, clips)


@pytest.fixture(scope="module")
def desk(made):
    """(root, app, ids, services): the module's desk in process."""
    root, ids = made
    with desk_in_process(root) as (app, services):
        yield root, app, ids, services


@pytest.fixture(scope="module")
def served(made):
    """(root, port, ids, services): the same desk on a real server, for what needs a socket."""
    root, ids = made
    with running_desk(root) as (port, services):
        yield root, port, ids, services


# -- accounts from the command line --------------------------------------------------------
def test_user_commands(workdir):
    out = run("user", "add", "王老师", "--role", "reviewer", "--password-stdin", input="s3cret-pass\n")
    assert (out.returncode, out.stdout) == (0, "已创建账号 王老师（评委）。\n")
    again = run("user", "add", "王老师", "--role", "admin", "--password-stdin", input="another-pass\n")
    assert (again.returncode, again.stderr) == (2, "错误：账号“王老师”已存在。\n提示：修改密码请用 intake user passwd。\n")
    short = run("user", "add", "李四", "--role", "clerk", "--password-stdin", input="short\n")
    assert (short.returncode, short.stderr) == (2, "错误：密码太短：至少 8 个字符。\n")
    prompted = run("user", "add", "李四", "--role", "clerk", input="long-enough\nlong-enough\n")
    assert prompted.returncode == 0, prompted.stderr
    listed = run("user", "list")
    assert [line.split()[:2] for line in listed.stdout.splitlines()] == [["李四", "登记员"], ["王老师", "评委"]]
    db = Database(load_config(workdir / "config.yaml").database.url)
    stored = db.accounts.get("王老师").password_hash
    assert stored.startswith("scrypt$16384$8$1$") and "s3cret-pass" not in stored   # 16 MiB a try
    assert verify_password("s3cret-pass", stored) and not verify_password("s3cret-pasS", stored)
    assert run("user", "passwd", "王老师", "--password-stdin", input="new-password\n").returncode == 0
    assert verify_password("new-password", db.accounts.get("王老师").password_hash)
    assert run("user", "remove", "王老师").stdout == "已删除账号 王老师。\n"
    gone = run("user", "remove", "王老师")
    assert (gone.returncode, gone.stderr) == (2, "错误：没有名为“王老师”的账号。\n提示：请用 intake user list 查看账号。\n")


def test_serve_refuses_an_open_address_without_accounts(workdir):
    out = run("serve", "--host", "0.0.0.0", "--port", "18999")
    assert (out.returncode, out.stderr) == (2, "错误：工作台要在 0.0.0.0 上对其他电脑开放，但还没有任何账号。\n"
                                               "提示：请先用 intake user add 名字 --role admin 创建账号。\n")
    (workdir / "cert.pem").write_text("x")
    half = run("serve", "--certfile", "cert.pem")
    assert (half.returncode, half.stderr) == (2, "错误：--certfile 和 --keyfile 必须同时指定（证书和私钥）。\n")


def test_an_open_address_is_warned_about(workdir):
    from intake.desk.server import plan

    services = open_services(load_config(workdir / "config.yaml"))
    services.db.accounts.add("admin", "admin", hash_password("x" * 8))
    chosen = plan(services.config, services, "0.0.0.0", 8443, None, None)
    assert chosen.warnings == ("警告：工作台在 0.0.0.0:8443 上对局域网开放，能访问这台电脑的人都能打开登录页。"
                               "未启用 HTTPS，密码以明文传输；建议用 --certfile/--keyfile 启用 HTTPS。",
                               # every address is listened on: the names other machines use must be configured
                               "注意：工作台只接受以本机地址（127.0.0.1、localhost）打开的请求；其他电脑用哪个地址或名称打开，"
                               "请把它写进 config.yaml 的 desk.allowed_hosts。")
    assert plan(services.config, services, None, None, None, None).url == "http://127.0.0.1:8080/"


# -- every route behind a session ------------------------------------------------------------
def routes_of(app) -> list[tuple[str, str, object]]:
    out = []
    for route in app.routes:
        if isinstance(route, Mount):
            out.append((route.path, "GET", route))
            continue
        for method in sorted(route.methods - {"HEAD"}):
            out.append((route.path, method, route.endpoint))
    return out


def test_every_route_but_the_login_needs_a_session(desk):
    root, app, ids, services = desk
    routes = routes_of(create_app(services.config, services))
    assert len(routes) >= 15
    public = [(path, method) for path, method, _ in routes if path.startswith(PUBLIC)]
    assert public == [("/login", "GET"), ("/login", "POST"), ("/static", "GET")]
    client = Client(app)
    for path, method, endpoint in routes:
        if path.startswith(PUBLIC):
            continue
        assert getattr(endpoint, "guarded", False), path
        concrete = re.sub(r"\{[^}]+\}", str(ids["accepted"]), path)
        reply = client.request(method, concrete, form={} if method == "POST" else None)
        if path.startswith(("/api/", "/files/", "/thumbs/", "/findings/")):
            assert reply.status == 401, (method, path, reply.status)
            assert reply.json() == {"error": "未登录或登录已过期。"}
        else:
            assert (reply.status, reply.headers.get("location")) == (303, "/login"), (method, path)
    assert client.get("/static/desk.js").status == 200


def test_login_cookie_and_the_api_is_intake_list(desk):
    root, app, ids, services = desk
    client = Client(app)
    reply = client.login("judge")
    cookie = next(c for c in reply.headers.get_all("set-cookie") if c.startswith("desk_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "default-src 'self'" in reply.headers["content-security-policy"]
    assert client.get("/api/submissions").json() == listing(root)


def test_wrong_password_is_refused(desk):
    root, app, ids, services = desk
    reply = Client(app).login("clerk", "wrong password")
    assert reply.status == 401 and "账号或密码不正确。" in reply.text and "desk_session" not in str(reply.headers)
    nobody = Client(app).login("nobody", PASSWORD)
    assert nobody.status == 401 and "账号或密码不正确。" in nobody.text


# -- CSRF, roles, sessions --------------------------------------------------------------------
def test_a_post_without_the_csrf_token_is_refused(desk):
    root, app, ids, services = desk
    judge = logged_in(app, "judge")
    target = f"/entries/{ids['accepted']}/decide"
    for form in ({"decision": "reject"}, {"decision": "reject", "csrf": "forged"}):
        reply = judge.post(target, form)
        assert reply.status == 403 and "安全令牌" in reply.text
    assert services.db.judging.decisions([ids["accepted"]]) == {}
    # the login form carries one too
    fresh = Client(app)
    fresh.get("/login")
    reply = fresh.post("/login", {"username": "judge", "password": PASSWORD})
    assert reply.status == 403 and "desk_session" not in fresh.cookies


def test_csrf_is_checked_in_one_middleware_with_public_apis_only(desk):
    """One place checks every POST's token (guard.CsrfGuard): a browser that says the request comes from another
    site is refused even with the right token; the desk writes no private attribute of Starlette's request."""
    from tests.conftest import REPO

    root, app, ids, services = desk
    judge = logged_in(app, "judge")
    reply = judge.request("POST", f"/entries/{ids['accepted']}/decide", {"csrf": judge.csrf(), "decision": "pending"},
                          headers={"Sec-Fetch-Site": "cross-site"})
    assert reply.status == 403 and "安全令牌" in reply.text
    forged = [{"Origin": origin} for origin in   # a browser that sends no Sec-Fetch-Site
              ("http://evil.example", "http://127.0.0.1.evil.example", "https://127.0.0.1:8443")]
    # another port of the same host is the same site, not the same origin; under its own no-referrer policy an
    # attacker's page sends Origin: null
    forged += [{"Sec-Fetch-Site": "same-site", "Origin": "null"}, {"Sec-Fetch-Site": "same-site"}]
    for headers in forged:
        reply = judge.request("POST", f"/entries/{ids['accepted']}/decide",
                              {"csrf": judge.csrf(), "decision": "pending"}, headers=headers)
        assert reply.status == 403 and "安全令牌" in reply.text, headers
    assert services.db.judging.decisions([ids["accepted"]]) == {}
    # The desk's own address (as the client asks it) passes the guard, to the page's own refusal of a bad choice.
    for headers in ({"Origin": "http://127.0.0.1"}, {"Origin": "http://127.0.0.1:80"},   # the default port said
                    {"Origin": "null", "Sec-Fetch-Site": "same-origin"}):              # the desk's own form
        same = judge.request("POST", f"/entries/{ids['accepted']}/decide",
                             {"csrf": judge.csrf(), "decision": "bogus"}, headers=headers)
        assert same.status == 400 and "安全令牌" not in same.text, headers
    desk_code = "".join(p.read_text(encoding="utf-8") for p in (REPO / "intake" / "desk").rglob("*.py"))
    assert not re.search(r"request\._|\bimport\s+\w+\._|from\s+(?!intake|core|storage|validators)\w+(\.\w+)*\._", desk_code)
    assert "def csrf_matches" not in desk_code and "def guarded(" not in desk_code


def test_rejected_work_is_shortlisted_only_when_forced(desk):
    root, app, ids, services = desk
    judge = logged_in(app, "judge")
    csrf = judge.csrf()
    target = f"/entries/{ids['rejected']}/decide"
    assert 'data-decision="none"' in judge.get("/list").text   # the list's rows are cached until a change
    reply = judge.post(target, {"csrf": csrf, "decision": "shortlist"})
    assert reply.status == 400
    assert "检查结果是不合格（文件格式），一般不应入围，未记录。" in reply.text and "检查不合格或有涉密提醒也入围" in reply.text
    reply = judge.post(target, {"csrf": csrf, "decision": "shortlist", "force": "1", "note": "评审认可"})
    assert (reply.status, reply.headers["location"]) == (303, f"/entries/{ids['rejected']}?done=decide")
    [decision] = services.db.judging.decisions([ids["rejected"]])[ids["rejected"]]
    assert (decision.decision, decision.reviewer, decision.forced, decision.note) == \
        ("shortlist", "judge", True, "评审认可")
    assert re.search(rf'<tr data-id="{ids["rejected"]}" data-outcome="rejected" data-decision="shortlist"',
                     judge.get("/list").text)
    assert judge.get("/api/submissions").json() == listing(root)


def test_roles_and_sessions_of_other_accounts(desk):
    root, app, ids, services = desk
    clerk, judge = logged_in(app, "clerk"), logged_in(app, "judge")
    entry = f"/entries/{ids['mail']}"
    refused = clerk.post(entry + "/decide", {"csrf": clerk.csrf(), "decision": "pending"})
    assert refused.status == 403 and "登记员账号不能进行此操作。" in refused.text
    assert judge.post(entry + "/edit", {"csrf": judge.csrf(), "contact": "x"}).status == 403
    assert clerk.get("/users").status == 403
    # one account's CSRF token is no good in another's session
    assert judge.post(entry + "/decide", {"csrf": clerk.csrf(), "decision": "pending"}).status == 403
    # a session ends with logout, and with the account
    assert judge.post("/logout", {"csrf": judge.csrf()}).headers["location"] == "/login"
    stolen = Client(app, {"desk_session": "made-up-token"})
    assert stolen.get("/").headers["location"] == "/login"
    extra = Client(app)
    services.db.accounts.add("temp", "reviewer", hash_password(PASSWORD))
    assert extra.login("temp").status == 303
    assert extra.get("/").status == 200
    services.db.accounts.remove("temp")
    assert extra.get("/").headers["location"] == "/login"
    assert extra.get("/api/submissions").status == 401


def test_login_is_throttled_per_account(desk):
    root, app, ids, services = desk
    services.db.accounts.add("victim", "reviewer", hash_password(PASSWORD))
    for _ in range(services.config.desk.max_failed_logins):
        assert Client(app).login("victim", "guess").status == 401
    locked = Client(app).login("victim", PASSWORD)
    assert locked.status == 429 and "登录失败次数过多，请 5 分钟后再试。" in locked.text
    assert Client(app).login("admin").status == 303   # other accounts still log in


def test_throttle_per_address_and_its_window(backend, workdir):
    """Tries are counted in the database when they start: past a limit the next is refused before any password
    is checked, and a try that succeeds is forgotten with the account's failures."""
    db = open_services(load_config(workdir / "config.yaml")).db
    start = datetime(2024, 4, 1, tzinfo=timezone.utc)
    now = [start]
    throttle = Throttle(per_account=3, per_address=5, window=60, clock=lambda: now[0])
    for name in ("a", "b", "c", "d", "e"):
        assert throttle.begin(db, name, "10.0.0.9").id is not None     # each a failure: the row stays
    refused = throttle.begin(db, "f", "10.0.0.9")                       # the address, whatever the name
    assert (refused.id, refused.wait_seconds, refused.locked) == (None, 60, "address")
    assert throttle.begin(db, "f", "10.0.0.10").id is not None
    now[0] = start + timedelta(seconds=30)
    assert throttle.begin(db, "g", "10.0.0.9").wait_seconds == 30
    now[0] = start + timedelta(seconds=61)
    assert throttle.begin(db, "g", "10.0.0.9").id is not None
    for _ in range(2):
        throttle.begin(db, "h", "10.0.0.11")
    assert throttle.begin(db, "h", "10.0.0.12").id is not None          # the third try of h
    assert throttle.begin(db, "h", "10.0.0.13").locked == "account"
    assert db.accounts.clear_logins("h") == 3                                    # a success, or intake user unlock
    assert throttle.begin(db, "h", "10.0.0.13").id is not None


# -- files -----------------------------------------------------------------------------------------
def test_video_by_id_with_range(served):
    root, port, ids, services = served
    client = logged_in(port, "clerk")
    file_id = services.db.submissions.get(ids["accepted"]).files[0].id
    whole = client.get(f"/files/{file_id}")
    assert (whole.status, whole.headers["content-type"], whole.headers["accept-ranges"]) == (200, "video/mp4", "bytes")
    part = client.get(f"/files/{file_id}", Range="bytes=1000-1999")
    assert part.status == 206 and part.body == whole.body[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(whole.body)}"
    assert client.get(f"/files/{file_id}", Range=f"bytes={len(whole.body) + 10}-").status == 416
    download = client.get(f"/files/{file_id}/download")
    assert download.body == whole.body
    assert download.headers["content-disposition"].startswith("attachment;")
    assert "%E6%9F%B3%E5%8D%97.mp4" in download.headers["content-disposition"]   # 柳南.mp4
    poster = client.get(f"/thumbs/{file_id}")
    assert (poster.status, poster.body[:2]) == (200, b"\xff\xd8")


def test_file_routes_take_no_paths(served):
    root, port, ids, services = served
    client = logged_in(port, "clerk")
    for path in ("/files/..%2F..%2Fconfig.yaml", "/files/../config.yaml", "/files/%2e%2e/config.yaml",
                 "/static/../config.yaml", "/static/..%2F..%2F..%2Fconfig.yaml", "/files/-1", "/files/99999",
                 "/thumbs/1%2F..%2F..%2Fconfig.yaml"):
        reply = client.get(path)
        assert reply.status == 404, path
        assert b"deadline" not in reply.body
    # a stored path in the database that points out of the store is not followed either
    file_id = services.db.submissions.get(ids["mail"]).files[0].id
    with services.db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE blobs SET stored_path = '../../config.yaml' WHERE sha256 = "
                             f"(SELECT sha256 FROM media_files WHERE id = {file_id})")
    try:
        assert client.get(f"/files/{file_id}").status == 404
        assert client.get(f"/files/{file_id}/download").status == 404
    finally:
        with services.db.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE blobs SET stored_path = substr(sha256, 1, 2) || '/' || substr(sha256, 3, 2) "
                                 f"|| '/' || sha256 || '.mp4' WHERE sha256 = (SELECT sha256 FROM media_files "
                                 f"WHERE id = {file_id})")
    assert client.get(f"/files/{file_id}").status == 200


def test_outside_text_is_escaped(desk):
    root, app, ids, services = desk
    page = logged_in(app, "admin").get(f"/entries/{ids['xss']}").text
    for raw in (XSS_UNIT, XSS_TITLE, XSS_CONTACT):
        assert raw not in page
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;柳北区" in page
    assert "<script>" not in page.replace('<script src="/static/desk.js" defer></script>', "")


def test_mail_entry_shows_sender_subject_and_history(desk):
    root, app, ids, services = desk
    page = logged_in(app, "admin").get(f"/entries/{ids['mail']}").text
    assert '<td id="sender">rongshui@163.com</td>' in page and '<td id="subject">融水县参赛作品</td>' in page
    assert "（没有正文，或收件时尚未保存正文）" in page   # recorded without one (tests/test_desk_view.py: a real mail)
    assert re.search(r'<tr data-kind="recorded"><td>[0-9-]+ [0-9:]+</td><td>[^<]+</td><td>登记</td><td>来源：邮件；结果：通过',
                     page), page


def test_users_are_managed_by_admins(desk):
    root, app, ids, services = desk
    admin = logged_in(app, "admin")
    csrf = admin.csrf()
    added = admin.post("/users", {"csrf": csrf, "do": "add", "name": "赵评委", "role": "reviewer",
                                  "password": "long-password"})
    assert added.headers["location"] == "/users?done=added"
    assert logged_in(app, "赵评委", "long-password").get("/").status == 200
    short = admin.post("/users", {"csrf": csrf, "do": "add", "name": "钱", "role": "clerk", "password": "x"})
    assert short.status == 400 and "密码太短：至少 8 个字符。" in short.text
    assert admin.post("/users", {"csrf": csrf, "do": "remove", "name": "赵评委"}).status == 303
    assert services.db.accounts.get("赵评委") is None
    assert [e.data for e in services.db.audit.events() if e.kind.startswith("user_")][-2:] == \
        [{"name": "赵评委", "role": "reviewer"}, {"name": "赵评委"}]


def test_overview_api_gives_new_arrivals(desk, clips):
    root, app, ids, services = desk
    client = logged_in(app, "judge")
    last = max(ids.values())
    assert client.get(f"/api/overview?after={last}").json() == {"latest": [], "last_id": last}
    data = client.get(f"/api/overview?after={last - 1}").json()
    assert [r["id"] for r in data["latest"]] == [last] and data["last_id"] == last
    assert data["counts"]["total"] == len(listing(root))
    assert client.get("/api/overview?after=x").status == 400


def test_user_storage_on_each_backend(backend, workdir):
    db = open_services(load_config(workdir / "config.yaml")).db
    user = db.accounts.add("甲", "clerk", "h")
    from datetime import datetime, timedelta, timezone
    db.accounts.start_session(user.id, "t" * 64, "c", datetime.now(timezone.utc) + timedelta(hours=1))
    db.accounts.start_session(user.id, "e" * 64, "c", datetime.now(timezone.utc) - timedelta(hours=1))
    found, csrf = db.accounts.session_user("t" * 64)
    assert (found.name, found.role, csrf) == ("甲", "clerk", "c")
    assert db.accounts.session_user("e" * 64) is None
    assert db.accounts.set_password("甲", "h2") and db.accounts.session_user("t" * 64) is None
    assert not db.accounts.set_password("乙", "h2") and not db.accounts.remove("乙")
    assert db.accounts.remove("甲") and db.accounts.all() == []


def test_intake_run_serves_the_desk_when_enabled(workdir):
    """`intake run` as a real process with ``desk.enabled``: the desk answers beside the main job, and
    SIGTERM stops both."""
    port = free_port()
    add_config(workdir, f"desk:\n  enabled: true\n  port: {port}\n")
    proc = subprocess.Popen(INTAKE + ["run"], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == f"浏览器工作台：http://127.0.0.1:{port}/\n"
        reply = Client(port).get("/api/submissions")
        assert (reply.status, reply.json()) == (401, {"error": "未登录或登录已过期。"})
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "还没有任何账号，无法登录。" in proc.stderr.read()
