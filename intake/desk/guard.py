"""Who may do what on the desk, checked in one place each, and logging in and out.

- **Who** (``SessionBackend``): the account of the session cookie, with its role's actions as its scopes; a route
  says what it needs with ``allowed(action)``. Without a session a page is sent to ``/login`` and a script's
  address answers 401; a role that may not do it is told so (403).
- **Forged requests** (``CsrfGuard``): every POST must carry the session's token (the ``csrf`` field or the
  ``X-CSRF-Token`` header); the login form its own, made by this server and also set in a cookie. A form's body
  is read here, bounded by ``MAX_FORM_BYTES`` even without a length, and kept for the page (``form_of``); an
  upload's token must come first (header or first field) and the rest streams on. A form the browser says came
  from another page than the desk's own (``Sec-Fetch-Site``, ``Origin``) is refused whatever it carries.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Callable
from urllib.parse import urlsplit

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.authentication import AuthCredentials, AuthenticationBackend, requires
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intake.desk.accounts import MAY, Account, Refused, account_of, log_in
from intake.desk.base import API_PATHS, COOKIE, CSRF_REFUSED, LOGIN_COOKIE, MAX_FORM_BYTES, Desk, Seen

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
TOO_LARGE = "提交的内容太大。"
LOGIN_EXPIRED = "页面已过期，请重新登录。"
BAD_FORM = "提交的表单格式不对，请刷新页面后重试。"
FIRST_PART_BYTES = 64 * 1024      # an upload's first part (its token) must end within this much of the body
FORM_STALLED = "表单长时间没有发送完，已放弃；请刷新页面后重试。"
DRAIN_BYTES = 64 * 1024 * 1024    # read (and drop) this much more of a refused body, so the browser sees why
NOT_SIGNED_IN = "未登录或登录已过期。"


# -- who -----------------------------------------------------------------------------------------------------
class SessionBackend(AuthenticationBackend):
    """The account behind a request's session cookie; its scopes are ``authenticated`` and its role's actions."""

    async def authenticate(self, conn: HTTPConnection):
        token = conn.cookies.get(COOKIE)
        if not token or conn.url.path.startswith("/static/"):
            return None
        desk: Desk = conn.app.state.desk
        account = await run_in_threadpool(account_of, desk.db, token)
        if account is None:
            return None
        return AuthCredentials(["authenticated", *(action for action in MAY if account.may(action))]), account


def allowed(action: str | None = None) -> Callable:
    """An endpoint for a signed-in account (401) whose role may do ``action`` when one is named (403): Starlette's
    ``requires``, marked ``guarded`` for the test that walks every route."""

    def wrap(endpoint: Callable) -> Callable:
        guarded = requires("authenticated", status_code=401)(requires(action)(endpoint) if action else endpoint)
        guarded.guarded = True
        return guarded

    return wrap


async def unauthorized(request: Request, exc: HTTPException) -> Response:
    """No session: a page goes to the login form, a script's address answers 401."""
    if request.url.path.startswith(API_PATHS):
        return request.app.state.desk.refused(request.url.path, None, 401, NOT_SIGNED_IN)
    return RedirectResponse("/login", status_code=303)


async def forbidden(request: Request, exc: HTTPException) -> Response:
    """The account's role may not do this."""
    account: Account = request.user
    return request.app.state.desk.refused(request.url.path, account, 403, f"{account.role_label}账号不能进行此操作。")


