"""The desk as an ASGI app (Starlette): its routes, the guard every route but the login passes through
(session, role, CSRF token), and the security headers of every answer. Logging in is ``login.py``'s.

Handlers are plain functions ``handler(request, desk, account, form)`` run in a worker thread (the
database is synchronous); ``guarded`` wraps each into an endpoint. Anything without a session is sent to
``/login`` (pages) or answered 401 (``/api/`` and files).

The ``desk`` a handler receives is the desk as its account sees it (``Seen``): under blind review
(``contest.scoring.blind``) a reviewer's ``desk.views()``, ``desk.derived()`` and ``desk.view()`` are blind
(``intake/review/blind.py``), and templates get ``blind``. Until scoring is closed (``contest.scoring.reveal``), a
judge's are ``sealed`` as well: they hold the judge's own decisions only, and pages show no aggregate. Pages
show submissions through these, never from the database directly, so that a page added later is blind and
sealed too.
"""

from __future__ import annotations

import hmac
import threading
from pathlib import Path
from typing import Any, Callable

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from intake.config import Config
from intake.review.blind import UnitNames, blind_view, blind_views
from intake.desk.accounts import ROLES, Account, LoginForms, Throttle, account_of
from intake.desk.hosts import HostGuard, allowed_hosts
from intake.pipeline.services import Services
from intake.pipeline.views import own_decisions, submission_views

COOKIE = "desk_session"
LOGIN_COOKIE = "desk_login"         # the login form's CSRF token (double submit: cookie and field)
STATIC = Path(__file__).resolve().parent / "static"
PUBLIC = ("/login", "/static")
CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
MAX_FORM_BYTES = 1024 * 1024
# Who is kept blind under blind review. Admins see everything; so do clerks, who record and correct the unit,
# contact and phone, and could not do so without seeing them.
BLIND_ROLES = {"reviewer"}
# Who scores and decides without seeing the others' scores, decisions and notes until scoring is closed.
JUDGE_ROLES = {"reviewer"}
SCORING_EVENTS = ("scoring_closed", "scoring_reopened")
CSRF_REFUSED = "页面已过期（缺少或不符的安全令牌），请刷新页面后重试。"
# The largest number an id in a route may have: ids are database integers, and a longer number (SQLite
# overflows past 2**63 and answered 500) names nothing. Past it the router finds no route: 404.
ID_DIGITS = 10
NO_SUCH_ID = "没有这个编号。"


class IdConvertor(Convertor[int]):
    """``{name:id}`` in a route: a submission's or a file's id, at most ``ID_DIGITS`` digits."""

    regex = f"[0-9]{{1,{ID_DIGITS}}}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor("id", IdConvertor())


