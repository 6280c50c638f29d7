"""The desk against a hostile network (issue 23, items 1–5): connections that never finish a request, parallel
password guesses, a foreign ``Host`` (DNS rebinding), ids no work can have, and a burst of poster requests;
all through the real server (uvicorn on a loopback port) and real sockets. Other loopback addresses
(127.0.0.2 …) stand for other machines."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import media
from tests.cli import run
from tests.desks import PASSWORD, Client, logged_in, make_desk, running_desk
from tests.waiting import wait_until

pytestmark = pytest.mark.slow   # a long module: scheduled first (conftest.py)

HEADER_TIMEOUT = 2


@pytest.fixture(scope="module")
def desk(clips, tmp_path_factory):
    """(root, port, ids, services, server) of one desk whose request headers must come within 2 seconds."""
    root = tmp_path_factory.mktemp("attacks")
    ids = make_desk(root, clips, f"desk:\n  header_timeout_seconds: {HEADER_TIMEOUT}\n  allowed_hosts: [desk.test]\n")
    with running_desk(root) as (port, services):
        yield root, port, ids, services


def connect(port: int, source: str) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))


def listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
        return True
    return False


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed ``sock`` (end of file or reset); False while it is still open. What the
    server answered before closing is read past, so that an answer and its close are seen in one look."""
    sock.setblocking(False)
    try:
        while sock.recv(65536):
            pass
        return True
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


# -- 1. connections that never finish a request -------------------------------------------------------
def test_one_address_holding_connections_open_does_not_shut_the_desk(desk):
    root, port, ids, services = desk
    judge = logged_in(port, "judge")
    neighbour = Client(port, source="127.0.0.2")    # someone at the flooding machine itself
    assert neighbour.login("clerk").status == 303
    flood = []
    try:
        # 205 connections from one machine, some silent, some with half a request line: uvicorn's 200-connection
        # limit counted them all and answered 503 to everyone for as long as they stayed open.
        for i in range(205):
            sock = connect(port, "127.0.0.2")
            if i % 2:
                sock.sendall(b"GET /lis")
            flood.append(sock)
        assert judge.get("/").status == 200
        assert judge.get(f"/entries/{ids['accepted']}").status == 200
        assert Client(port).get("/login").status == 200      # and a new visitor from another machine
        # the machine keeps at most max_connections_per_address (30): each new connection took the place of its
        # oldest one still waiting for a request, so a real request from that machine still gets through
        assert neighbour.get("/").status == 200
        wait_until(lambda: sum(closed_by_server(s) for s in flood) >= 205 - 30, 30, "the extra connections to close")
    finally:
        for sock in flood:
            sock.close()


