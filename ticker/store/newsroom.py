"""The newsroom's own tables: login sessions, failed logins, contributors' submissions and entry history.

None of these is public: no event carries them. Their views and read queries live here too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from ticker.errors import Refused
from ticker.events import isoformat
from ticker.store.sql import Store
from ticker.store.tables import Base, Entry, Incident, UTCDateTime


class LoginSession(Base):
    """A browser's login: the cookie holds a random token, the table its SHA-256 digest."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """Wrong passwords in a row for one login name (known or not); cleared by a successful login."""

    __tablename__ = "login_failures"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Submission(Base):
    """A contributor's post waiting for an editor. Approval turns it into an entry (and its entry.posted)."""

    __tablename__ = "submissions"
    __table_args__ = (Index("ix_submissions_incident_id_status", "incident_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(16))
    key_event: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10))  # pending, approved, rejected
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"))
    photos: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # the entry's photos once approved


class EntryRevision(Base):
    """One change to an entry: who did what, when, and the entry as it stood afterwards."""

    __tablename__ = "entry_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # submitted, approved, posted, edited, retracted, pinned…
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user_name: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(16))
    key_event: Mapped[bool] = mapped_column(Boolean)
    correction: Mapped[str | None] = mapped_column(Text)


def submission_view(submission: Submission, slug: str) -> dict[str, Any]:
    return {
        "id": submission.id,
        "incident": slug,
        "author": submission.author_name,
        "body": submission.body,
        "label": submission.label,
        "key_event": submission.key_event,
        "created_at": isoformat(submission.created_at),
        "status": submission.status,
        "decided_by": submission.decided_by,
        "decided_at": isoformat(submission.decided_at) if submission.decided_at else None,
        "reason": submission.reason,
        "entry_id": submission.entry_id,
        "photos": submission.photos or [],
    }


def revision_view(revision: EntryRevision) -> dict[str, Any]:
    return {
        "action": revision.action,
        "by": revision.user_name,
        "at": isoformat(revision.at),
        "body": revision.body,
        "label": revision.label,
        "key_event": revision.key_event,
        "correction": revision.correction,
    }


async def submissions(store: Store, incident: Incident, *, author_id: int | None = None) -> list[dict[str, Any]]:
    """Pending submissions, oldest first; with ``author_id``, that contributor's own, decided ones too."""
    query = select(Submission).where(Submission.incident_id == incident.id).order_by(Submission.id)
    if author_id is None:
        query = query.where(Submission.status == "pending")
    else:
        query = query.where(Submission.author_id == author_id)
    async with store.reading() as session:
        return [submission_view(s, incident.slug) for s in await session.scalars(query)]


async def history(store: Store, incident: Incident, entry_id: int) -> list[dict[str, Any]]:
    """An entry's revisions, oldest first."""
    async with store.reading() as session:
        entry = await session.scalar(select(Entry.id).where(Entry.id == entry_id, Entry.incident_id == incident.id))
        if entry is None:
            raise Refused.not_found("entry")
        query = select(EntryRevision).where(EntryRevision.entry_id == entry_id).order_by(EntryRevision.id)
        return [revision_view(r) for r in await session.scalars(query)]


async def entries_by(store: Store, incident: Incident, author_id: int) -> list[int]:
    """The ids of one author's entries in an incident (the desk offers edit buttons on these)."""
    query = select(Entry.id).where(Entry.incident_id == incident.id, Entry.author_id == author_id)
    async with store.reading() as session:
        return list(await session.scalars(query))
