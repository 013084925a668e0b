"""Newsroom logins: sessions behind a cookie, and slowing down wrong passwords given again and again."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from ticker.store.accounts import Account, account_of
from ticker.store.audit import Actor, AuditKind, record
from ticker.store.newsroom import LoginFailure, LoginSession
from ticker.store.sql import Store, now
from ticker.store.tables import User

FAILURES_KEPT = timedelta(days=1)  # a name's failed logins are forgotten a day after the last one


@dataclass(frozen=True)
class Login:
    """A browser's session: who it is, the CSRF token its pages carry, and when it ends."""

    id: int
    account: Account
    csrf_token: str
    expires_at: datetime

    @property
    def expired(self) -> bool:
        return self.expires_at <= now()


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def start_session(store: Store, account: Account, lifetime_seconds: int) -> tuple[str, Login]:
    """A new session; returns the cookie's token (stored only as a digest) and the session."""
    token = secrets.token_urlsafe(32)
    at = now()
    row = LoginSession(
        token_hash=_digest(token),
        user_id=account.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=at,
        expires_at=at + timedelta(seconds=lifetime_seconds),
    )
    async with store.writing() as session:
        # Sessions that have ended or expired are of no further use.
        await session.execute(
            delete(LoginSession).where(LoginSession.user_id == account.id, LoginSession.expires_at < at)
        )
        session.add(row)
        await session.flush()
        record(session, Actor.of(account), AuditKind.LOGIN_SUCCEEDED, at=at, subject=account.name)
    return token, Login(row.id, account, row.csrf_token, row.expires_at)


async def find_session(store: Store, token: str) -> Login | None:
    """The session for a cookie's token, expired or not; None when unknown or logged out."""
    async with store.reading() as session:
        row = (
            await session.execute(
                select(LoginSession, User)
                .join(User, User.id == LoginSession.user_id)
                .where(
                    LoginSession.token_hash == _digest(token),
                    LoginSession.ended_at.is_(None),
                    User.disabled_at.is_(None),  # disabling ends the sessions too; this covers a race with it
                )
            )
        ).first()
    if row is None:
        return None
    login, user = row
    return Login(login.id, account_of(user), login.csrf_token, login.expires_at)


async def end_session(store: Store, login_id: int) -> None:
    async with store.writing() as session:
        await session.execute(update(LoginSession).where(LoginSession.id == login_id).values(ended_at=now()))


# Wrong passwords.


def failure_key(name: str) -> str:
    return name.strip().lower()[:64]


async def wait_seconds(store: Store, name: str, max_failures: int, lockout_seconds: int) -> int:
    """How long logins for this name must wait now: 0, or the rest of the lockout after a run of failures."""
    async with store.reading() as session:
        found = await session.scalar(select(LoginFailure).where(LoginFailure.name == failure_key(name)))
    if found is None or found.failures < max_failures:
        return 0
    left = found.last_failed_at + timedelta(seconds=lockout_seconds) - now()
    return max(0, int(left.total_seconds() + 0.999))


async def record_failure(store: Store, name: str, reason: str = "wrong_password") -> int:
    """Count one more refused login for this name (and log it for the audit, by the name as typed); returns how
    many in a row there now are."""
    key, at = failure_key(name), now()
    async with store.writing() as session:
        await session.execute(delete(LoginFailure).where(LoginFailure.last_failed_at < at - FAILURES_KEPT))
        found = await session.scalar(select(LoginFailure).where(LoginFailure.name == key))
        if found is None:
            found = LoginFailure(name=key, failures=0, last_failed_at=at)
            session.add(found)
        found.failures += 1
        found.last_failed_at = at
        facts = {"reason": reason, "in_a_row": found.failures}
        record(session, Actor(None, name), AuditKind.LOGIN_FAILED, at=at, subject=key, changes=facts)
        return found.failures


async def clear_failures(store: Store, name: str) -> None:
    async with store.writing() as session:
        await session.execute(delete(LoginFailure).where(LoginFailure.name == failure_key(name)))
