"""Users and API tokens. Tokens are random, shown once and stored as SHA-256 digests."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticker.errors import Refused
from ticker.roles import ROLES, Action, may
from ticker.store.audit import SYSTEM, Actor, AuditKind, created, record
from ticker.store.newsroom import LoginSession
from ticker.store.sql import Store, now
from ticker.store.tables import ApiToken, User
from ticker.textrules import Kind, problem

TOKEN_PREFIX = "tk_"
USER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")  # a login name
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    display_name: str
    role: str
    disabled: bool = False  # such an account gets no session and its tokens are refused (ticker.store.admin)

    def may(self, action: Action) -> bool:
        """What the account's role allows: ticker.roles."""
        return may(self.role, action)


@dataclass(frozen=True)
class TokenInfo:
    id: int
    label: str
    created_at: datetime
    revoked_at: datetime | None


def account_of(user: User) -> Account:
    return Account(user.id, user.name, user.display_name, user.role, user.disabled_at is not None)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _check_text(field: str, value: str, max_chars: int) -> None:
    """The same rules for a name whichever way it comes (the API, the desk's forms, the CLI, the demo)."""
    why = problem(value, Kind.NAME) or (f"at most {max_chars} characters" if len(value) > max_chars else None)
    if why is not None:
        raise Refused.invalid(field, f"{field}: {why}")


async def add_user(
    store: Store,
    name: str,
    display_name: str,
    role: str = "reporter",
    password: str | None = None,
    *,
    by: Actor = SYSTEM,
) -> Account:
    if not USER_NAME.match(name):
        raise Refused.invalid("name", "name: 1–64 lower-case letters, digits, '.', '_' or '-'")
    _check_text("display_name", display_name, 120)
    if role not in ROLES:
        raise Refused.invalid("role", f"role must be one of {', '.join(ROLES)}")
    async with store.writing() as session:
        if await session.scalar(select(User.id).where(User.name == name)) is not None:
            raise Refused.conflict(f"user {name!r} exists", "name")
        user = User(
            name=name,
            display_name=display_name,
            role=role,
            password_hash=await asyncio.to_thread(_hasher.hash, password) if password else None,
            created_at=now(),
        )
        session.add(user)
        await session.flush()
        facts = created({"display_name": display_name, "role": role, "password": password is not None})
        record(session, by, AuditKind.USER_ADDED, subject=name, changes=facts)
        return account_of(user)


async def user_by_name(store: Store, name: str) -> Account:
    async with store.reading() as session:
        user = await session.scalar(select(User).where(User.name == name, User.deleted_at.is_(None)))
    if user is None:
        raise Refused.not_found("user")
    return account_of(user)


async def create_token(store: Store, user: Account, label: str = "", *, by: Actor | None = None) -> str:
    """A new token for ``user`` (made by ``by``: the user themself unless said)."""
    _check_text("label", label, 120)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with store.writing() as session:
        row = ApiToken(user_id=user.id, token_hash=_digest(token), label=label, created_at=now())
        session.add(row)
        await session.flush()
        facts = {"user": user.name, **created({"label": label})}
        record(session, by or Actor.of(user), AuditKind.TOKEN_CREATED, subject=row.id, changes=facts)
    return token


# Every API request looks its token up: one statement built once, run on a connection (no ORM session, no User
# object). Never cached: a token revoked on any node is refused on the next request.
USERS = cast(Table, User.__table__)
API_TOKENS = cast(Table, ApiToken.__table__)
ACCOUNT_FOR_TOKEN = (
    select(USERS.c.id, USERS.c.name, USERS.c.display_name, USERS.c.role)
    .join(API_TOKENS, API_TOKENS.c.user_id == USERS.c.id)
    .where(
        API_TOKENS.c.token_hash == bindparam("token_hash"),
        API_TOKENS.c.revoked_at.is_(None),
        USERS.c.disabled_at.is_(None),
    )
)


async def account_for_token(store: Store, token: str) -> Account | None:
    digest = _digest(token)
    row = await store.read_sync(
        lambda connection: connection.execute(ACCOUNT_FOR_TOKEN, {"token_hash": digest}).first()
    )
    return Account(row.id, row.name, row.display_name, row.role) if row is not None else None


@cache
def _unknown_user_hash() -> str:
    """A hash to verify against when the name is unknown, so that both cases take the same time."""
    return _hasher.hash(secrets.token_urlsafe(16))


async def check_password(store: Store, name: str, password: str) -> Account | None:
    """The account whose name and password these are, or None. Hashing runs off the event loop."""
    async with store.reading() as session:
        user = await session.scalar(select(User).where(User.name == name))
    stored = user.password_hash if user is not None else None
    against: str = stored if stored is not None else await asyncio.to_thread(_unknown_user_hash)
    try:
        await asyncio.to_thread(_hasher.verify, against, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or stored is None:
        return None
    if _hasher.check_needs_rehash(stored):
        await set_password(store, account_of(user), password)
    return account_of(user)


async def hash_password(password: str) -> str:
    """The password's argon2id hash, made off the event loop."""
    return await asyncio.to_thread(_hasher.hash, password)


async def set_password(store: Store, account: Account, password: str) -> None:
    password_hash = await hash_password(password)
    async with store.writing() as session:
        await session.execute(update(User).where(User.id == account.id).values(password_hash=password_hash))


async def change_password(
    store: Store, account: Account, password: str, *, by: Actor | None = None, how: str = "set"
) -> list[int]:
    """A new password chosen by a person (ticker.passwords checks it first): their desk sessions end with it.
    Returns the ended sessions' ids (whose sockets the caller closes: ticker.http.admin)."""
    await set_password(store, account, password)
    async with store.writing() as session:
        ended = await end_sessions(session, account.id)
        record(
            session,
            by or Actor.of(account),
            AuditKind.USER_PASSWORD_CHANGED,
            subject=account.name,
            changes={"how": how},
        )
    return ended


async def end_sessions(session: AsyncSession, user_id: int) -> list[int]:
    """End the user's open desk sessions, in ``session``'s transaction; their ids."""
    result = await session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
        .values(ended_at=now())
        .returning(LoginSession.id)
    )
    return list(result.scalars())


async def users_with_passwords(store: Store) -> list[tuple[Account, bool]]:
    """Every user by name, and whether they have a password (may log into the desk)."""
    async with store.reading() as session:
        users = await session.scalars(select(User).where(User.deleted_at.is_(None)).order_by(User.name))
        return [(account_of(u), u.password_hash is not None) for u in users]


async def tokens(store: Store, account: Account) -> list[TokenInfo]:
    """The account's API tokens (never the tokens themselves), newest first."""
    query = select(ApiToken).where(ApiToken.user_id == account.id).order_by(ApiToken.id.desc())
    async with store.reading() as session:
        return [TokenInfo(t.id, t.label, t.created_at, t.revoked_at) for t in await session.scalars(query)]


async def revoke_token(store: Store, account: Account, token_id: int, *, by: Actor | None = None) -> None:
    async with store.writing() as session:
        found = await session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == account.id))
        if found is None:
            raise Refused.not_found("token")
        if found.revoked_at is None:
            found.revoked_at = now()
            facts = {"user": account.name, "label": found.label}
            record(session, by or Actor.of(account), AuditKind.TOKEN_REVOKED, subject=token_id, changes=facts)


async def accounts(store: Store) -> list[Account]:
    async with store.reading() as session:
        query = select(User).where(User.deleted_at.is_(None)).order_by(User.name)
        return [account_of(u) for u in await session.scalars(query)]