# -- logging in and out ------------------------------------------------------------------------------------------
async def login_page(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    return await run_in_threadpool(desk.login_form, request, None, 200)


async def login(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    form = form_of(request)
    address = request.client.host if request.client else "?"
    try:
        token = await run_in_threadpool(log_in, desk.db, desk.throttle, str(form.get("username") or ""),
                                        str(form.get("password") or ""), address, desk.config.desk.session_hours)
    except Refused as exc:
        return await run_in_threadpool(desk.login_form, request, exc.message, exc.status)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                        max_age=int(desk.config.desk.session_hours * 3600), secure=request.url.scheme == "https")
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@allowed()
def logout(request: Request) -> Response:
    request.app.state.desk.db.accounts.end_session(request.user.token_hash)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def seen(request: Request) -> Seen:
    """The desk as the request's account sees it."""
    return Seen(request.app.state.desk, request.user, reading=request.method in SAFE_METHODS)


def form_of(request: Request) -> FormData:
    """The POST's form, read and checked by ``CsrfGuard`` (empty for a request without one)."""
    return getattr(request.state, "form", None) or FormData()


# -- forged requests --------------------------------------------------------------------------------------------
DEFAULT_PORTS = {"http": 80, "https": 443}


def cross_site(request: Request) -> bool:
    """The browser says the form was sent from a page that is not the desk's own: ``Sec-Fetch-Site`` other than
    ``same-origin`` (another port or name of the same site is ``same-site``, and as foreign), or an ``Origin``
    that is not the address it posts to, caught where a browser sends no ``Sec-Fetch-Site``. No Origin (a
    script), or ``null`` (what a browser sends under a ``no-referrer`` policy, the desk's own forms included),
    tells nothing: the token still decides."""
    fetched_from = request.headers.get("sec-fetch-site")
    if fetched_from is not None and fetched_from not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return False
    sent_from = urlsplit(origin)
    return _address(sent_from.scheme, sent_from.netloc) != _address(sent_from.scheme, request.headers.get("host", ""))


def _address(scheme: str, netloc: str) -> tuple[str, int | None]:
    """(host, port) of ``netloc``, the scheme's default port filled in: ``desk`` and ``DESK:80`` are one address."""
    try:
        parts = urlsplit(f"//{netloc}")
        return (parts.hostname or "", parts.port or DEFAULT_PORTS.get(scheme.lower()))
    except ValueError:   # a port that is not a number
        return (netloc.lower(), None)


class CsrfGuard:
    """ASGI middleware after the authentication: a POST without the right token is refused before any page runs."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            return await self.app(scope, receive, send)
        request = Request(scope)
        receive = body = Body(receive)
        login = scope["path"] == "/login"
        user = scope.get("user")
        if not login and not (user is not None and user.is_authenticated):
            return await self.app(scope, receive, send)   # nothing to forge: ``allowed`` sends it to the login
        try:
            if cross_site(request):
                raise Refused(403, CSRF_REFUSED)
            if not login and streamed_upload(scope["path"]):
                receive = await self._upload_token(request, receive, user)
            else:
                receive = await self._form_token(request, receive, user if not login else None)
        except Refused as exc:
            desk: Desk = request.app.state.desk
            if login and exc.status == 403:   # the form again, with a token of its own
                response = await run_in_threadpool(desk.login_form, request, exc.message, 403)
            elif login:
                response = PlainTextResponse(exc.message, status_code=exc.status)
            else:
                response = desk.refused(request.url.path, user, exc.status, exc.message)
            if not body.ended and exc.status != 408 and declared_length(request) <= DRAIN_BYTES:
                await _drain(body, _idle_seconds(request))
            return await response(scope, body, send)
        await self.app(scope, receive, send)

    async def _form_token(self, request: Request, receive: Receive, account: Account | None) -> Receive:
        """Read the form (bounded), check its token, keep it for the page; the body is replayed to it."""
        if declared_length(request) > MAX_FORM_BYTES:
            raise Refused(413, TOO_LARGE)
        # A form's body (a login, a decision) is small: one that stalls for desk.header_timeout_seconds is given
        # up, else connections that send their head and then stall in the body would hold the desk's slots for
        # good (the header timeout ends only those that stall before the body).
        idle = _idle_seconds(request)
        messages, size = [], 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), idle)
            except asyncio.TimeoutError:
                raise Refused(408, FORM_STALLED) from None
            if message["type"] != "http.request":
                raise Refused(400, BAD_FORM)   # the client went away
            messages.append(message)
            size += len(message.get("body", b""))
            if size > MAX_FORM_BYTES:
                raise Refused(413, TOO_LARGE)
            if not message.get("more_body", False):
                break
        replay = _replaying(messages, receive)
        try:
            form = await Request(request.scope, replay).form(max_files=0, max_fields=100)
        except HTTPException:
            raise Refused(400, BAD_FORM) from None
        token = str(form.get("csrf") or request.headers.get("x-csrf-token") or "")
        desk: Desk = request.app.state.desk
        if account is not None:
            good = hmac.compare_digest(token, account.csrf)
        else:   # the login form: a token this server made, sent both in the cookie and the form
            expected = request.cookies.get(LOGIN_COOKIE) or ""
            good = bool(expected) and hmac.compare_digest(token, expected) and desk.login_forms.valid(token)
        if not good:
            raise Refused(403, LOGIN_EXPIRED if account is None else CSRF_REFUSED)
        request.scope.setdefault("state", {})["form"] = form
        return _replaying(messages, receive)

    async def _upload_token(self, request: Request, receive: Receive, account: Account) -> Receive:
        """The token of an upload: in the header, or the form's first field, read off the body's head (the file
        after it streams on). Nothing of the file is read before the token is checked."""
        header = request.headers.get("x-csrf-token")
        if header is not None:
            if not hmac.compare_digest(header, account.csrf):
                raise Refused(403, CSRF_REFUSED)
            return receive
        kind, params = parse_options_header(request.headers.get("content-type"))
        if kind != b"multipart/form-data" or not params.get(b"boundary"):
            raise Refused(400, "上传的内容格式不对，请用页面上的表单补登。")
        first = FirstPart()
        parser = MultipartParser(params[b"boundary"], first.callbacks())
        messages, size = [], 0
        try:
            while not first.ended:
                message = await receive()
                if message["type"] != "http.request":
                    raise Refused(400, BAD_FORM)
                messages.append(message)
                chunk = message.get("body", b"")
                size += len(chunk)
                try:
                    parser.write(chunk)
                except FormParserError:
                    if not first.ended:
                        raise
                    break   # past the token: what is wrong further on is the upload's to say
                if first.ended or first.is_file or size > FIRST_PART_BYTES or not message.get("more_body"):
                    break
        except FormParserError:
            raise Refused(400, BAD_FORM) from None
        if not (first.ended and first.name == "csrf" and hmac.compare_digest(first.text(), account.csrf)):
            raise Refused(403, CSRF_REFUSED)
        return _replaying(messages, receive)


class PartReader:
    """Callbacks of a streaming multipart parser that read each part's ``Content-Disposition``; the hooks
    ``part(options)``, ``data``, ``end`` and ``finished`` are the subclass's."""

    def __init__(self):
        self._header = (bytearray(), bytearray())
        self._disposition = b""
        self._value = bytearray()
        self.parts = 0

    def callbacks(self) -> dict:
        return {"on_part_begin": self._begin, "on_header_field": lambda d, s, e: self._header[0].extend(d[s:e]),
                "on_header_value": lambda d, s, e: self._header[1].extend(d[s:e]),
                "on_header_end": self._header_end,
                "on_headers_finished": lambda: self.part(parse_options_header(self._disposition)[1]),
                "on_part_data": lambda d, s, e: self.data(d[s:e]), "on_part_end": self.end, "on_end": self.finished}

    def _begin(self) -> None:
        self.parts += 1
        self._disposition = b""

    def _header_end(self) -> None:
        name, value = self._header
        if bytes(name).strip().lower() == b"content-disposition":
            self._disposition = bytes(value)
        self._header = (bytearray(), bytearray())

    def finished(self) -> None:
        pass


class FirstPart(PartReader):
    """The first part's name and value (bounded)."""

    def __init__(self):
        super().__init__()
        self.name: str | None = None
        self.is_file = False
        self.ended = False

    def part(self, options: dict) -> None:
        if self.parts == 1:
            self.is_file = b"filename" in options
            self.name = options.get(b"name", b"").decode("utf-8", "replace")

    def data(self, chunk: bytes) -> None:
        if self.parts == 1 and len(self._value) <= 1024:
            self._value.extend(chunk)

    def end(self) -> None:
        if self.parts == 1:
            self.ended = True

    def text(self) -> str:
        return self._value.decode("utf-8", "replace")


class Body:
    """The request's ``receive``, noting when the body has ended (after that, a read waits for the client to go)."""

    def __init__(self, receive: Receive):
        self.receive = receive
        self.ended = False

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.ended = True
        return message


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives the messages already read again, then the rest of the body as it comes."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def declared_length(request: Request) -> int:
    """The body's Content-Length (0 when chunked; the server has refused a malformed one already)."""
    try:
        return int(request.headers.get("content-length") or 0)
    except ValueError:
        return 0


def _idle_seconds(request: Request) -> float:
    """How long a form's body may stall: as long as a request's head may take (desk.header_timeout_seconds)."""
    return request.app.state.desk.config.desk.header_timeout_seconds


async def _drain(body: Body, idle: float) -> None:
    """Read and drop what is left of a refused body, up to DRAIN_BYTES: a browser still sending does not read
    the answer (a body far larger than that is never read at all, the connection just closes)."""
    drained = 0
    while drained <= DRAIN_BYTES and not body.ended:
        try:
            drained += len((await asyncio.wait_for(body(), idle)).get("body", b""))
        except asyncio.TimeoutError:
            return   # a body that stalls is not waited for: the answer goes out and the connection closes


def streamed_upload(path: str) -> bool:
    """The upload route (``/entries/{id}/attach``): its body streams to a file, never held."""
    return path.startswith("/entries/") and path.endswith("/attach")
