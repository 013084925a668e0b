"""Who is asking: bearer tokens for tools and the API."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from ticker.exceptions import Unauthorized
from ticker.http.session_auth import SESSION_COOKIE, session_account
from ticker.services import services
from ticker.store.accounts import TOKEN_PREFIX, Account, account_for_token


async def require_account(connection: HTTPConnection) -> Account:
    if "authorization" not in connection.headers and SESSION_COOKIE in connection.cookies:
        return await session_account(connection)  # the newsroom's pages: session cookie, Origin and CSRF token
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise Unauthorized()
    account = await account_for_token(services(connection).store, token)
    if account is None:
        raise Unauthorized("the token is unknown or revoked")
    return account
