"""Managing users without SQL: their roles, disabling and enabling them, deleting them, one-time password reset
links and revoking their tokens. Every change is recorded in the audit log in its own transaction.

Functions that end a user's desk sessions return the ended sessions' ids: the caller closes the live sockets those
sessions opened, on its node and on the others (ticker.http.admin, ticker.notices). Nothing else needs telling:
no node keeps accounts in memory, every request's token or session cookie is looked up in SQL with the user's
``disabled_at``, so a change is seen by every node at its next request.

Deleting a user keeps their row (entries, revisions, submissions and audit rows refer to it), renamed to
``deleted-<id>`` so that the login name is free again, without a password, disabled, with its tokens revoked and
its sessions ended. Their entries stay as they are: the byline is stored on each entry (``author_name``) and is
not changed. An admin who wants the entries gone retracts them, or takes the incident down.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, LargeBinary, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ticker.errors import Refused
from ticker.roles import ROLES, Action, may
from ticker.store.accounts import Account, account_of, end_sessions, hash_password
from ticker.store.audit import Actor, AuditKind, record
from ticker.store.sql import Store, now
from ticker.store.tables import ApiToken, Base, User, UTCDateTime

DELETED_PREFIX = "deleted-"  # a deleted user's new login name; never a name the desk or the CLI gives anyone


class PasswordReset(Base):
    """A one-time link to choose a new password: the link holds a random token, the table its SHA-256 digest."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class UserInfo:
    """A user as the admin pages list them."""

    account: Account
    has_password: bool
    created_at: datetime
    disabled_at: datetime | None
    live_tokens: int


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def users(store: Store) -> list[UserInfo]:
    """Every user who is not deleted, by name, with how many tokens they hold that are not revoked."""
    live_tokens = (
        select(ApiToken.user_id, func.count().label("n"))
        .where(ApiToken.revoked_at.is_(None))
        .group_by(ApiToken.user_id)
        .subquery()
    )
    query = (
        select(User, func.coalesce(live_tokens.c.n, 0))
        .outerjoin(live_tokens, live_tokens.c.user_id == User.id)
        .where(User.deleted_at.is_(None))
        .order_by(User.name)
    )
    async with store.reading() as session:
        rows = (await session.execute(query)).all()
    return [UserInfo(account_of(u), u.password_hash is not None, u.created_at, u.disabled_at, n) for u, n in rows]


async def _user(session: AsyncSession, user_id: int) -> User:
    """The user (not deleted), locked for this transaction."""
    found = await session.scalar(select(User).where(User.id == user_id, User.deleted_at.is_(None)).with_for_update())
    if found is None:
        raise Refused.not_found("user")
    return found


async def user_id_of(store: Store, name: str) -> int:
    async with store.reading() as session:
        found = await session.scalar(select(User.id).where(User.name == name, User.deleted_at.is_(None)))
    if found is None:
        raise Refused.not_found("user")
    return found


async def _keep_an_admin(session: AsyncSession, user: User, what: str) -> None:
    """Refuse a change that would leave no admin able to log in (nobody could manage users any more)."""
    if not may(user.role, Action.MANAGE_USERS) or user.disabled_at is not None:
        return
    admins = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(
            User.role.in_([r for r in ROLES if may(r, Action.MANAGE_USERS)]),
            User.disabled_at.is_(None),
            User.deleted_at.is_(None),
            User.id != user.id,
        )
    )
    if not admins:
        raise Refused.conflict(
            f"{user.name} is the last admin who can log in: {what} would leave nobody to manage users"
        )


async def set_role(store: Store, user_id: int, role: str, by: Actor) -> Account:
    """Give the user another role; it applies to their next request (sessions and tokens read it each time)."""
    if role not in ROLES:
        raise Refused.invalid("role", f"role must be one of {', '.join(ROLES)}")
    async with store.writing() as session:
        user = await _user(session, user_id)
        if user.role == role:
            raise Refused.conflict(f"{user.name} is already {role}", "role")
        if not may(role, Action.MANAGE_USERS):
            await _keep_an_admin(session, user, f"making them {role}")
        record(session, by, AuditKind.USER_ROLE_CHANGED, subject=user.name, changes={"role": [user.role, role]})
        user.role = role
        return account_of(user)


async def disable(store: Store, user_id: int, by: Actor) -> tuple[Account, list[int]]:
    """Disable the user: their sessions end and their tokens are refused from now on (kept, and accepted again
    if they are enabled). Returns the ended sessions' ids."""
    async with store.writing() as session:
        user = await _user(session, user_id)
        if user.disabled_at is not None:
            raise Refused.conflict(f"{user.name} is already disabled", "user")
        await _keep_an_admin(session, user, "disabling them")
        user.disabled_at = now()
        ended = await end_sessions(session, user.id)
        await _void_resets(session, user.id, user.disabled_at)  # enabling them must not bring a link back
        record(session, by, AuditKind.USER_DISABLED, subject=user.name, changes={"sessions_ended": len(ended)})
        return account_of(user), ended


