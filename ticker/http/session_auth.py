"""Who is asking, for people: the newsroom's session cookie (tools use bearer tokens, ticker.http.auth).

The cookie holds a random token whose digest keys the session. A state-changing request that comes with the
cookie must also pass the Origin check and carry the session's CSRF token (ticker.http.csrf).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from ticker.errors import Refused
from ticker.http import csrf
from ticker.http.node import node
from ticker.store.accounts import Account
from ticker.store.logins import Login, find_session

SESSION_COOKIE = "ticker_session"


def session_expired() -> Refused:
    return Refused("session_expired", "the session has expired; log in again")


async def current_login(connection: HTTPConnection) -> Login | None:
    """The session the cookie names (possibly expired), or None."""
    token = connection.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 100:
        return None
    return await find_session(node(connection).store, token)


async def require_login(connection: HTTPConnection) -> Login:
    """The live session of a cookie-authenticated request, with its Origin and CSRF token checked."""
    login = await current_login(connection)
    if login is None:
        raise Refused.unauthorized("log in, or send a bearer token")
    if login.expired:
        raise session_expired()
    method = connection.scope.get("method", "GET")
    csrf.check(connection, method, login.csrf_token, connection.headers.get(csrf.HEADER))
    return login


async def session_account(connection: HTTPConnection) -> Account:
    return (await require_login(connection)).account


async def reporter_session(connection: HTTPConnection) -> int | None:
    """The session id a /live socket belongs to: only with a live session cookie *and* our own Origin.

    From another origin the socket is an anonymous reader, so a page elsewhere cannot ride on the cookie.
    """
    if SESSION_COOKIE not in connection.cookies or not csrf.from_own_origin(connection, required=True):
        return None
    login = await current_login(connection)
    return login.id if login is not None and not login.expired else None
