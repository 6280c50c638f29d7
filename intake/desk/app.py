"""The desk as an ASGI app (Starlette): its routes, the guard every route but the login passes through
(session, role, CSRF token), and the security headers of every answer.

Handlers are plain functions ``handler(request, desk, account, form)`` run in a worker thread (the
database is synchronous); ``guarded`` wraps each into an endpoint. Anything without a session is sent to
``/login`` (pages) or answered 401 (``/api/`` and files).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from pathlib import Path
from typing import Any, Callable

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from intake.config import Config
from intake.desk.accounts import ROLES, Account, LoginRefused, Throttle, account_of, log_in
from intake.pipeline import Services
from intake.views import submission_views

COOKIE = "desk_session"
LOGIN_COOKIE = "desk_login"         # the login form's CSRF token (double submit: cookie and field)
STATIC = Path(__file__).resolve().parent / "static"
PUBLIC = ("/login", "/static")
CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
MAX_FORM_BYTES = 1024 * 1024


class Desk:
    """What every handler shares: the config, the services, the login throttle and the templates."""

    def __init__(self, config: Config, services: Services):
        self.config = config
        self.services = services
        self.db = services.db
        self.store = services.store
        desk = config.desk
        self.throttle = Throttle(desk.max_failed_logins, desk.max_failed_logins_per_address, desk.lockout_seconds)
        self.env = Environment(loader=PackageLoader("intake.desk", "templates"), autoescape=True)
        self.env.globals.update(contest=config.contest.name, roles=ROLES)
        self._views: tuple[tuple[int, int], list[dict[str, Any]]] | None = None
        self._derived: dict[str, Any] = {}
        self._views_lock = threading.Lock()

    def views(self) -> list[dict[str, Any]]:
        """``submission_views`` of every submission, built again only when something changed since (with 2,000
        works it takes a second or more; twenty reviewers must not each wait for their own). Read-only."""
        mark = self.db.change_mark()
        with self._views_lock:
            if self._views is None or self._views[0] != mark:
                self._views = (mark, submission_views(self.db))
                self._derived = {}
            return self._views[1]

    def derived(self, name: str, build: Callable[[list[dict[str, Any]]], Any]) -> Any:
        """``build(views)``, kept as long as the views are (the list's rows, rendered once for everyone)."""
        views = self.views()
        with self._views_lock:
            if name not in self._derived:
                self._derived[name] = build(views)
            return self._derived[name]

    def render(self, template: str, account: Account | None, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(account=account, **context)
        return HTMLResponse(html, status_code=status)


Handler = Callable[[Request, Desk, Account, Any], Response]


def guarded(handler: Handler, api: bool = False, action: str | None = None):
    """The endpoint for ``handler``: a session is required (else /login or 401), ``action`` needs a role
    that may do it (else 403), and a POST must carry the session's CSRF token (else 403)."""

    async def endpoint(request: Request) -> Response:
        desk: Desk = request.app.state.desk
        account = await run_in_threadpool(account_of, desk.db, request.cookies.get(COOKIE))
        if account is None:
            if api:
                return JSONResponse({"error": "未登录或登录已过期。"}, status_code=401)
            return RedirectResponse("/login", status_code=303)
        form = None
        if request.method == "POST":
            form = await _form(request)
            if form is None:
                return _refused(desk, account, api, 413, "提交的内容太大。")
            token = form.get("csrf") or request.headers.get("x-csrf-token") or ""
            if not hmac.compare_digest(str(token), account.csrf):
                return _refused(desk, account, api, 403, "页面已过期（缺少或不符的安全令牌），请刷新页面后重试。")
        if action and not account.may(action):
            return _refused(desk, account, api, 403, f"{account.role_label}账号不能进行此操作。")
        return await run_in_threadpool(handler, request, desk, account, form)

    endpoint.guarded = True   # the route-enumeration test reads it
    return endpoint


async def _form(request: Request):
    """The POST's form, or None when it is larger than allowed."""
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return None
    return await request.form(max_files=0, max_fields=100)


def _refused(desk: Desk, account: Account, api: bool, status: int, message: str) -> Response:
    if api:
        return JSONResponse({"error": message}, status_code=status)
    return desk.render("refused.html.j2", account, status=status, message=message)


# -- login and logout --------------------------------------------------------------------
async def login_page(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    return _login_form(desk, request, None, 200)


def _login_form(desk: Desk, request: Request, error: str | None, status: int) -> Response:
    token = secrets.token_urlsafe(24)
    response = desk.render("login.html.j2", None, status=status, error=error, csrf=token,
                           no_accounts=not desk.db.users())
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=request.url.scheme == "https")
    return response


async def login(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    form = await _form(request)
    if form is None:
        return _too_large()
    expected = request.cookies.get(LOGIN_COOKIE) or ""
    if not expected or not hmac.compare_digest(str(form.get("csrf") or ""), expected):
        return await run_in_threadpool(_login_form, desk, request, "页面已过期，请重新登录。", 403)
    address = request.client.host if request.client else "?"
    try:
        token = await run_in_threadpool(log_in, desk.db, desk.throttle, str(form.get("username") or ""),
                                        str(form.get("password") or ""), address, desk.config.desk.session_hours)
    except LoginRefused as exc:
        return await run_in_threadpool(_login_form, desk, request, exc.message, exc.status)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                        max_age=int(desk.config.desk.session_hours * 3600), secure=request.url.scheme == "https")
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


def _too_large() -> Response:
    return Response("提交的内容太大。", status_code=413, media_type="text/plain; charset=utf-8")


def logout(request: Request, desk: Desk, account: Account, form) -> Response:
    desk.db.end_session(account.token_hash)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


class SecurityHeaders:
    """Every answer: a CSP of 'self', no sniffing, no framing, no referrer; pages are not cached."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"),
                            (b"cross-origin-opener-policy", b"same-origin")]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(config: Config, services: Services) -> Starlette:
    from intake.desk import actions, files, listing, pages, thumbs

    routes = [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", guarded(logout), methods=["POST"]),
        Route("/", guarded(pages.overview), methods=["GET"]),
        Route("/list", guarded(listing.listing), methods=["GET"]),
        Route("/entries/{submission_id:int}", guarded(pages.entry), methods=["GET"]),
        Route("/entries/{submission_id:int}/decide", guarded(actions.decide, action="decide"), methods=["POST"]),
        Route("/entries/{submission_id:int}/edit", guarded(actions.edit, action="edit"), methods=["POST"]),
        Route("/entries/{submission_id:int}/recheck", guarded(actions.recheck, action="recheck"), methods=["POST"]),
        Route("/users", guarded(actions.users_page, action="users"), methods=["GET"]),
        Route("/users", guarded(actions.users_change, action="users"), methods=["POST"]),
        Route("/files/{file_id:int}", guarded(files.play, api=True), methods=["GET"]),
        Route("/files/{file_id:int}/download", guarded(files.download, api=True), methods=["GET"]),
        Route("/thumbs/{file_id:int}", guarded(files.poster, api=True), methods=["GET"]),
        Route("/thumbs/{file_id:int}/{index:int}", guarded(thumbs.strip_frame, api=True), methods=["GET"]),
        Route("/api/submissions", guarded(pages.api_submissions, api=True), methods=["GET"]),
        Route("/api/overview", guarded(pages.api_overview, api=True), methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.desk = Desk(config, services)
    app.add_middleware(SecurityHeaders)
    return app

