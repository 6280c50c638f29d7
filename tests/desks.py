"""A desk for tests: works recorded through the library, accounts, and the desk's app driven either in this
process through ``httpx.ASGITransport`` (``desk_in_process``: most tests) or by the real server (uvicorn) on a
free loopback port on a thread (``running_desk``: what needs a socket or a browser). ``Client`` talks to
either, keeps cookies and never follows redirects."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urlencode

import httpx
from anyio.from_thread import start_blocking_portal

from intake.config import load_config
from intake.pipeline.contact_info import normalise_phone
from intake.desk.accounts import add_account
from intake.desk.app import create_app
from intake.desk.server import Plan, serve_in_thread, server_for
from intake.pipeline.stages import process
from intake.pipeline.services import open_services
from intake.pipeline.task import MediaTask, Source, SubmissionTask
from tests import mails
from tests.conftest import OPEN_CONTEST
from tests.waiting import wait_until

XSS_UNIT = "<script>window.pwned=1</script>柳北区"
XSS_TITLE = '<img src=x onerror="window.pwned=2">'
XSS_CONTACT = "<svg onload=window.pwned=3>"
PASSWORD = "correct horse"
ACCOUNTS = {"admin": "admin", "judge": "reviewer", "clerk": "clerk"}


def record(services, path: Path, unit: str, contact: str, phone: str, title: str | None = None,
           source: Source = Source.CLI, sender: str | None = None, subject: str | None = None) -> int:
    task = SubmissionTask(source=source, received_at=datetime.now(timezone.utc), unit=unit, contact=contact,
                          phone=normalise_phone(phone), title=title or path.stem, sender=sender, subject=subject,
                          files=[MediaTask(source_path=path, original_name=path.name)])
    process(task, services)
    return task.submission_id


def distinct(clips, folder: Path, name: str, tag: str) -> Path:
    path = folder / name
    path.write_bytes(mails.variant(clips["valid"].read_bytes(), tag))
    return path


def make_desk(root: Path, clips, extra_config: str = "") -> dict[str, int]:
    """Four works (accepted, a mail, a rejected WebM, an XSS try) and one account per role; their ids by name."""
    (root / "config.yaml").write_text(OPEN_CONTEST + extra_config, encoding="utf-8")
    files = root / "files"
    files.mkdir()
    services = open_services(load_config(root / "config.yaml"))
    ids = {
        "accepted": record(services, distinct(clips, files, "柳南.mp4", "d1"), "柳南区", "张三", "13800000001", "守护秘密"),
        "mail": record(services, distinct(clips, files, "融水.mp4", "d2"), "融水县保密办", "贾五", "13800000002",
                       source=Source.MAIL, sender="rongshui@163.com", subject="融水县参赛作品"),
        "rejected": record(services, clips["webm"], "鹿寨县", "蒙一", "13800000004"),   # VP9: no lossless fix
        "xss": record(services, distinct(clips, files, "x.mp4", "d3"), XSS_UNIT, XSS_CONTACT, "13800000005",
                      XSS_TITLE),
    }
    for name, role in ACCOUNTS.items():
        add_account(services.db, name, role, PASSWORD)
    services.db.engine.dispose()
    return ids


@contextlib.contextmanager
def running_desk(root: Path) -> Iterator[tuple[int, object]]:
    """The desk of ``root`` served on a free loopback port; yields (port, services)."""
    config = load_config(root / "config.yaml")
    services = open_services(config)
    server = server_for(config, services, Plan("127.0.0.1", 0, None, None, ()))
    thread = serve_in_thread(server)
    try:
        wait_until(lambda: server.started or not thread.is_alive(), 20, "the desk to start")
        assert server.started
        yield server.servers[0].sockets[0].getsockname()[1], services
    finally:
        server.should_exit = True
        thread.join(20)
        services.db.engine.dispose()


class InProcess:
    """The desk's app in this process, on an event loop of its own (a thread: tests stay synchronous). Requests
    go through ``httpx.ASGITransport``; ``source`` is the client's address the app sees."""

    def __init__(self, app, portal):
        self.app, self.portal = app, portal

    def send(self, method: str, path: str, body: bytes | Iterable[bytes] | None, headers: dict,
             source: str | None) -> Reply:
        async def go() -> Reply:
            transport = httpx.ASGITransport(app=self.app, client=(source or "127.0.0.1", 50000))
            content = body
            if body is not None and not isinstance(body, (bytes, str)):
                chunks = list(body)

                async def stream():
                    for chunk in chunks:
                        yield chunk
                content = stream()
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                response = await client.request(method, path, content=content, headers=headers)
            message = http.client.HTTPMessage()
            for name, value in response.headers.multi_items():
                message[name] = value
            return Reply(response.status_code, message, response.content)

        return self.portal.call(go)


@contextlib.contextmanager
def desk_in_process(root: Path) -> Iterator[tuple[InProcess, object]]:
    """The desk of ``root`` as an app in this process; yields (desk, services): ``Client(desk)`` talks to it."""
    config = load_config(root / "config.yaml")
    services = open_services(config)
    app = create_app(config, services)
    try:
        with start_blocking_portal() as portal:
            yield InProcess(app, portal), services
    finally:
        app.state.desk.close()
        services.db.engine.dispose()


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)


@dataclass
class Client:
    """One browser's worth of cookies against the desk: ``port`` (a real server) or an ``InProcess`` app."""

    port: int | InProcess
    cookies: dict[str, str] = field(default_factory=dict)
    source: str | None = None   # another loopback address to come from (127.0.0.2 …): another machine to the desk

    def request(self, method: str, path: str, form: dict | None = None, headers: dict | None = None,
                body: bytes | Iterable[bytes] | None = None) -> Reply:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            body = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if isinstance(self.port, InProcess):
            reply = self.port.send(method, path, body, sent, self.source)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                              source_address=(self.source, 0) if self.source else None)
            try:
                conn.request(method, path, body=body, headers=sent)
                response = conn.getresponse()
                reply = Reply(response.status, response.headers, response.read())
            finally:
                conn.close()
        for line in reply.headers.get_all("set-cookie") or []:
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in line.lower() or value in ('""', ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return reply

    def get(self, path: str, **headers) -> Reply:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, form: dict) -> Reply:
        return self.request("POST", path, form)

    def login(self, name: str, password: str = PASSWORD) -> Reply:
        page = self.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        return self.post("/login", {"csrf": token, "username": name, "password": password})

    def csrf(self) -> str:
        return re.search(r'data-csrf="([^"]+)"', self.get("/").text).group(1)


def logged_in(port: int | InProcess, name: str, password: str = PASSWORD) -> Client:
    client = Client(port)
    reply = client.login(name, password)
    assert (reply.status, reply.headers["location"]) == (303, "/"), reply.text
    return client


def score_form(client: Client, submission_id: int, comment: str | None = None, **values) -> dict:
    """A judge's score form for ``client`` to post on ``submission_id``: the token, the comment if any, and a value
    per criterion."""
    return {"csrf": client.csrf(), **({"comment": comment} if comment is not None else {}),
            **{f"score:{name}": value for name, value in values.items()}}


def log_in_page(page, base: str, name: str, password: str = PASSWORD) -> None:
    """Log ``page`` (Playwright) in through the login form as ``name``, and wait for the overview."""
    page.goto(base + "/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
