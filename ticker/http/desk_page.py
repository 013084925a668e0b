"""What every desk page does (the newsroom's and the admin's): the login or the way to the login form, a form
with its CSRF token checked, and the page with the controls the viewer's role allows."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ticker.http import csrf
from ticker.http.desk_text import render_desk
from ticker.http.params import form_text
from ticker.http.session_auth import current_login
from ticker.roles import allowed
from ticker.store.logins import Login


async def desk_login(request: Request) -> Login | Response:
    """The page's login, or the redirect to the login form (saying so when the session has expired)."""
    login = await current_login(request)
    if login is None or login.expired:
        query = {"next": request.url.path, **({"expired": "1"} if login is not None else {})}
        return RedirectResponse(f"/login?{urlencode(query)}", status_code=303)
    return login


def desk_page(name: str, request: Request, login: Login, status: int = 200, **context: Any) -> Response:
    """A desk page; ``may`` (ticker.roles) decides which controls it shows."""
    me, may = login.account, allowed(login.account.role)
    return render_desk(name, request, status=status, me=me, may=may, csrf_token=login.csrf_token, **context)


async def checked_form(request: Request, login: Login) -> FormData:
    form = await request.form()
    csrf.check(request, "POST", login.csrf_token, form_text(form, csrf.FIELD))
    return form
