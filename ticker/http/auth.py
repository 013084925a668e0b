"""Who is asking: bearer tokens for tools and the API."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from ticker.errors import Refused
from ticker.http.node import node
from ticker.http.session_auth import SESSION_COOKIE, session_account
from ticker.roles import Action, refusal
from ticker.store.accounts import TOKEN_PREFIX, Account, account_for_token


async def require_account(connection: HTTPConnection) -> Account:
    if "authorization" not in connection.headers and SESSION_COOKIE in connection.cookies:
        return await session_account(connection)  # the newsroom's pages: session cookie, Origin and CSRF token
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise Refused.unauthorized()
    account = await account_for_token(node(connection).store, token)
    if account is None:
        raise Refused.unauthorized("the token is unknown or revoked")
    return account


async def require(connection: HTTPConnection, action: Action) -> Account:
    """The account, if its role may do ``action`` (ticker.roles); 403 otherwise."""
    account = await require_account(connection)
    if not account.may(action):
        raise Refused.forbidden(refusal(account.role, action))
    return account