def id_of(text: str) -> int | None:
    """An id given in a query string, or None when no id could be it."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text.lstrip("0") or "0") <= ID_DIGITS else None


class Desk:
    """What every handler shares: the config, the services, the login throttle and the templates."""

    blind = False   # the desk itself sees everything; see ``Seen``
    sealed = False
    judge = None

    def __init__(self, config: Config, services: Services):
        self.config = config
        self.services = services
        self.db = services.db
        self.store = services.store
        desk = config.desk
        self.throttle = Throttle(desk.max_failed_logins, desk.max_failed_logins_per_address, desk.lockout_seconds)
        self.login_forms = LoginForms()
        self.env = Environment(loader=PackageLoader("intake.desk", "templates"), autoescape=True)
        self.env.globals.update(contest=config.contest.name, roles=ROLES)
        self._views: tuple[tuple[int, int], list[dict[str, Any]]] | None = None
        self._derived: dict[str, Any] = {}
        self._views_lock = threading.RLock()   # a build may ask for another derived value

    def views(self, blind: bool = False, mark: tuple[int, int] | None = None) -> list[dict[str, Any]]:
        """``submission_views`` of every submission, built again only when something changed since (with 2,000
        works it takes a second or more; twenty reviewers must not each wait for their own). Read-only.
        ``blind``: as a judge under blind review sees them; ``mark``: the database's change mark, when the
        caller read it already (one read per page: see ``Seen``)."""
        mark = mark or self.db.submissions.change_mark()
        with self._views_lock:
            if self._views is None or self._views[0] != mark:
                self._views = (mark, submission_views(self.db))
                self._derived = {}
            views = self._views[1]
            if not blind:
                return views
            if "#blind" not in self._derived:
                self._derived["#blind"] = blind_views(views, self.config.contest)
            return self._derived["#blind"]

    def derived(self, name: str, build: Callable[[list[dict[str, Any]]], Any], blind: bool = False,
                mark: tuple[int, int] | None = None) -> Any:
        """``build(views)``, kept as long as the views are (the list's rows, rendered once for everyone;
        once more for everyone under blind review)."""
        views = self.views(blind, mark)
        key = f"{name}#blind" if blind else name
        with self._views_lock:
            if key not in self._derived:
                self._derived[key] = build(views)
            return self._derived[key]

    def view(self, view: dict[str, Any]) -> dict[str, Any]:
        return view

    def all_views(self) -> list[dict[str, Any]]:
        return self.views()

    def scoring_closed(self, mark: tuple[int, int] | None = None):
        """The admin's 结束评分 in force (its event), or None while scoring is open. Read once per state."""
        def closing(views):
            latest = self.db.audit.latest(SCORING_EVENTS)
            return latest if latest is not None and latest.kind == "scoring_closed" else None
        return self.derived("#scoring", closing, mark=mark)

    def revealed(self, mark: tuple[int, int] | None = None) -> bool:
        """Whether judges may see aggregates and each other's decisions (``contest.scoring.reveal``)."""
        return self.config.contest.scoring.reveal == "always" or self.scoring_closed(mark) is not None

    def unit_names(self) -> UnitNames:
        """Every name of a unit, for masking (kept as long as the views are)."""
        return self.derived("#unit_names", lambda views: UnitNames.of(self.config.contest, views))

    def render(self, template: str, account: Account | None, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(account=account, **context)
        return HTMLResponse(html, status_code=status)


class Seen:
    """The desk as one account sees it: blind for a reviewer under blind review, the desk itself otherwise."""

    def __init__(self, desk: Desk, account: Account, reading: bool = False):
        self.desk = desk
        self.blind = bool(desk.config.contest.scoring.blind and account.role in BLIND_ROLES)
        self.judge = account.name if account.role in JUDGE_ROLES else None
        self._sealed: bool | None = None
        # A page that only reads asks the database whether anything changed once, not once per part of it
        # (views, rows, standings). A request that writes asks each time: it must see its own change.
        self._reading = reading
        self._mark: tuple[int, int] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.desk, name)

    def _change_mark(self) -> tuple[int, int] | None:
        if not self._reading:
            return None
        if self._mark is None:
            self._mark = self.desk.db.submissions.change_mark()
        return self._mark

    @property
    def sealed(self) -> bool:
        """A judge while scoring is open: sees their own scores, decisions and notes only, and no aggregate."""
        if self._sealed is None:
            self._sealed = self.judge is not None and not self.desk.revealed(self._change_mark())
        return self._sealed

    def all_views(self) -> list[dict[str, Any]]:
        """Every view with every decision (blind where this account is): what decides which works are scored."""
        return self.desk.views(self.blind, self._change_mark())

    def views(self) -> list[dict[str, Any]]:
        if not self.sealed:
            return self.all_views()
        judge = self.judge
        return self.desk.derived(f"#own:{judge}", lambda views: [own_decisions(v, judge) for v in views],
                                 self.blind, self._change_mark())

    def derived(self, name: str, build: Callable[[list[dict[str, Any]]], Any]) -> Any:
        if self.sealed:   # built from this judge's own views, and kept for this judge alone
            own = self.views()
            return self.desk.derived(f"{name}#own:{self.judge}", lambda views: build(own), self.blind,
                                     self._change_mark())
        return self.desk.derived(name, build, self.blind, self._change_mark())

    def view(self, view: dict[str, Any]) -> dict[str, Any]:
        """A view (or a page's dict built on one) as this account may see it."""
        seen = blind_view(view, self.desk.unit_names()) if self.blind else view
        return own_decisions(seen, self.judge) if self.sealed else seen

    def render(self, template: str, account: Account | None, status: int = 200, **context: Any) -> HTMLResponse:
        return self.desk.render(template, account, status, blind=self.blind, sealed=self.sealed, **context)


Handler = Callable[[Request, Desk, Account, Any], Response]


def guarded(handler: Handler, api: bool = False, action: str | None = None, stream: bool = False):
    """The endpoint for ``handler``: a session is required (else /login or 401), ``action`` needs a role
    that may do it (else 403), and a POST must carry the session's CSRF token (else 403).

    A ``stream`` handler is a coroutine ``handler(request, desk, account)`` that reads the body itself (an
    upload): it runs once the session and the role are checked, and checks the token (``csrf_matches``)
    before it keeps anything of the body."""

    def unknown(desk: Desk) -> Response:
        if api:
            return JSONResponse({"error": "未登录或登录已过期。"}, status_code=401)
        return RedirectResponse("/login", status_code=303)

    def read(request: Request, desk: Desk) -> Response:
        """A GET in one trip to a worker thread: the session, the role, the page."""
        account = account_of(desk.db, request.cookies.get(COOKIE))
        if account is None:
            return unknown(desk)
        if action and not account.may(action):
            return _refused(desk, account, api, 403, f"{account.role_label}账号不能进行此操作。")
        return handler(request, Seen(desk, account, reading=True), account, None)

    async def endpoint(request: Request) -> Response:
        desk: Desk = request.app.state.desk
        if request.method in ("GET", "HEAD") and not stream:
            return await run_in_threadpool(read, request, desk)
        account = await run_in_threadpool(account_of, desk.db, request.cookies.get(COOKIE))
        if account is None:
            return unknown(desk)
        form = None
        if request.method == "POST" and not stream:
            form = await read_form(request)
            if form is None:
                return _refused(desk, account, api, 413, "提交的内容太大。")
            token = form.get("csrf") or request.headers.get("x-csrf-token") or ""
            if not csrf_matches(account, token):
                return _refused(desk, account, api, 403, CSRF_REFUSED)
        if action and not account.may(action):
            return _refused(desk, account, api, 403, f"{account.role_label}账号不能进行此操作。")
        if stream:
            return await handler(request, Seen(desk, account), account)
        return await run_in_threadpool(handler, request, Seen(desk, account), account, form)

    endpoint.guarded = True   # the route-enumeration test reads it
    return endpoint


