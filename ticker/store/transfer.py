"""One incident out of the store and back in: the rows an export reads, and an import writes, in one
transaction each (the file itself: ticker.http.incident_file).

An export reads one consistent view (PostgreSQL: REPEATABLE READ; SQLite's read transaction is one already), so
its events reach exactly the incident's seq. An import writes the incident, its entries and their history,
submissions and events as they were (times, seqs, labels, pins, retractions), with a new epoch: a reader who
held the old history resumes with a snapshot. Its events are marked published: the broker starts the incident's
stream afresh with the next event, and a reader behind reads the history from SQL.

Entry ids (the permalinks' numbers) are kept when every one of them is free and this database has handed it out
before (an export deleted and imported back keeps its links); otherwise, into another database say, the entries
get new ids in the same order, and the events and submissions are rewritten to them. Submissions' ids (the desk's
links to them) follow the same rule on their own.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ticker.errors import Refused
from ticker.events import encode, isoformat
from ticker.sanitize import clean_html
from ticker.store.audit import Actor, AuditKind, created, record
from ticker.store.newsroom import EntryRevision, Submission
from ticker.store.sql import Store, now
from ticker.store.tables import Entry, Event, Incident, User
from ticker.store.tombstone import DELETED, standing
from ticker.store.views import withdrawn

if TYPE_CHECKING:
    from ticker.http.incident_file import FileEventData, FilePerson, IncidentFile

BATCH = 1000  # rows read or written at a time, and how often progress is told (TICKER_TRANSFER_BATCH)
Progress = Callable[[str, int, int], None]  # what ("entries", "events"), how many done, of how many


def _quiet(_what: str, _done: int, _total: int) -> None:
    pass


# Export.


async def read_incident(store: Store, slug: str, progress: Progress = _quiet, *, batch: int = BATCH) -> dict[str, Any]:
    """The incident as the file's fields (times as datetimes): ticker.http.incident_file.IncidentFile reads it."""
    async with store.reading() as session, session.begin():
        if not store.is_sqlite:  # one view of the incident from the first query to the last
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        incident = standing(await session.scalar(select(Incident).where(Incident.slug == slug)))
        entries = await _read_entries(session, incident, progress, batch)
        query = select(Submission).where(Submission.incident_id == incident.id).order_by(Submission.id)
        submissions = list(await session.scalars(query))
        revisions: dict[int, list[EntryRevision]] = {e.id: [] for e in entries}
        history = (
            select(EntryRevision)
            .join(Entry, Entry.id == EntryRevision.entry_id)
            .where(Entry.incident_id == incident.id)
            .order_by(EntryRevision.id)
        )
        for revision in await session.scalars(history):
            revisions[revision.entry_id].append(revision)
        user_ids = {e.author_id for e in entries} | {s.author_id for s in submissions}
        user_ids |= {r.user_id for found in revisions.values() for r in found}
        logins = dict((await session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))).all())
        events = await _read_events(session, incident, progress, batch)
    return {
        "ticker_incident": 1,
        "exported_at": now(),
        "incident": {
            "slug": incident.slug,
            "title": incident.title,
            "summary": incident.summary,
            "status": incident.status,
            "category": incident.category,
            "location": incident.location,
            "photo_url": incident.photo_url,
            "photo_credit": incident.photo_credit,
            "photo": incident.photo,
            "epoch": incident.epoch,
            "seq": incident.seq,
            "created_at": incident.created_at,
            "updated_at": incident.updated_at,
            "closed_at": incident.closed_at,
        },
        "media": _media(incident, entries),
        "entries": [_entry(e, revisions[e.id], logins) for e in entries],
        "submissions": [_submission(s, logins) for s in submissions],
        "events": events,
    }


async def _read_entries(session: AsyncSession, incident: Incident, progress: Progress, batch: int) -> list[Entry]:
    mine = Entry.incident_id == incident.id
    total = int(await session.scalar(select(func.count()).where(mine)) or 0)
    found: list[Entry] = []
    after = 0
    while True:
        query = select(Entry).where(mine, Entry.id > after).order_by(Entry.id).limit(batch)
        rows = list(await session.scalars(query))
        found += rows
        progress("entries", len(found), total)
        if len(rows) < batch:
            return found
        after = rows[-1].id


