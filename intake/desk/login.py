"""Logging in and out: the login form (its anti-forgery token made by this server), the password check through
the throttle (``accounts.log_in``), and the session cookie."""

from __future__ import annotations

import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from intake.desk.accounts import Account, LoginRefused, log_in
from intake.desk.app import COOKIE, LOGIN_COOKIE, Desk, read_form


async def login_page(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    return _login_form(desk, request, None, 200)


def _login_form(desk: Desk, request: Request, error: str | None, status: int) -> Response:
    token = desk.login_forms.issue()
    response = desk.render("login.html.j2", None, status=status, error=error, csrf=token,
                           no_accounts=not desk.db.accounts.all())
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=request.url.scheme == "https")
    return response


async def login(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    form = await read_form(request)
    if form is None:
        return _too_large()
    # The token must be one this server made (a page cannot choose one), sent both in the cookie and the form.
    expected = request.cookies.get(LOGIN_COOKIE) or ""
    given = str(form.get("csrf") or "")
    if not (expected and hmac.compare_digest(given, expected) and desk.login_forms.valid(given)):
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
    desk.db.accounts.end_session(account.token_hash)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
