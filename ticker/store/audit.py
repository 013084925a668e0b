"""The audit log: who changed what and when, with a compact JSON diff of what changed.

Every row is written in the transaction of the change it records, so a change and its row commit or roll back
together. Changes to incidents and entries are recorded by ``Tx.emit`` itself (ticker.store.sql), the only way
to take a seq, so no write path can leave its row out; everything else (logins, tokens, users, partners, an
incident's deletion) calls ``record`` with the session of its change, or ``write`` for one of its own.

A row names its actor by id *and* by name as it was then: a user who is later deleted (their row stays, renamed,
ticker.store.admin) or a login name that never existed still reads as it did. Work done from the command line
without a person's account is recorded as ``cli:<the system user>``; work done by the node itself (the demo, a
migration) as ``system``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import Index, Integer, String, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import Select

from ticker.events import isoformat
from ticker.store.tables import Base, UTCDateTime

if TYPE_CHECKING:
    from ticker.store.sql import Store


class AuditKind(StrEnum):
    """What a row records. Entry and incident kinds are their events' types (``incident.opened`` is the first
    ``incident.updated`` of an incident)."""

    ENTRY_POSTED = "entry.posted"
    ENTRY_EDITED = "entry.edited"
    ENTRY_RETRACTED = "entry.retracted"
    ENTRY_PINNED = "entry.pinned"
    ENTRY_UNPINNED = "entry.unpinned"
    SUBMISSION_SUBMITTED = "submission.submitted"
    SUBMISSION_REJECTED = "submission.rejected"
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_UPDATED = "incident.updated"
    INCIDENT_CLOSED = "incident.closed"
    INCIDENT_REOPENED = "incident.reopened"
    INCIDENT_DELETED = "incident.deleted"
    INCIDENT_IMPORTED = "incident.imported"  # ticker.store.transfer: its rows and events as a file gave them
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    TOKEN_CREATED = "token.created"
    TOKEN_REVOKED = "token.revoked"
    USER_ADDED = "user.added"
    USER_ROLE_CHANGED = "user.role_changed"
    USER_DISABLED = "user.disabled"
    USER_ENABLED = "user.enabled"
    USER_DELETED = "user.deleted"
    USER_PASSWORD_CHANGED = "user.password_changed"
    USER_PASSWORD_RESET = "user.password_reset"  # a one-time link was made
    PARTNER_ADDED = "partner.added"
    PARTNER_CHANGED = "partner.changed"
    PARTNER_REMOVED = "partner.removed"


class Person(Protocol):
    """What an actor is made from: ticker.store.accounts.Account (its ``name`` is the login name)."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class Actor:
    """Who made a change: a user's id and login name, or no id and what acted (``system``, ``cli:<user>``)."""

    id: int | None
    name: str

    @classmethod
    def of(cls, person: Person) -> Actor:
        return cls(person.id, person.name)