def csrf_matches(account: Account, token: object) -> bool:
    return hmac.compare_digest(str(token or ""), account.csrf)


async def read_form(request: Request):
    """The POST's form, or None when it is larger than allowed (also when sent chunked, without a length:
    the body is read up to the limit before it is parsed)."""
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    request._body = bytes(body)   # what request.form() parses (Starlette reads ``_body`` when it is set)
    return await request.form(max_files=0, max_fields=100)


def _refused(desk: Desk, account: Account, api: bool, status: int, message: str) -> Response:
    if api:
        return JSONResponse({"error": message}, status_code=status)
    return desk.render("refused.html.j2", account, status=status, message=message)


async def _not_found(request: Request, exc: HTTPException) -> Response:
    """No route, or an id no work or file can have: 404 in Chinese (JSON where a script asks)."""
    if request.url.path.startswith(("/api/", "/files/", "/thumbs/")):
        return JSONResponse({"error": NO_SUCH_ID}, status_code=404)
    return Response(f"找不到这个页面。{NO_SUCH_ID}" if request.url.path.startswith("/entries/") else "找不到这个页面。",
                    status_code=404, media_type="text/plain; charset=utf-8")


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


def create_app(config: Config, services: Services, hosts: frozenset[str] | None = None) -> Starlette:
    """The desk's app; ``hosts``: the names it answers to besides loopback's (default: ``desk.host`` and
    ``desk.allowed_hosts``)."""
    from intake.desk import (actions, exporting, files, listing, login, pages, receipts_page, scores, settings, thumbs,
                             uploads)

    routes = [
        Route("/login", login.login_page, methods=["GET"]),
        Route("/login", login.login, methods=["POST"]),
        Route("/logout", guarded(login.logout), methods=["POST"]),
        Route("/", guarded(pages.overview), methods=["GET"]),
        Route("/list", guarded(listing.listing), methods=["GET"]),
        Route("/entries/{submission_id:id}", guarded(pages.entry), methods=["GET"]),
        Route("/entries/{submission_id:id}/decide", guarded(actions.decide, action="decide"), methods=["POST"]),
        Route("/entries/{submission_id:id}/edit", guarded(actions.edit, action="edit"), methods=["POST"]),
        Route("/entries/{submission_id:id}/recheck", guarded(actions.recheck, action="recheck"), methods=["POST"]),
        Route("/entries/{submission_id:id}/score", guarded(scores.score, action="score"), methods=["POST"]),
        Route("/scoring", guarded(scores.switch_scoring, action="scoring"), methods=["POST"]),
        Route("/users", guarded(actions.users_page, action="users"), methods=["GET"]),
        Route("/users", guarded(actions.users_change, action="users"), methods=["POST"]),
        Route("/entries/{submission_id:id}/attach", guarded(uploads.attach, action="attach", stream=True),
              methods=["POST"]),
        Route("/entries/{submission_id:id}/receipt", guarded(receipts_page.preview, action="receipt"), methods=["GET"]),
        Route("/entries/{submission_id:id}/receipt", guarded(receipts_page.resend, action="receipt"), methods=["POST"]),
        Route("/export", guarded(exporting.export_page, action="export"), methods=["GET"]),
        Route("/export", guarded(exporting.export_run, action="export"), methods=["POST"]),
        Route("/export/summary", guarded(exporting.summary, action="export"), methods=["GET"]),
        Route("/settings", guarded(settings.settings_page, action="settings"), methods=["GET"]),
        Route("/files/{file_id:id}", guarded(files.play, api=True), methods=["GET"]),
        Route("/files/{file_id:id}/download", guarded(files.download, api=True), methods=["GET"]),
        Route("/files/{file_id:id}/original", guarded(files.download_original, api=True), methods=["GET"]),
        Route("/thumbs/{file_id:id}", guarded(thumbs.poster, api=True), methods=["GET"]),
        Route("/thumbs/{file_id:id}/{index:id}", guarded(thumbs.strip_frame, api=True), methods=["GET"]),
        Route("/findings/{file_id:id}/{index:id}", guarded(thumbs.finding_frame, api=True), methods=["GET"]),
        Route("/api/submissions", guarded(pages.api_submissions, api=True), methods=["GET"]),
        Route("/api/overview", guarded(pages.api_overview, api=True), methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: _not_found})
    app.state.desk = Desk(config, services)
    app.state.desk.env.globals.update(uploads.page_globals(config))
    app.add_middleware(HostGuard, hosts=hosts if hosts is not None else
                       allowed_hosts(config.desk.host, config.desk.allowed_hosts))
    app.add_middleware(SecurityHeaders)
    return app

