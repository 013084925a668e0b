"""The store: engines, the write transaction that appends events, and the read queries."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Table, and_, bindparam, delete, event, func, insert, inspect, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import greenlet_spawn

from ticker.errors import Refused
from ticker.events import EventType, Message, encode
from ticker.store.audit import AUDIT, SYSTEM, Actor, AuditKind, created, record, row_values
from ticker.store.sqlite_inline import begin_immediate, inline_url
from ticker.store.tables import Entry, Event, IdempotencyKey, Incident
from ticker.store.tombstone import DELETED, standing
from ticker.store.views import entry_view, incident_view

LOCK_TIMEOUT_SECONDS = 30  # how long a SQLite write waits for another process's write lock
PING_AFTER_IDLE_SECONDS = 5.0  # a PostgreSQL connection idle this long is checked before use
T = TypeVar("T")


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Idempotency:
    """A client's Idempotency-Key, scoped to its user, and a fingerprint of the request it came with."""

    user_id: int
    key: str
    fingerprint: str


# What the audit log's diff of an entry or incident compares (ticker.store.audit): what readers and editors see.
EVENTS = cast(Table, Event.__table__)
IDEMPOTENCY_KEYS = cast(Table, IdempotencyKey.__table__)

# The statements of every write, built once: a statement built per call costs its construction and its cache key
# (SQLAlchemy memoises the key on the statement object) before the compiled form is found in the cache.
EVENT_COLUMNS = tuple(c.key for c in EVENTS.columns if c.key not in ("id", "published_at"))  # what emit writes
AUDIT_COLUMNS = tuple(c.key for c in AUDIT.columns if c.key != "id")  # every one row_values gives
LOCK_INCIDENT = select(Incident).where(Incident.slug == bindparam("slug")).with_for_update()
INSERT_EVENT = insert(EVENTS)
INSERT_AUDIT = insert(AUDIT)
# PostgreSQL: an event's row and its audit row in one statement (one round trip). It runs a data-modifying WITH
# whether or not the statement reads it.
INSERT_EVENT_AND_AUDIT = (
    insert(AUDIT)
    .values({name: bindparam(f"audit_{name}", type_=AUDIT.c[name].type) for name in AUDIT_COLUMNS})
    .add_cte(
        insert(EVENTS)
        .values({name: bindparam(f"event_{name}", type_=EVENTS.c[name].type) for name in EVENT_COLUMNS})
        .cte()
    )
)
INCIDENTS = cast(Table, Incident.__table__)
BUMP_INCIDENT = (
    update(INCIDENTS)
    .where(INCIDENTS.c.id == bindparam("bump_id"))
    .values(seq=bindparam("bump_seq"), updated_at=bindparam("bump_updated_at", type_=INCIDENTS.c.updated_at.type))
)
BUMP_AND_INSERT_EVENT_AND_AUDIT = INSERT_EVENT_AND_AUDIT.add_cte(BUMP_INCIDENT.cte())
INSERT_IDEMPOTENCY_KEY = insert(IDEMPOTENCY_KEYS)
FIND_IDEMPOTENCY_KEY = select(IdempotencyKey).where(
    IdempotencyKey.user_id == bindparam("user_id"), IdempotencyKey.key == bindparam("key")
)
ENTRY_AUDITED = ("author_name", "body", "label", "key_event", "pinned", "retracted", "correction", "photos")
INCIDENT_AUDITED = ("title", "summary", "category", "location", "photo_url", "photo_credit", "photo", "status")


