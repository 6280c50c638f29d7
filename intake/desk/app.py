"""The desk as an ASGI app (Starlette): its routes, and what every request passes through on its way to them:
the ``Host`` check, the security headers, the session and the anti-forgery check; each route says what role it
needs (``guard.allowed``). Routes that only use the database are plain functions (run on a worker thread); those
that wait for long work or stream are coroutines.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from intake.config import Config
from intake.desk import actions, exporting, files, listing, pages, receipts_page, scores, settings, thumbs, uploads
from intake.desk.base import API_PATHS, NO_SUCH_ID, STATIC, Desk
from intake.desk.guard import CsrfGuard, SessionBackend, forbidden, login, login_page, logout, unauthorized
from intake.desk.hosts import HostGuard, allowed_hosts
from intake.pipeline.services import Services

CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

ROUTES = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/", pages.overview, methods=["GET"]),
    Route("/list", listing.listing, methods=["GET"]),
    Route("/entries/{submission_id:id}", pages.entry, methods=["GET"]),
    Route("/entries/{submission_id:id}/decide", actions.decide, methods=["POST"]),
    Route("/entries/{submission_id:id}/edit", actions.edit, methods=["POST"]),
    Route("/entries/{submission_id:id}/recheck", actions.recheck, methods=["POST"]),
    Route("/entries/{submission_id:id}/score", actions.score, methods=["POST"]),
    Route("/scoring", scores.switch_scoring, methods=["POST"]),
    Route("/users", actions.users_page, methods=["GET"]),
    Route("/users", actions.users_change, methods=["POST"]),
    Route("/entries/{submission_id:id}/attach", uploads.attach, methods=["POST"]),
    Route("/entries/{submission_id:id}/receipt", receipts_page.preview, methods=["GET"]),
    Route("/entries/{submission_id:id}/receipt", receipts_page.resend, methods=["POST"]),
    Route("/export", exporting.export_page, methods=["GET"]),
    Route("/export", exporting.export_run, methods=["POST"]),
    Route("/export/summary", exporting.summary, methods=["GET"]),
    Route("/export/zip", exporting.export_zip, methods=["POST"]),
    Route("/settings", settings.settings_page, methods=["GET"]),
    Route("/files/{file_id:id}", files.play, methods=["GET"]),
    Route("/files/{file_id:id}/download", files.download, methods=["GET"]),
    Route("/files/{file_id:id}/original", files.download_original, methods=["GET"]),
    Route("/thumbs/{file_id:id}", thumbs.poster, methods=["GET"]),
    Route("/thumbs/{file_id:id}/{index:id}", thumbs.strip_frame, methods=["GET"]),
    Route("/findings/{file_id:id}/{index:id}", thumbs.finding_frame, methods=["GET"]),
    Route("/api/pictures/{file_id:id}", thumbs.pictures_state, methods=["GET"]),
    Route("/api/jobs/{job_id}", pages.api_job, methods=["GET"]),
    Route("/api/submissions", pages.api_submissions, methods=["GET"]),
    Route("/api/overview", pages.api_overview, methods=["GET"]),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]


async def _not_found(request: Request, exc: HTTPException) -> Response:
    """No route, or an id no work or file can have: 404 in Chinese (JSON where a script asks)."""
    if request.url.path.startswith(API_PATHS):
        return JSONResponse({"error": NO_SUCH_ID}, status_code=404)
    return Response(f"找不到这个页面。{NO_SUCH_ID}" if request.url.path.startswith("/entries/") else "找不到这个页面。",
                    status_code=404, media_type="text/plain; charset=utf-8")


class SecurityHeaders:
    """Every answer: a CSP of 'self', no sniffing, no framing, no referrer; pages are not cached. A 408 closes its
    connection (RFC 9110 §15.5.9): a client that stalled a body keeps no slot for the keep-alive time on top."""

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
                if message["status"] == 408:   # a body that stalled: its connection goes now, not after keep-alive
                    headers.append((b"connection", b"close"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(config: Config, services: Services, hosts: frozenset[str] | None = None) -> Starlette:
    """The desk's app; ``hosts``: the names it answers to besides loopback's."""
    middleware = [   # outermost first
        Middleware(SecurityHeaders),
        Middleware(HostGuard, hosts=hosts if hosts is not None else
                   allowed_hosts(config.desk.host, config.desk.allowed_hosts)),
        Middleware(AuthenticationMiddleware, backend=SessionBackend()),
        Middleware(CsrfGuard),
    ]
    app = Starlette(routes=ROUTES, middleware=middleware,
                    exception_handlers={401: unauthorized, 403: forbidden, 404: _not_found})
    app.state.desk = Desk(config, services)
    app.state.desk.env.globals.update(uploads.page_globals(config))
    return app
