"""Logging in and out: the login form (its anti-forgery token made by this server, checked by ``guard.CsrfGuard``),
the password check through the throttle (``accounts.log_in``), and the session cookie."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from intake.desk.accounts import LoginRefused, log_in
from intake.desk.base import COOKIE, LOGIN_COOKIE, Desk
from intake.desk.guard import allowed, form_of


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
    except LoginRefused as exc:
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