def test_a_request_whose_headers_never_end_is_cut_off(desk):
    root, port, ids, services = desk
    with contextlib.ExitStack() as stack:
        silent = stack.enter_context(connect(port, "127.0.0.3"))
        half = stack.enter_context(connect(port, "127.0.0.3"))
        half.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # a kept-alive connection that starts a second request and never finishes it
        kept = stack.enter_context(connect(port, "127.0.0.3"))
        kept.sendall(f"GET /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        first = kept.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first[:100]
        kept.sendall(b"GET /login HTTP/1.1\r\nHost: 127")
        for sock in (silent, half, kept):
            wait_until(lambda: closed_by_server(sock), HEADER_TIMEOUT + 20, "the server to close the connection")



def test_a_form_whose_body_stalls_is_given_up_and_frees_its_connection(desk):
    """Headers sent in time, then a login form that stops half-way: it held a slot for good, and thirty of them
    shut out the logged-in user at that machine."""
    root, port, ids, services = desk
    user = Client(port, source="127.0.0.4")
    assert user.login("judge").status == 303
    stalled = []
    try:
        for _ in range(30):
            sock = connect(port, "127.0.0.4")
            sock.sendall(f"POST /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: "
                         "application/x-www-form-urlencoded\r\nContent-Length: 50000\r\n\r\ncsrf=".encode())
            stalled.append(sock)
        first, said, answered = stalled[0], b"", None
        first.settimeout(HEADER_TIMEOUT + 20)
        while chunk := first.recv(65536):   # its 408, then the close at once (not after the keep-alive time)
            answered, said = answered or time.monotonic(), said + chunk
        assert said.startswith(b"HTTP/1.1 408") and b"connection: close" in said.lower(), said[:300]
        assert time.monotonic() - answered < 2
        for sock in stalled:
            wait_until(lambda: closed_by_server(sock), HEADER_TIMEOUT + 20, "the stalled form's connection to close")
        assert user.get("/").status == 200
    finally:
        for sock in stalled:
            sock.close()


# -- 2. login throttling ----------------------------------------------------------------------------------
def test_parallel_guesses_are_counted_before_the_password_is_checked(desk, caplog):
    root, port, ids, services = desk
    from intake.desk.accounts import add_account

    add_account(services.db, "victim", "reviewer", PASSWORD)
    # forty guesses at once, from four machines (each keeps within its connection cap)
    guessers = [Client(port, source=f"127.0.1.{i % 4 + 1}") for i in range(40)]
    tokens = [re.search(r'name="csrf" value="([^"]+)"', g.get("/login").text).group(1) for g in guessers]
    start = threading.Barrier(len(guessers))

    def guess(client: Client, token: str) -> int:
        start.wait()
        return client.post("/login", {"csrf": token, "username": "victim", "password": "wrong guess"}).status

    caplog.set_level(logging.WARNING, logger="intake.desk.login")
    with ThreadPoolExecutor(len(guessers)) as pool:
        statuses = list(pool.map(guess, guessers, tokens))
    limit = services.config.desk.max_failed_logins
    # at most `limit` passwords were checked (401); every other guess was refused before its hash (429)
    assert statuses.count(401) == limit and statuses.count(429) == len(statuses) - limit, statuses
    locked = Client(port, source="127.0.0.4").login("victim")     # the right password, from a fifth machine
    assert locked.status == 429 and "登录失败次数过多，请 5 分钟后再试。" in locked.text
    said = [r.getMessage() for r in caplog.records]
    failed = [m for m in said if re.fullmatch(r"工作台登录失败：账号“victim”，地址 127\.0\.1\.[1-4]", m)]
    assert len(failed) == limit, said
    assert any(re.fullmatch(r"工作台账号“victim”登录失败 5 次，锁定 300 秒（最近一次来自 127\.0\.1\.[1-4]）；"
                            r"管理员可用 intake user unlock 提前解除", m) for m in said), said
    assert "工作台登录被拒绝（账号已锁定）：账号“victim”，地址 127.0.0.4" in said
    # the owner need not wait: an admin lifts the lockout from the command line, and the running desk follows
    out = run("user", "unlock", "victim", cwd=root)
    assert (out.returncode, out.stdout) == (0, f"已解除账号 victim 的登录锁定（清除了 {limit} 次失败的登录）。\n")
    assert logged_in(port, "victim").get("/").status == 200
    assert [e.data for e in services.db.audit.events() if e.kind == "user_unlocked"] == \
        [{"name": "victim", "failures": limit}]
    again = run("user", "unlock", "victim", cwd=root)
    assert (again.returncode, again.stdout) == (0, "账号 victim 没有被锁定（没有失败的登录记录）。\n")
    nobody = run("user", "unlock", "nobody", cwd=root)
    assert (nobody.returncode, nobody.stderr) == (2, "错误：没有名为“nobody”的账号。\n提示：请用 intake user list 查看账号。\n")


def test_the_login_token_is_one_the_server_made(desk):
    root, port, ids, services = desk
    # a page (or a script) that sets the login cookie and sends the same value: double submit alone let it in
    chosen = Client(port, {"desk_login": "chosen-by-the-page"})
    reply = chosen.post("/login", {"csrf": "chosen-by-the-page", "username": "judge", "password": PASSWORD})
    assert reply.status == 403 and "页面已过期，请重新登录。" in reply.text and "desk_session" not in chosen.cookies
    # a token of this server, but not the one in the browser's cookie
    issued = re.search(r'name="csrf" value="([^"]+)"', Client(port).get("/login").text).group(1)
    other = Client(port)
    other.get("/login")
    assert other.post("/login", {"csrf": issued, "username": "judge", "password": PASSWORD}).status == 403
    assert Client(port).login("judge").status == 303


# -- 3. Host --------------------------------------------------------------------------------------------------
def test_only_the_desks_own_names_are_answered(desk):
    root, port, ids, services = desk
    judge = logged_in(port, "judge")
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.nip.io", "", "desk.test.evil.example"):
        reply = judge.get("/api/submissions", Host=host)
        assert reply.status == 400, host
        assert "工作台不接受用" in reply.text and "desk.allowed_hosts" in reply.text and "融水" not in reply.text
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"desk.test:{port}", "DESK.TEST"):
        assert judge.get("/api/submissions", Host=host).status == 200, host