async def enable(store: Store, user_id: int, by: Actor) -> Account:
    async with store.writing() as session:
        user = await _user(session, user_id)
        if user.disabled_at is None:
            raise Refused.conflict(f"{user.name} is not disabled", "user")
        user.disabled_at = None
        record(session, by, AuditKind.USER_ENABLED, subject=user.name)
        return account_of(user)


async def delete(store: Store, user_id: int, by: Actor) -> tuple[Account, list[int]]:
    """Delete the user (see the module's docstring: their entries and bylines stay). Returns the ended sessions."""
    async with store.writing() as session:
        user = await _user(session, user_id)
        await _keep_an_admin(session, user, "deleting them")
        at = now()
        was = account_of(user)
        revoked = await _revoke_tokens(session, user.id, at)
        ended = await end_sessions(session, user.id)
        await _void_resets(session, user.id, at)
        user.name = f"{DELETED_PREFIX}{user.id}"
        user.password_hash = None
        user.deleted_at = at
        user.disabled_at = user.disabled_at or at
        facts = {
            "name": [was.name, None],
            "display_name": [was.display_name, None],
            "role": [was.role, None],
            "tokens_revoked": len(revoked),
            "sessions_ended": len(ended),
        }
        record(session, by, AuditKind.USER_DELETED, at=at, subject=was.name, changes=facts)
        return was, ended


async def _revoke_tokens(session: AsyncSession, user_id: int, at: datetime) -> list[int]:
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=at)
        .returning(ApiToken.id)
    )
    return sorted(result.scalars())


async def revoke_tokens(store: Store, user_id: int, by: Actor) -> tuple[Account, list[int]]:
    """Revoke every token of the user's that is not revoked yet; their ids (none: nothing is recorded)."""
    async with store.writing() as session:
        user = await _user(session, user_id)
        revoked = await _revoke_tokens(session, user.id, now())
        if revoked:
            facts = {"user": user.name, "tokens": revoked}
            record(session, by, AuditKind.TOKEN_REVOKED, subject=",".join(map(str, revoked)), changes=facts)
        return account_of(user), revoked


# Password reset links.


async def create_reset(store: Store, user_id: int, by: Actor, lifetime_seconds: int) -> tuple[Account, str]:
    """A one-time link's token for the user to choose a new password, valid for ``lifetime_seconds``. Earlier
    links of theirs stop working; their password does not change until the link is used."""
    token = secrets.token_urlsafe(32)
    async with store.writing() as session:
        user = await _user(session, user_id)
        at = now()
        await _void_resets(session, user.id, at)
        expires = at + timedelta(seconds=lifetime_seconds)
        session.add(PasswordReset(user_id=user.id, token_hash=_digest(token), created_at=at, expires_at=expires))
        record(session, by, AuditKind.USER_PASSWORD_RESET, at=at, subject=user.name, changes={"valid_until": expires})
        return account_of(user), token


async def _void_resets(session: AsyncSession, user_id: int, at: datetime) -> None:
    """The user's links that still work stop working now."""
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None), PasswordReset.expires_at > at)
        .values(expires_at=at)
    )


async def reset_account(store: Store, token: str) -> Account | None:
    """The user a reset link is for, while it is unused, unexpired, and they are neither disabled nor deleted."""
    async with store.reading() as session:
        found = await session.scalar(
            select(User)
            .join(PasswordReset, PasswordReset.user_id == User.id)
            .where(
                PasswordReset.token_hash == _digest(token),
                PasswordReset.used_at.is_(None),
                PasswordReset.expires_at > now(),
                User.disabled_at.is_(None),
            )
        )
    return account_of(found) if found is not None else None


async def use_reset(store: Store, token: str, password: str) -> tuple[Account, list[int]]:
    """Set the password the user chose through their link (ticker.passwords checks it first) and spend the link,
    in one transaction: their old password no longer works and their desk sessions end. Returns the ended
    sessions' ids."""
    password_hash = await hash_password(password)  # before the transaction: hashing takes a while
    async with store.writing() as session:
        at = now()
        reset = await session.scalar(
            select(PasswordReset)
            .where(
                PasswordReset.token_hash == _digest(token),
                PasswordReset.used_at.is_(None),
                PasswordReset.expires_at > at,
            )
            .with_for_update()
        )
        user = None if reset is None else await session.scalar(select(User).where(User.id == reset.user_id))
        if reset is None or user is None or user.disabled_at is not None:
            raise Refused.not_found("reset link")
        reset.used_at = at
        user.password_hash = password_hash
        ended = await end_sessions(session, user.id)
        account = account_of(user)
        facts = {"how": "reset link"}
        record(session, Actor.of(account), AuditKind.USER_PASSWORD_CHANGED, at=at, subject=user.name, changes=facts)
    return account, ended
