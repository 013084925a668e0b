"""Who is asking: bearer tokens for tools and the API."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from ticker.exceptions import Unauthorized
from ticker.services import services
from ticker.store.accounts import TOKEN_PREFIX, Account, account_for_token


async def require_account(connection: HTTPConnection) -> Account:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise Unauthorized()
    account = await account_for_token(services(connection).store, token)
    if account is None:
        raise Unauthorized("the token is unknown or revoked")
    return account
