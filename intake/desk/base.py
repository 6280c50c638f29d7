"""What every page of the desk shares, and imports none of them: the ``Desk`` (config, services, templates, the
views built once per state of the database, the jobs) and ``Seen``, the desk as one account sees it.

Pages show submissions through ``Seen``, never from the database directly, so that a page added later is blind
(a reviewer under ``contest.scoring.blind``) and sealed (a judge's own decisions only, no aggregate, until
scoring is closed) too.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from jinja2 import Environment, PackageLoader
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from intake.config import Config
from intake.review.blind import UnitNames, blind_view, blind_views
from intake.desk.accounts import ROLES, Account, LoginForms, Throttle
from intake.desk.jobs import Jobs
from intake.pipeline.services import Services
from intake.review.scoring import scoring_closed
from intake.pipeline.views import own_decisions, submission_views
from storage.records import ID_DIGITS

COOKIE = "desk_session"
LOGIN_COOKIE = "desk_login"         # the login form's CSRF token (double submit: cookie and field)
STATIC = Path(__file__).resolve().parent / "static"
PUBLIC = ("/login", "/static")
MAX_FORM_BYTES = 1024 * 1024
# Who is kept blind under blind review. Admins see everything; so do clerks, who record and correct the unit,
# contact and phone, and could not do so without seeing them.
BLIND_ROLES = {"reviewer"}
# Who scores and decides without seeing the others' scores, decisions and notes until scoring is closed.
JUDGE_ROLES = {"reviewer"}
CSRF_REFUSED = "页面已过期（缺少或不符的安全令牌），请刷新页面后重试。"
NO_SUCH_ID = "没有这个编号。"
# Answers in JSON: what scripts and the player fetch (a page's address answers in HTML).
API_PATHS = ("/api/", "/files/", "/thumbs/", "/findings/")
# Ffmpegs making pictures at once however many pages ask (an entry page with twelve videos asks for twelve
# posters; twenty reviewers open twenty entries); and long work (a recheck with OCR, an export) at once.
PICTURE_MAKERS = 2
LONG_WORKERS = 2


class IdConvertor(Convertor[int]):
    """``{name:id}`` in a route: a submission's or a file's id, at most ``ID_DIGITS`` digits (past it no route
    matches: 404)."""

    regex = f"[0-9]{{1,{ID_DIGITS}}}"

    def convert(self, value: str) -> int:
        return int(value)


register_url_convertor("id", IdConvertor())


class Desk:
    """What every page shares: the config, the services, the login throttle, the templates and the jobs."""

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
        self.pictures = Jobs("picture", PICTURE_MAKERS)   # posters, strips, finding stills
        self.copies = Jobs("copy", PICTURE_MAKERS)        # the copies blind judges get
        self.work = Jobs("work", LONG_WORKERS, retry_seconds=0)   # rechecks and exports started from a page

    def views(self, blind: bool = False, mark: tuple[int, int] | None = None) -> list[dict[str, Any]]:
        """``submission_views`` of every submission (read-only), built again only when something changed since:
        with 2,000 works it takes a second or more, and twenty reviewers must not each wait for their own."""
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
        """``build(views)``, kept as long as the views are."""
        views = self.views(blind, mark)
        key = f"{name}#blind" if blind else name
        with self._views_lock:
            if key not in self._derived:
                self._derived[key] = build(views)
            return self._derived[key]

    def scoring_closed(self, mark: tuple[int, int] | None = None):
        """The admin's 结束评分 in force (its event), or None while scoring is open. Read once per state."""
        return self.derived("#scoring", lambda views: scoring_closed(self.db), mark=mark)

    def render(self, template: str, account: Account | None, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(account=account, **context)
        return HTMLResponse(html, status_code=status)

    def login_form(self, request: Request, error: str | None, status: int) -> Response:
        """The login page with a fresh anti-forgery token, in its form and in a cookie of its own."""
        token = self.login_forms.issue()
        response = self.render("login.html.j2", None, status=status, error=error, csrf=token, no_accounts=not self.db.accounts.all())
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login",
                            secure=request.url.scheme == "https")
        return response

    def refused(self, path: str, account: Account | None, status: int, message: str) -> Response:
        """Why a request was not done: JSON for a script's address, else a page."""
        if path.startswith(API_PATHS):
            return JSONResponse({"error": message}, status_code=status)
        return self.render("refused.html.j2", account, status=status, message=message)

    def close(self) -> None:
        """Stop taking jobs; those running end with their ffmpeg (``children.cancel_all`` on a stop signal)."""
        for jobs in (self.pictures, self.copies, self.work):
            jobs.close()


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
            self._sealed = self.judge is not None and self.config.contest.scoring.reveal != "always" and \
                self.desk.scoring_closed(self._change_mark()) is None
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
        if self.blind:   # every name of a unit, kept as long as the views are
            names = self.desk.derived("#unit_names", lambda views: UnitNames.of(self.config.contest, views))
            view = blind_view(view, names)
        return own_decisions(view, self.judge) if self.sealed else view

    def render(self, template: str, account: Account | None, status: int = 200, **context: Any) -> HTMLResponse:
        return self.desk.render(template, account, status, blind=self.blind, sealed=self.sealed, **context)
