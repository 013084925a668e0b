"""Users and API tokens. Tokens are random, shown once and stored as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import select

from ticker.exceptions import Conflict, Invalid, NotFound
from ticker.store.sql import Store, now
from ticker.store.tables import ApiToken, User

ROLES = ("admin", "editor", "reporter", "contributor")
TOKEN_PREFIX = "tk_"
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    display_name: str
    role: str


def _account(user: User) -> Account:
    return Account(user.id, user.name, user.display_name, user.role)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def add_user(
    store: Store, name: str, display_name: str, role: str = "reporter", password: str | None = None
) -> Account:
    if role not in ROLES:
        raise Invalid("role", f"role must be one of {', '.join(ROLES)}")
    async with store.writing() as session:
        if await session.scalar(select(User.id).where(User.name == name)) is not None:
            raise Conflict(f"user {name!r} exists", "name")
        user = User(
            name=name,
            display_name=display_name,
            role=role,
            password_hash=_hasher.hash(password) if password else None,
            created_at=now(),
        )
        session.add(user)
        await session.flush()
        return _account(user)


async def user_by_name(store: Store, name: str) -> Account:
    async with store.reading() as session:
        user = await session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound("user")
    return _account(user)


async def create_token(store: Store, user: Account, label: str = "") -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with store.writing() as session:
        session.add(ApiToken(user_id=user.id, token_hash=_digest(token), label=label, created_at=now()))
    return token


async def account_for_token(store: Store, token: str) -> Account | None:
    async with store.reading() as session:
        user = await session.scalar(
            select(User)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
        )
    return _account(user) if user is not None else None