@dataclass
class Tx:
    """One write transaction. Every change to an incident goes through ``emit``, which takes the next seq and
    records the change in the audit log, as ``actor``'s, in the same transaction."""

    session: AsyncSession
    at: datetime
    actor: Actor = SYSTEM
    batched: bool = False  # PostgreSQL: an event's row and its audit row go in one statement (one round trip)
    messages: list[Message] = field(default_factory=list)

    def audit(
        self,
        kind: AuditKind,
        *,
        incident: str | None = None,
        subject: str | int | None = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        """Record a change that is not an event (a contributor's submission, its rejection) in this transaction."""
        record(self.session, self.actor, kind, at=self.at, incident=incident, subject=subject, changes=changes)

    async def incident(self, slug: str) -> Incident:
        """The incident, locked for this transaction (its seq is ours to advance); 410 for a deleted one."""
        return standing(await self.session.scalar(LOCK_INCIDENT, {"slug": slug}))

    async def entry(self, incident: Incident, entry_id: int) -> Entry:
        found = await self.session.scalar(select(Entry).where(Entry.id == entry_id, Entry.incident_id == incident.id))
        if found is None:
            raise Refused.not_found("entry")
        return found

    async def emit(self, incident: Incident, event_type: str, data: dict[str, Any]) -> int:
        """Append the event, and its audit row: what changed on the entry (``data["entry"]``) or the incident
        since it was read in this transaction. Make the change, then emit (a flush between the two would leave
        the diff empty)."""
        kind, subject, changes = self._audited(incident, event_type, data)
        seq = incident.seq + 1
        message = encode(incident.slug, seq, event_type, self.at, data)
        event_row = {
            "incident_id": incident.id,
            "topic": incident.slug,
            "seq": seq,
            "type": event_type,
            "payload": message.payload,
            "committed_at": self.at,
        }
        audit_row = row_values(
            self.actor, kind, self.at, incident=incident.slug, seq=seq, subject=subject, changes=changes
        )
        rows = {f"event_{k}": v for k, v in event_row.items()} | {f"audit_{k}": v for k, v in audit_row.items()}
        if self._only_seq_to_write(incident):  # a post: its entry is in already, only the seq to take
            bump = {"bump_id": incident.id, "bump_seq": seq, "bump_updated_at": self.at}
            with self.session.no_autoflush:  # an incident's time set by the op is written below, not by a flush
                if self.batched:  # one statement, one round trip
                    await self.session.execute(BUMP_AND_INSERT_EVENT_AND_AUDIT, rows | bump)
                else:  # SQLite is in-process: more statements cost no round trip
                    await self.session.execute(BUMP_INCIDENT, bump)
                    await self.session.execute(INSERT_EVENT, event_row)
                    await self.session.execute(INSERT_AUDIT, audit_row)
            # Written: set as loaded, not as changed, so that the session stays clean and its later autoflushes and
            # the commit's flush have nothing to look at (a changed attribute costs them a unit of work each).
            set_committed_value(incident, "seq", seq)
            set_committed_value(incident, "updated_at", self.at)
        else:
            incident.seq = seq
            incident.updated_at = self.at
            await self.session.flush()  # the incident's seq and whatever else changed (an entry's edit)
            if self.batched:
                await self.session.execute(INSERT_EVENT_AND_AUDIT, rows)
            else:
                await self.session.execute(INSERT_EVENT, event_row)
                await self.session.execute(INSERT_AUDIT, audit_row)
        self.messages.append(message)
        return seq

    def _only_seq_to_write(self, incident: Incident) -> bool:
        """Whether the incident's seq and time are all this transaction has left to write (the ORM's flush, which
        would find that out, costs a post more than the statement)."""
        session = self.session
        if session.new or session.deleted or any(other is not incident for other in session.dirty):
            return False
        return set(inspect(incident).committed_state) <= {"seq", "updated_at"}

    def _audited(
        self, incident: Incident, event_type: str, data: dict[str, Any]
    ) -> tuple[str, int | None, dict[str, Any]]:
        """The audit row's kind, subject (an entry's id) and diff for an event about to be emitted."""
        if isinstance(data.get("entry"), dict):
            entry_id = data["entry"]["id"]
            entry = self.session.identity_map.get(identity_key(Entry, entry_id))
            if entry is None:
                return event_type, entry_id, {}
            if event_type == EventType.ENTRY_POSTED:
                return event_type, entry_id, created({f: getattr(entry, f) for f in ENTRY_AUDITED})
            return event_type, entry_id, _changed(entry, ENTRY_AUDITED)
        if incident.seq == 0:  # its first event: the incident has just been opened
            return AuditKind.INCIDENT_OPENED, None, created({f: getattr(incident, f) for f in INCIDENT_AUDITED})
        return event_type, None, _changed(incident, INCIDENT_AUDITED)


WriteOp = Callable[[Tx], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Pending:
    """An event in the outbox: its row, its message and when it was committed."""

    row: int
    message: Message
    at: datetime


@dataclass(frozen=True)
class WriteResult:
    status: int
    body: dict[str, Any]
    messages: Sequence[Message]  # empty when the result was replayed from an idempotency key


class Store:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            # One writer connection (BEGIN IMMEDIATE), readers beside it in WAL mode.
            self.write_engine = _sqlite_engine(url, writer=True, echo=echo)
            self.read_engine = _sqlite_engine(url, writer=False, echo=echo)
        else:
            self.write_engine = create_async_engine(url, echo=echo, pool_size=10, max_overflow=10)
            _ping_after_idle(self.write_engine)
            # Reads from the same pool without BEGIN and ROLLBACK: two round trips fewer for a one-statement read.
            # READ COMMITTED gives each statement its own snapshot inside a transaction too; a read that needs one
            # view across statements asks for REPEATABLE READ on its connection (ticker.store.transfer).
            self.read_engine = self.write_engine.execution_options(isolation_level="AUTOCOMMIT")
        self.write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self.read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self.replays = 0  # writes answered from their idempotency key's stored result (/metrics)

    async def close(self) -> None:
        await self.write_engine.dispose()
        if self.is_sqlite:  # PostgreSQL's read engine is the write engine's pool with other options
            await self.read_engine.dispose()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        async with self.read_sessions() as session:
            yield session

    async def read_sync(self, read: Callable[[Connection], T]) -> T:
        """``read`` on a read connection, checkout to return in one greenlet: for a hot read of a statement or two,
        where an ORM session, and a greenlet per call of an async connection, cost more than the query."""
        return await greenlet_spawn(_on_connection, self.read_engine.sync_engine, read)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A plain write transaction, for changes that are not incident events (accounts, tokens)."""
        async with self.write_sessions() as session, session.begin():
            yield session

    async def write(
        self, op: WriteOp, *, actor: Actor = SYSTEM, status: int = 200, idem: Idempotency | None = None
    ) -> WriteResult:
        """Run ``op`` in one transaction with the events it emits and their audit rows (``actor``'s: pass the
        person's, ``Actor.of(account)``); replay the stored result for a known key."""
        try:
            async with self.write_sessions() as session, session.begin():
                if idem is not None:
                    replay = await _replay(session, idem)
                    if replay is not None:
                        self.replays += 1
                        return replay
                tx = Tx(session, now(), actor, batched=not self.is_sqlite)
                body = await op(tx)
                if idem is not None:
                    stored = {"status": status, "response": json.dumps(body).encode(), "created_at": tx.at}
                    key = {"user_id": idem.user_id, "key": idem.key, "fingerprint": idem.fingerprint}
                    await session.execute(INSERT_IDEMPOTENCY_KEY, key | stored)
            return WriteResult(status, body, tx.messages)
        except IntegrityError:
            if idem is None:
                raise
            # A concurrent request with the same key won the race: answer with its result.
            async with self.reading() as session:
                replay = await _replay(session, idem)
            if replay is None:
                raise
            self.replays += 1
            return replay

    async def replayed(self, idem: Idempotency) -> WriteResult | None:
        """The stored result for a key already used, looked up before work that must not be done twice (a link
        card's fetch); ``write`` still decides, in its transaction."""
        async with self.reading() as session:
            replay = await _replay(session, idem)
        if replay is not None:
            self.replays += 1  # answered from the key here: write() is not called for it
        return replay

    # Reads.

    async def incident(self, slug: str) -> Incident:
        async with self.reading() as session:
            return standing(await session.scalar(select(Incident).where(Incident.slug == slug)))

    async def incidents(self, status: str | None = None, limit: int = 100) -> list[Incident]:
        """Incidents, the latest activity first; never a deleted one (ticker.store.tombstone)."""
        query = select(Incident).where(Incident.status != DELETED).order_by(Incident.updated_at.desc()).limit(limit)
        if status is not None:
            query = query.where(Incident.status == status)
        async with self.reading() as session:
            return list(await session.scalars(query))

    async def slugs_starting(self, prefix: str) -> set[str]:
        async with self.reading() as session:
            return set(await session.scalars(select(Incident.slug).where(Incident.slug.startswith(prefix))))

    async def entries(self, incident: Incident, *, before: int | None = None, limit: int = 50) -> list[Entry]:
        """Entries newest first; ``before`` is the id cursor of the last entry already shown."""
        query = select(Entry).where(Entry.incident_id == incident.id).order_by(Entry.id.desc()).limit(limit)
        if before is not None:
            query = query.where(Entry.id < before)
        async with self.reading() as session:
            return list(await session.scalars(query))

    async def snapshot(self, slug: str, limit: int | None = None) -> dict[str, Any]:
        """The incident and its entries (newest first), consistent with ``seq``."""
        async with self.reading() as session, session.begin():
            incident = standing(await session.scalar(select(Incident).where(Incident.slug == slug)))
            query = select(Entry).where(Entry.incident_id == incident.id).order_by(Entry.id.desc())
            if limit is not None:
                query = query.limit(limit)
            entries = list(await session.scalars(query))
        return {
            "incident": incident_view(incident),
            "seq": incident.seq,
            "entries": [entry_view(e, slug) for e in entries],
        }

    async def position(self, slug: str) -> tuple[int, str]:
        """The incident's current seq and epoch (404 for none, 410 for a deleted one)."""
        query = select(Incident.seq, Incident.epoch, Incident.status).where(Incident.slug == slug)
        async with self.reading() as session:
            row = (await session.execute(query)).first()
        if row is None:
            raise Refused.not_found("incident")
        if row[2] == DELETED:
            raise Refused.gone("incident")
        return row[0], row[1]

    async def events_after(self, slug: str, after: int, upto: int | None = None) -> list[Message]:
        query = select(Event.seq, Event.payload).where(Event.topic == slug, Event.seq > after).order_by(Event.seq)
        if upto is not None:
            query = query.where(Event.seq <= upto)
        async with self.reading() as session:
            rows = (await session.execute(query)).all()
        return [Message(slug, seq, payload) for seq, payload in rows]

    # The outbox.

    async def unpublished(self, limit: int) -> list[tuple[int, Message]]:
        """Committed events not yet in the broker, oldest first per incident, with their row ids."""
        return [(pending.row, pending.message) for pending in await self.outbox(limit)]

    async def outbox(self, limit: int) -> list[Pending]:
        """``unpublished``, with when each event was committed (the relay measures its latency from there)."""
        query = (
            select(Event.id, Event.topic, Event.seq, Event.payload, Event.committed_at)
            .where(Event.published_at.is_(None))
            .order_by(Event.incident_id, Event.seq)
            .limit(limit)
        )
        async with self.reading() as session:
            rows = (await session.execute(query)).all()
        return [Pending(row_id, Message(topic, seq, payload), at) for row_id, topic, seq, payload, at in rows]

    async def oldest_unpublished_at(self) -> datetime | None:
        """When the oldest event not yet in the broker was committed (the relay's lag), or None."""
        async with self.reading() as session:
            found: datetime | None = await session.scalar(
                select(func.min(Event.committed_at)).where(Event.published_at.is_(None))
            )
        if found is not None and found.tzinfo is None:  # an aggregate skips UTCDateTime's conversion on SQLite
            found = found.replace(tzinfo=UTC)
        return found

    async def mark_published(self, ids: Sequence[int]) -> int:
        """Mark the events published; returns how many were still there (a deleted incident's are not)."""
        async with self.writing() as session:
            result = await session.execute(update(EVENTS).where(EVENTS.c.id.in_(ids)).values(published_at=now()))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def mark_published_seqs(self, seqs: Mapping[str, tuple[int, int]]) -> int:
        """Mark published, per incident, the events from seq low to high; returns how many were still there."""
        ranges = [and_(EVENTS.c.topic == topic, EVENTS.c.seq.between(low, high)) for topic, (low, high) in seqs.items()]
        async with self.writing() as session:
            result = await session.execute(update(EVENTS).where(or_(*ranges)).values(published_at=now()))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def expire_idempotency_keys(self, ttl_seconds: int) -> int:
        async with self.writing() as session:
            result = await session.execute(
                delete(IdempotencyKey).where(IdempotencyKey.created_at < now() - timedelta(seconds=ttl_seconds))
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def count_events(self, slug: str) -> int:
        async with self.reading() as session:
            return int(await session.scalar(select(func.count()).where(Event.topic == slug)) or 0)


def _on_connection(engine: Engine, read: Callable[[Connection], T]) -> T:
    with engine.connect() as connection:
        return read(connection)


def _changed(row: object, fields: tuple[str, ...]) -> dict[str, Any]:
    """``{"field": [before, after]}`` for the fields changed on ``row`` since it was read (unflushed changes)."""
    attributes = inspect(row).attrs
    changes: dict[str, Any] = {}
    for name in fields:
        history = attributes[name].history
        if history.deleted and history.added and history.deleted[0] != history.added[0]:
            changes[name] = [history.deleted[0], history.added[0]]
    return changes


async def _replay(session: AsyncSession, idem: Idempotency) -> WriteResult | None:
    stored = await session.scalar(FIND_IDEMPOTENCY_KEY, {"user_id": idem.user_id, "key": idem.key})
    if stored is None:
        return None
    if stored.fingerprint != idem.fingerprint:
        raise Refused.invalid("Idempotency-Key", "this key was used for a different request")
    return WriteResult(stored.status, json.loads(stored.response), ())


def _ping_after_idle(engine: AsyncEngine) -> None:
    """Check a pooled connection before use when it has been idle PING_AFTER_IDLE_SECONDS (a database restarted
    or a proxy that closed it meanwhile): the pool replaces one that fails. SQLAlchemy's pool_pre_ping did this on
    every checkout, three round trips each (BEGIN, a ping, ROLLBACK): most of a post's on PostgreSQL. A connection
    that breaks while in use fails its statement either way, and the pool then renews every connection older."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError("the connection failed its ping after being idle") from exc


def _sqlite_engine(url: str, *, writer: bool, echo: bool) -> AsyncEngine:
    """The writer and the readers run on the loop's thread (ticker.store.sqlite_inline): one writer connection,
    readers beside it (WAL)."""
    engine = create_async_engine(
        inline_url(url),
        echo=echo,
        pool_size=1 if writer else 5,
        max_overflow=0 if writer else 5,
        connect_args={"timeout": LOCK_TIMEOUT_SECONDS},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # The writer never waits in SQLite's busy handler: it would hold the loop (begin_immediate waits instead).
        cursor.execute(f"PRAGMA busy_timeout={0 if writer else LOCK_TIMEOUT_SECONDS * 1000}")
        cursor.close()
        # SQLite's own lower() knows ASCII only, so "ÄLVSJÖ" would not find "Älvsjö" (ilike compiles to lower()
        # on both sides). Python's knows Unicode, as PostgreSQL's does.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if writer:
            begin_immediate(connection, LOCK_TIMEOUT_SECONDS)
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


def _lower(text: str | None) -> str | None:
    return text.lower() if isinstance(text, str) else text