SYSTEM = Actor(None, "system")
NAME_CHARS = 120  # an actor's name as stored (a failed login's typed name is cut to this)
SUBJECT_CHARS = 200


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_actor_name_id", "actor_name", "id"),
        Index("ix_audit_log_incident_id", "incident", "id"),
        Index("ix_audit_log_kind_id", "kind", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: the log outlives what it names
    actor_name: Mapped[str] = mapped_column(String(NAME_CHARS))
    kind: Mapped[str] = mapped_column(String(32))
    incident: Mapped[str | None] = mapped_column(String(80))  # the slug (an incident may be deleted)
    seq: Mapped[int | None] = mapped_column(Integer)  # the incident event's seq, for entry and incident kinds
    subject: Mapped[str | None] = mapped_column(String(SUBJECT_CHARS))  # entry id, user or partner name, token id
    changes: Mapped[str] = mapped_column(Text)  # compact JSON: {"field": [before, after]} or facts, see diff()


AUDIT = cast(Table, AuditRow.__table__)


def compact(changes: Mapping[str, Any]) -> str:
    return json.dumps(changes, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    return str(value)


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{"field": [before, after]}`` for each field whose value differs (a missing field counts as None)."""
    return {k: [before.get(k), after.get(k)] for k in sorted({*before, *after}) if before.get(k) != after.get(k)}


def created(fields: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The diff of something new: its fields that hold a value, each as ``[null, value]``."""
    return {k: [None, v] for k, v in fields.items() if v not in (None, "", False)}


def row_values(
    actor: Actor,
    kind: str,
    at: datetime,
    *,
    incident: str | None = None,
    seq: int | None = None,
    subject: str | int | None = None,
    changes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of one row (for an INSERT that ticker.store.sql batches with its event's)."""
    return {
        "at": at,
        "actor_id": actor.id,
        "actor_name": actor.name[:NAME_CHARS],
        "kind": str(kind),
        "incident": incident,
        "seq": seq,
        "subject": None if subject is None else str(subject)[:SUBJECT_CHARS],
        "changes": compact(changes or {}),
    }


def record(
    session: AsyncSession,
    actor: Actor,
    kind: AuditKind,
    *,
    at: datetime | None = None,
    incident: str | None = None,
    subject: str | int | None = None,
    changes: Mapping[str, Any] | None = None,
) -> None:
    """Add a row to ``session``'s transaction: it commits with the change it records, or not at all."""
    when = at or datetime.now(UTC)
    session.add(AuditRow(**row_values(actor, kind, when, incident=incident, subject=subject, changes=changes)))


async def write(
    store: Store,
    actor: Actor,
    kind: AuditKind,
    *,
    incident: str | None = None,
    subject: str | int | None = None,
    changes: Mapping[str, Any] | None = None,
) -> None:
    """A row in a transaction of its own, for an event that changes nothing else (a failed login)."""
    async with store.writing() as session:
        record(session, actor, kind, incident=incident, subject=subject, changes=changes)


# Reading.


@dataclass(frozen=True)
class Filter:
    """Which rows: by the actor's name, the incident's slug, and the kind (``entry`` means every ``entry.*``)."""

    actor: str | None = None
    incident: str | None = None
    kind: str | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.actor:
            query = query.where(AuditRow.actor_name == self.actor)
        if self.incident:
            query = query.where(AuditRow.incident == self.incident)
        if self.kind:
            kinds = [k.value for k in AuditKind if k.value == self.kind or k.value.startswith(self.kind + ".")]
            query = query.where(AuditRow.kind.in_(kinds or [self.kind]))
        return query


def row_view(row: AuditRow) -> dict[str, Any]:
    """A row as the desk shows it and the export writes it."""
    return {
        "id": row.id,
        "at": isoformat(row.at),
        "actor": row.actor_name,
        "actor_id": row.actor_id,
        "kind": row.kind,
        "incident": row.incident,
        "seq": row.seq,
        "subject": row.subject,
        "changes": json.loads(row.changes),
    }


async def page(store: Store, where: Filter, *, before: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Rows newest first; ``before`` is the id of the last row already shown."""
    query = where.apply(select(AuditRow)).order_by(AuditRow.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditRow.id < before)
    async with store.reading() as session:
        return [row_view(r) for r in await session.scalars(query)]


async def every(store: Store, where: Filter, *, batch: int = 500) -> AsyncIterator[dict[str, Any]]:
    """Every row, oldest first, read in batches (an export of a long log holds one batch at a time)."""
    after = 0
    while True:
        query = where.apply(select(AuditRow)).where(AuditRow.id > after).order_by(AuditRow.id).limit(batch)
        async with store.reading() as session:
            rows = [row_view(r) for r in await session.scalars(query)]
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        after = rows[-1]["id"]


CSV_COLUMNS = ("id", "at", "actor", "actor_id", "kind", "incident", "seq", "subject", "changes")


def csv_cells(row: Mapping[str, Any]) -> list[str]:
    """A row's cells for CSV (its changes as compact JSON); a cell that a spreadsheet would run as a formula
    is kept as text with a leading apostrophe."""
    cells = []
    for name in CSV_COLUMNS:
        value = row[name]
        text = compact(value) if name == "changes" else "" if value is None else str(value)
        cells.append("'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text)
    return cells


def csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


async def export_lines(rows: AsyncIterator[dict[str, Any]], kind: str) -> AsyncIterator[str]:
    """An export's lines (the desk's download, ``ticker audit export``): ``csv`` with a header row, or ``jsonl``,
    one JSON object per row."""
    if kind == "csv":
        yield csv_line(list(CSV_COLUMNS))
        async for row in rows:
            yield csv_line(csv_cells(row))
    else:
        async for row in rows:
            yield json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def kind_choices() -> list[str]:
    """What the ``kind`` filter takes: a kind, or the part before its dot for all of them (``entry``)."""
    kinds = [k.value for k in AuditKind]
    return sorted({k.split(".")[0] for k in kinds}) + kinds
