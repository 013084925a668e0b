"""The newsroom's login and logout pages.

The session cookie is HttpOnly, SameSite=Lax, and Secure when the public URL is https. Wrong passwords
given ``login_max_failures`` times in a row make every further attempt for that name wait
``login_lockout_seconds`` (429 with Retry-After), right password or not.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ticker.errors import CloseCode
from ticker.http import csrf
from ticker.http.desk_text import render_desk
from ticker.http.node import node
from ticker.http.params import form_text
from ticker.http.session_auth import SESSION_COOKIE, current_login
from ticker.logs import log_event
from ticker.store.accounts import check_password
from ticker.store.logins import clear_failures, end_session, record_failure, start_session, wait_seconds

FORM_COOKIE = "ticker_login"  # the login form's CSRF token: there is no session yet to hold one
HOME = "/desk"


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this site only."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")) and len(value) < 500:
        return value
    return HOME


def _form(request: Request, status: int = 200, *, problem: str | None = None, **context: Any) -> Response:
    token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(32)
    response = render_desk(
        "desk/login.html",
        request,
        status=status,
        form_token=token,
        problem=problem,
        **{"next": safe_next(request.query_params.get("next")), **context},
    )
    response.set_cookie(FORM_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/login")
    return response


def _secure(connection: HTTPConnection) -> bool:
    return node(connection).settings.resolved_public_url().startswith("https://")


async def login_page(request: Request) -> Response:
    login = await current_login(request)
    if login is not None and not login.expired:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    notice = "logged_out" if "out" in request.query_params else None
    if login is not None or "expired" in request.query_params:
        notice = "session_expired"
    return _form(request, notice=notice)


async def login(request: Request) -> Response:
    form = await request.form()
    name, password = form_text(form, "name").strip(), form_text(form, "password")
    next_path = safe_next(form_text(form, "next"))
    context = {"typed_name": name, "next": next_path}
    given, expected = form_text(form, csrf.FIELD), request.cookies.get(FORM_COOKIE, "")
    if (
        not csrf.from_own_origin(request, required=False)
        or not expected
        or not hmac.compare_digest(given.encode(), expected.encode())
    ):
        return _form(request, 403, problem="form_expired", **context)
    if not name or not password:
        return _form(request, 422, problem="missing_name" if not name else "missing_password", **context)
    settings, store = node(request).settings, node(request).store
    wait = await wait_seconds(store, name, settings.login_max_failures, settings.login_lockout_seconds)
    if wait:
        log_event("login_slowed", logging.WARNING, user=name, wait=wait)
        node(request).metrics.failed_login("locked_out")
        return _slowed(request, wait, context)
    account = await check_password(store, name, password)
    if account is not None and account.disabled:  # the right password: saying so tells them nothing new
        await record_failure(store, name, "disabled")
        log_event("login_refused", logging.WARNING, user=name, reason="disabled")
        return _form(request, 403, problem="account_disabled", **context)
    if account is None:
        failures = await record_failure(store, name)
        node(request).metrics.failed_login("wrong_password")
        log_event("login_failed", logging.WARNING, user=name, failures=failures)
        if failures >= settings.login_max_failures:
            return _slowed(request, settings.login_lockout_seconds, context)
        return _form(request, 401, problem="wrong_password", **context)
    await clear_failures(store, name)
    token, session = await start_session(store, account, settings.session_seconds)
    log_event("login", user=account.name, session=session.id)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_seconds,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(FORM_COOKIE, path="/login")
    return response


def _slowed(request: Request, wait: int, context: dict[str, Any]) -> Response:
    response = _form(request, 429, problem="too_many_failures", wait=wait, **context)
    response.headers["Retry-After"] = str(wait)
    return response


async def logout(request: Request) -> Response:
    """End this browser's session and close the live sockets it opened: on this node at once, on the others
    when they hear of it (ticker.notices)."""
    login = await current_login(request)
    if login is None:
        return RedirectResponse("/login", status_code=303)
    form = await request.form()
    csrf.check(request, "POST", login.csrf_token, request.headers.get(csrf.HEADER) or form_text(form, csrf.FIELD))
    await end_session(node(request).store, login.id)
    closed = node(request).hub.close_owned(login.id, CloseCode.SESSION_ENDED, "logged out")
    await node(request).notices.logged_out(login.id)
    log_event("logout", user=login.account.name, session=login.id, closed_sockets=closed)
    response: Response
    if "application/json" in request.headers.get("accept", ""):
        response = JSONResponse({"logged_out": True, "closed_sockets": closed})
    else:
        response = RedirectResponse("/login?out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/login", login_page, methods=["GET", "HEAD"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]