async def _read_events(
    session: AsyncSession, incident: Incident, progress: Progress, batch: int
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query = select(Event.seq, Event.type, Event.committed_at, Event.payload).where(Event.incident_id == incident.id)
    while True:
        rows = (await session.execute(query.where(Event.seq > len(found)).order_by(Event.seq).limit(batch))).all()
        for seq, kind, at, payload in rows:
            found.append({"seq": seq, "event": kind, "committed_at": at, "data": json.loads(payload)["data"]})
        progress("events", len(found), incident.seq)
        if len(rows) < batch:
            return found


def _media(incident: Incident, entries: list[Entry]) -> list[dict[str, Any]]:
    """What the incident shows but holds elsewhere: its lead photo, its entries' photos, and its link cards'
    pictures on this site (a photo once, by its JPEG for browsers without srcset; its other files beside it)."""
    found = []
    if incident.photo_url:
        found.append({"kind": "lead_photo", "url": incident.photo_url, "credit": incident.photo_credit})
    photos = [incident.photo] if incident.photo else []
    photos += [photo for entry in entries for photo in entry.photos or ()]
    sources = {photo["src"]: photo["credit"] for photo in photos}
    found += [{"kind": "photo", "url": url, "credit": credit} for url, credit in sources.items()]
    pictures = (card.get("thumbnail") for entry in entries for card in entry.cards or ())
    urls = dict.fromkeys(picture["url"] for picture in pictures if picture)
    found += [{"kind": "card_thumbnail", "url": url, "credit": None} for url in urls]
    return found


def _person(user_id: int, name: str, logins: dict[int, str]) -> dict[str, Any]:
    return {"user": logins.get(user_id), "name": name}


def _entry(entry: Entry, revisions: list[EntryRevision], logins: dict[int, str]) -> dict[str, Any]:
    return {
        "id": entry.id,
        "author": _person(entry.author_id, entry.author_name, logins),
        "body": entry.body,
        "label": entry.label,
        "created_at": entry.created_at,
        "edited_at": entry.edited_at,
        "key_event": entry.key_event,
        "pinned": entry.pinned,
        "retracted": entry.retracted,
        "correction": entry.correction,
        "photos": entry.photos,
        "cards": entry.cards,
        "history": [
            {
                "action": r.action,
                "by": _person(r.user_id, r.user_name, logins),
                "at": r.at,
                "body": r.body,
                "label": r.label,
                "key_event": r.key_event,
                "correction": r.correction,
            }
            for r in revisions
        ],
    }


def _submission(submission: Submission, logins: dict[int, str]) -> dict[str, Any]:
    return {
        "id": submission.id,
        "author": _person(submission.author_id, submission.author_name, logins),
        "body": submission.body,
        "label": submission.label,
        "key_event": submission.key_event,
        "created_at": submission.created_at,
        "status": submission.status,
        "decided_by": submission.decided_by,
        "decided_at": submission.decided_at,
        "reason": submission.reason,
        "entry_id": submission.entry_id,
        "photos": submission.photos,
    }


# Import.


@dataclass(frozen=True)
class Imported:
    slug: str
    seq: int
    epoch: str
    entries: int
    events: int
    submissions: int
    entry_ids: str  # "kept" or "new"

    def view(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "seq": self.seq,
            "epoch": self.epoch,
            "entries": self.entries,
            "events": self.events,
            "submissions": self.submissions,
            "entry_ids": self.entry_ids,
        }


async def write_incident(
    store: Store,
    file: IncidentFile,
    *,
    slug: str,
    actor: Actor,
    restore: bool = False,
    stand_in: int | None = None,
    before_commit: Callable[[str], Awaitable[None]] | None = None,
    progress: Progress = _quiet,
    batch: int = BATCH,
) -> Imported:
    """Write a file (checked first: ticker.http.incident_file.check) as the incident ``slug``, in one transaction.

    A slug in use is refused (409): an import never merges into or replaces a standing incident, so sending one
    twice imports it once. A deleted incident's slug is taken only with ``restore`` (an admin's deliberate act,
    ticker.roles). Authors are the accounts of the same login here, or ``stand_in`` (the bylines are kept either
    way). ``before_commit(slug)`` runs last inside the transaction: the node clears the broker's stream there, so
    a failure leaves nothing imported."""
    from ticker.http.incident_file import check

    check(file)
    async with store.writing() as session:
        incident = await session.scalar(select(Incident).where(Incident.slug == slug).with_for_update())
        if incident is not None and incident.status != DELETED:
            raise Refused.conflict(
                f"an incident with slug {slug!r} exists: import under another slug, or not again", "slug"
            )
        if incident is not None and not restore:
            raise Refused.conflict(
                f"{slug!r} was a deleted incident's address: only an admin may import one back there (restore)",
                "slug",
            )
        users = await _authors(session, _people(file), stand_in)
        ids = await _keep_ids(session, Entry, [e.id for e in file.entries], store.is_sqlite)
        submission_ids = await _keep_ids(session, Submission, [s.id for s in file.submissions], store.is_sqlite)
        if incident is None:
            incident = Incident(slug=slug)
            session.add(incident)
        _fill(incident, file, secrets.token_urlsafe(6))
        await session.flush()
        entry_ids = await _write_entries(session, incident, file, users, ids, progress, batch)
        await _write_submissions(session, incident, file, users, entry_ids, submission_ids)
        await _write_events(session, incident, file, entry_ids, progress, batch)
        facts = {"from": file.incident.slug, "entries": len(file.entries), "events": len(file.events)}
        record(session, actor, AuditKind.INCIDENT_IMPORTED, at=now(), incident=slug, changes=created(facts))
        if before_commit is not None:
            await before_commit(slug)
    return Imported(
        slug,
        incident.seq,
        incident.epoch,
        len(file.entries),
        len(file.events),
        len(file.submissions),
        "kept" if ids else "new",
    )


def _people(file: IncidentFile) -> Iterable[FilePerson]:
    for entry in file.entries:
        yield entry.author
        yield from (r.by for r in entry.history)
    yield from (s.author for s in file.submissions)


async def _authors(session: AsyncSession, people: Iterable[FilePerson], stand_in: int | None) -> dict[str | None, int]:
    """login (None: none known) → the account here that takes their rows."""
    logins = {p.user for p in people}
    named = [login for login in logins if login is not None]
    found: dict[str | None, int] = {}
    for start in range(0, len(named), BATCH):
        chunk = named[start : start + BATCH]
        found.update((await session.execute(select(User.name, User.id).where(User.name.in_(chunk)))).all())
    missing = sorted(str(login) for login in logins - set(found))
    if missing and stand_in is None:
        raise Refused.invalid("user", f"no account here for {', '.join(missing)}: name one whose rows theirs become")
    return {login: found.get(login, stand_in or 0) for login in logins}


async def _keep_ids(
    session: AsyncSession, table: type[Entry | Submission], ids: Sequence[int], is_sqlite: bool
) -> bool:
    """Whether the file's ids of ``table``'s rows can be kept: every one free, and (PostgreSQL) handed out by this
    database's sequence before, so that the sequence never hands one of them out again."""
    if not ids:
        return True
    for start in range(0, len(ids), BATCH):
        chunk = list(ids[start : start + BATCH])
        if await session.scalar(select(func.count()).where(table.id.in_(chunk))):
            return False
    if is_sqlite:
        return True  # a new rowid is always above the largest there is
    handed_out = await session.scalar(
        text("SELECT pg_sequence_last_value(pg_get_serial_sequence(:table, 'id')::regclass)"),
        {"table": table.__tablename__},
    )
    return handed_out is not None and max(ids) <= handed_out


def _fill(incident: Incident, file: IncidentFile, epoch: str) -> None:
    source = file.incident
    incident.title, incident.summary, incident.status = source.title, source.summary, source.status
    incident.category, incident.location = source.category, source.location
    incident.photo_url, incident.photo_credit = source.photo_url, source.photo_credit
    incident.photo = source.photo.model_dump() if source.photo else None
    incident.epoch, incident.seq = epoch, source.seq
    incident.created_at, incident.updated_at = source.created_at, source.updated_at
    incident.closed_at = source.closed_at


def _json(models: Sequence[BaseModel] | None) -> list[dict[str, Any]] | None:
    """The file's photos or cards as an entry's JSON column keeps them; None for none."""
    return [model.model_dump() for model in models] if models else None


def _clean(body: str, field: str) -> str:
    cleaned = clean_html(body)
    if not cleaned:
        raise Refused.invalid(field, f"{field}: nothing is left of it once sanitised")
    return cleaned


async def _write_entries(
    session: AsyncSession,
    incident: Incident,
    file: IncidentFile,
    users: dict[str | None, int],
    keep: bool,
    progress: Progress,
    batch: int,
) -> dict[int, int]:
    """The entries, oldest first (so new ids keep their order), and their history; returns old id → new id."""
    mapped: dict[int, int] = {}
    ordered = sorted(enumerate(file.entries), key=lambda pair: pair[1].id)
    for start in range(0, len(ordered), batch):
        rows = []
        for n, e in ordered[start : start + batch]:
            row = Entry(
                incident_id=incident.id,
                author_id=users[e.author.user],
                author_name=e.author.name,
                body=_clean(e.body, f"entries.{n}.body"),
                label=e.label,
                created_at=e.created_at,
                edited_at=e.edited_at,
                key_event=e.key_event,
                pinned=e.pinned,
                retracted=e.retracted,
                correction=e.correction,
                photos=_json(e.photos),
                cards=_json(e.cards),
            )
            if keep:
                row.id = e.id
            rows.append((e, row))
        session.add_all(row for _e, row in rows)
        await session.flush()
        mapped.update((e.id, row.id) for e, row in rows)
        history = [
            {
                "entry_id": row.id,
                "action": r.action,
                "user_id": users[r.by.user],
                "user_name": r.by.name,
                "at": r.at,
                "body": clean_html(r.body),
                "label": r.label,
                "key_event": r.key_event,
                "correction": r.correction,
            }
            for e, row in rows
            for r in e.history
        ]
        if history:
            await session.execute(insert(EntryRevision), history)
        progress("entries", min(start + batch, len(ordered)), len(ordered))
    return mapped


async def _write_submissions(
    session: AsyncSession,
    incident: Incident,
    file: IncidentFile,
    users: dict[str | None, int],
    ids: dict[int, int],
    keep: bool,
) -> None:
    """Contributors' posts, with their ids when they may be kept (the desk's links to them), else new ones."""
    rows = [
        {
            **({"id": s.id} if keep else {}),
            "incident_id": incident.id,
            "author_id": users[s.author.user],
            "author_name": s.author.name,
            "body": _clean(s.body, f"submissions.{n}.body"),
            "label": s.label,
            "key_event": s.key_event,
            "created_at": s.created_at,
            "status": s.status,
            "decided_by": s.decided_by,
            "decided_at": s.decided_at,
            "reason": s.reason,
            "entry_id": None if s.entry_id is None else ids[s.entry_id],
            "photos": _json(s.photos),
        }
        for n, s in enumerate(file.submissions)
    ]
    if rows:
        await session.execute(insert(Submission), rows)


async def _write_events(
    session: AsyncSession, incident: Incident, file: IncidentFile, ids: dict[int, int], progress: Progress, batch: int
) -> None:
    published = now()  # nothing is left for the relay: readers catch up from SQL, the stream starts anew
    for start in range(0, len(file.events), batch):
        rows = [
            {
                "incident_id": incident.id,
                "topic": incident.slug,
                "seq": event.seq,
                "type": event.event,
                "payload": encode(
                    incident.slug, event.seq, event.event, event.committed_at, _data(event.data, incident, ids)
                ).payload,
                "committed_at": event.committed_at,
                "published_at": published,
            }
            for event in file.events[start : start + batch]
        ]
        await session.execute(insert(Event), rows)
        progress("events", start + len(rows), len(file.events))


def _data(data: FileEventData, incident: Incident, ids: dict[int, int]) -> dict[str, Any]:
    """An event's data as readers are sent it: this incident's slug and epoch, the entries' ids here, and bodies
    sanitised again (they go into pages as HTML)."""
    if data.entry is not None:
        e = data.entry
        entry = {
            "id": ids[e.id],
            "incident": incident.slug,
            "author": e.author,
            "body": clean_html(e.body) if e.body else "",
            "label": e.label,
            "created_at": isoformat(e.created_at),
            "edited_at": _iso(e.edited_at),
            "key_event": e.key_event,
            "pinned": e.pinned,
            "retracted": e.retracted,
            "correction": e.correction,
            "withdrawn": withdrawn(e.retracted, e.correction),
            **({"photos": _json(e.photos)} if e.photos else {}),
            **({"cards": _json(e.cards)} if e.cards else {}),
        }
        return {"entry": entry}
    assert data.incident is not None  # ticker.http.incident_file.check: an incident event carries one
    i = data.incident
    view = {
        "slug": incident.slug,
        "title": i.title,
        "summary": i.summary,
        "status": i.status,
        "category": i.category,
        "location": i.location,
        "photo_url": i.photo_url,
        "photo_credit": i.photo_credit,
        **({"photo": i.photo.model_dump()} if i.photo else {}),
        "epoch": incident.epoch,
        "created_at": isoformat(i.created_at),
        "updated_at": isoformat(i.updated_at),
        "closed_at": _iso(i.closed_at),
    }
    return {"incident": view}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else isoformat(moment)