# -- 4. ids no work can have ------------------------------------------------------------------------------------
def test_an_id_that_cannot_exist_is_404_not_500(desk):
    root, port, ids, services = desk
    admin = logged_in(port, "admin")
    huge = "9" * 25
    for path in (f"/entries/{huge}", f"/files/{huge}", f"/files/{huge}/download", f"/files/{huge}/original",
                 f"/thumbs/{huge}", f"/thumbs/{huge}/1", f"/entries/{huge}/receipt", f"/api/overview?after={huge}",
                 "/entries/9223372036854775808", "/files/18446744073709551616", "/entries/4294967296",
                 "/files/2147483648"):
        reply = admin.get(path)
        assert reply.status == 404, (path, reply.status, reply.body[:200])
        assert "Traceback" not in reply.text and re.search("[\u4e00-\u9fff]", reply.text), path
    csrf = admin.csrf()
    for action in ("decide", "edit", "recheck", "score", "receipt"):
        reply = admin.post(f"/entries/{huge}/{action}", {"csrf": csrf, "decision": "pending"})
        assert reply.status == 404, (action, reply.status)
    assert admin.get("/api/overview?after=x").status == 400


def test_intake_serve_logs_lockouts_and_user_unlock_lifts_them(workdir):
    """A real `intake serve`: failures and the lockout are logged with the name and the address, and
    `intake user unlock`, another process, lets the owner in at once."""
    import subprocess

    from tests.cli import INTAKE
    from tests.dovecot import free_port

    assert run("user", "add", "王老师", "--role", "reviewer", "--password-stdin", input=PASSWORD + "\n").returncode == 0
    port = free_port()
    server = subprocess.Popen(INTAKE + ["serve", "--port", str(port)], cwd=workdir, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout.readline() == f"工作台地址：http://127.0.0.1:{port}/（按 Ctrl-C 停止）\n"
        wait_until(lambda: listening(port), 30, "intake serve to listen")
        for _ in range(5):
            assert Client(port, source="127.0.0.6").login("王老师", "not it").status == 401
        assert Client(port).login("王老师").status == 429
        unlocked = subprocess.run(INTAKE + ["user", "unlock", "王老师"], cwd=workdir, capture_output=True, text=True)
        assert (unlocked.returncode, unlocked.stdout) == (0, "已解除账号 王老师 的登录锁定（清除了 5 次失败的登录）。\n")
        assert logged_in(port, "王老师").get("/").status == 200
    finally:
        server.terminate()
        server.wait(20)
    log = (workdir / "data" / "logs" / "intake.log").read_text(encoding="utf-8")
    assert log.count("WARNING intake.desk.login: 工作台登录失败：账号“王老师”，地址 127.0.0.6\n") == 5
    assert "工作台账号“王老师”登录失败 5 次，锁定 300 秒（最近一次来自 127.0.0.6）" in log
    assert "工作台登录被拒绝（账号已锁定）：账号“王老师”，地址 127.0.0.1" in log


# -- 5. posters ----------------------------------------------------------------------------------------------------
@pytest.fixture
def watched_ffmpeg(tmp_path, monkeypatch):
    """The posters' ffmpeg, run through a script that notes how many run at once (the real ffmpeg does the work)."""
    from intake.report import thumbs as report_thumbs
    from validators.tools import ffmpeg_exe

    running, log = tmp_path / "running", tmp_path / "ffmpeg.log"
    running.mkdir()
    script = tmp_path / "ffmpeg"
    script.write_text(f'#!/bin/sh\ntouch "{running}/$$"\nls "{running}" | wc -l >> "{log}"\n'
                      f'"{ffmpeg_exe()}" "$@"\nstatus=$?\nrm -f "{running}/$$"\nexit $status\n')
    script.chmod(0o755)
    monkeypatch.setattr(report_thumbs, "ffmpeg_exe", lambda: str(script))
    return log


def runs_at_once(log) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def test_posters_are_made_once_each_and_at_most_two_at_a_time(desk, clips, tmp_path, watched_ffmpeg):
    from datetime import datetime, timezone

    from intake.pipeline.stages import process
    from intake.pipeline.task import MediaTask, Source, SubmissionTask
    from tests import mails

    root, port, ids, services = desk
    videos = []
    for i in range(12):
        videos.append(tmp_path / f"片段{i}.mp4")
        videos[-1].write_bytes(mails.variant(clips["valid"].read_bytes(), f"poster-{i}"))
    task = SubmissionTask(source=Source.CLI, received_at=datetime.now(timezone.utc), unit="柳江区",
                          files=[MediaTask(source_path=p, original_name=p.name) for p in videos])
    process(task, services)
    file_ids = [f.id for f in services.db.submissions.get(task.submission_id).files]
    judge = logged_in(port, "judge")

    def poster(file_id: int) -> bytes:
        """As the page does: asks again while the server says it is still busy (503)."""
        def fetched():
            reply = judge.get(f"/thumbs/{file_id}")
            assert reply.status in (200, 503), (file_id, reply.status)
            return reply.body if reply.status == 200 else None
        return wait_until(fetched, 60, f"the poster of file {file_id}")

    # twelve requests for one new poster: one ffmpeg, and every request gets the picture
    with ThreadPoolExecutor(12) as pool:
        same = list(pool.map(poster, [file_ids[0]] * 12))
    assert len(set(same)) == 1 and same[0][:2] == b"\xff\xd8"
    assert len(runs_at_once(watched_ffmpeg)) == 1
    # an entry page with twelve videos asks for twelve posters at once: at most two ffmpegs run at a time
    with ThreadPoolExecutor(12) as pool:
        pictures = list(pool.map(poster, file_ids))
    assert all(p[:2] == b"\xff\xd8" for p in pictures)
    assert len(runs_at_once(watched_ffmpeg)) == 12 and max(runs_at_once(watched_ffmpeg)) <= 2


def test_a_poster_that_cannot_be_made_is_not_tried_on_every_request(desk, clips, tmp_path, watched_ffmpeg):
    from tests.desks import record

    root, port, ids, services = desk
    broken = media.undecodable(clips["valid"], tmp_path / "坏.mp4")   # no frame decodes: no picture
    sid = record(services, broken, "柳城县", "韦一", "13800000021")
    [stored] = services.db.submissions.get(sid).files
    judge = logged_in(port, "judge")
    for _ in range(3):
        assert judge.get(f"/thumbs/{stored.id}").status == 404
    assert len(runs_at_once(watched_ffmpeg)) == 1
