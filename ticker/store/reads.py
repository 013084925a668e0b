"""Reads for the reader pages beyond Store's own: one page of an incident, the front page, search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select

from ticker.errors import Refused
from ticker.store.sql import Store
from ticker.store.tables import Entry, Incident
from ticker.store.tombstone import DELETED, standing
from ticker.store.views import entry_view, incident_view


@dataclass(frozen=True)
class IncidentPage:
    incident: dict[str, Any]
    seq: int
    entries: list[dict[str, Any]]  # newest first; the pinned entry is not among them
    pinned: dict[str, Any] | None
    key_events: list[dict[str, Any]]  # newest first, every one of the incident's, not only this page's
    next: int | None  # the cursor of the next page: "before" (older) or, oldest first, "after" (newer)


async def incident_page(
    store: Store,
    slug: str,
    *,
    limit: int,
    before: int | None = None,
    after: int | None = None,
    key_only: bool = False,
    oldest_first: bool = False,
) -> IncidentPage:
    """One page of entries with the pinned entry and the key events, read in one transaction.

    The reader's views (ticker.http.reader_views): ``key_only`` keeps key events only; ``oldest_first`` reads
    from the start, each next page newer (``after``) instead of older (``before``)."""
    async with store.reading() as session, session.begin():
        incident = standing(await session.scalar(select(Incident).where(Incident.slug == slug)))
        mine = Entry.incident_id == incident.id
        page = select(Entry).where(mine, *entry_filter(key_only=key_only, before=before, after=after))
        page = page.order_by(Entry.id.asc() if oldest_first else Entry.id.desc()).limit(limit + 1)
        rows = list(await session.scalars(page))
        pinned = await session.scalar(select(Entry).where(mine, Entry.pinned))
        keys = await session.scalars(
            select(Entry).where(mine, Entry.key_event, ~Entry.retracted).order_by(Entry.id.desc())
        )
        key_events = [entry_view(e, slug) for e in keys]
    shown = rows[:limit]
    return IncidentPage(
        incident=incident_view(incident),
        seq=incident.seq,
        entries=[entry_view(e, slug) for e in shown if pinned is None or e.id != pinned.id],
        pinned=entry_view(pinned, slug) if pinned is not None else None,
        key_events=key_events,
        next=shown[-1].id if len(rows) > limit else None,
    )


def entry_filter(*, key_only: bool, before: int | None, after: int | None) -> list[ColumnElement[bool]]:
    """The conditions of a view's page of entries: key events only, and the cursors either way."""
    found: list[ColumnElement[bool]] = []
    if key_only:
        found.append(Entry.key_event.is_(True))
    if before is not None:
        found.append(Entry.id < before)
    if after is not None:
        found.append(Entry.id > after)
    return found


async def entries_page(
    store: Store, incident: Incident, *, limit: int, before: int | None, after: int | None, key_only: bool
) -> list[Entry]:
    """Entries newest first, or oldest first with ``after`` (the API's "Visa fler" for every view)."""
    query = select(Entry).where(
        Entry.incident_id == incident.id, *entry_filter(key_only=key_only, before=before, after=after)
    )
    query = query.order_by(Entry.id.asc() if after is not None else Entry.id.desc()).limit(limit)
    async with store.reading() as session:
        return list(await session.scalars(query))


async def entry(store: Store, slug: str, entry_id: int) -> tuple[Incident, dict[str, Any]]:
    async with store.reading() as session:
        row = (
            await session.execute(
                select(Incident, Entry)
                .join(Entry, Entry.incident_id == Incident.id)
                .where(Incident.slug == slug, Entry.id == entry_id)
            )
        ).first()
    if row is None:
        await store.incident(slug)  # 410 for an entry of a deleted incident (its entries are gone), not 404
        raise Refused.not_found("entry")
    return row[0], entry_view(row[1], slug)


async def incidents_with_latest(
    store: Store, incidents: Sequence[Incident]
) -> list[tuple[Incident, dict[str, Any] | None]]:
    """Each incident with its newest entry that is still standing (not retracted)."""
    ids = [i.id for i in incidents]
    latest: dict[int, dict[str, Any]] = {}
    if ids:
        newest = (
            select(func.max(Entry.id)).where(Entry.incident_id.in_(ids), ~Entry.retracted).group_by(Entry.incident_id)
        )
        slugs = {i.id: i.slug for i in incidents}
        async with store.reading() as session:
            for e in await session.scalars(select(Entry).where(Entry.id.in_(newest))):
                latest[e.incident_id] = entry_view(e, slugs[e.incident_id])
    return [(i, latest.get(i.id)) for i in incidents]


async def incidents_by_slug(store: Store, slugs: Sequence[str]) -> dict[str, Incident]:
    if not slugs:
        return {}
    async with store.reading() as session:
        query = select(Incident).where(Incident.slug.in_(slugs), Incident.status != DELETED)
        return {i.slug: i for i in await session.scalars(query)}


@dataclass(frozen=True)
class Hit:
    incident: Incident
    entries: list[dict[str, Any]]  # the matching entries, newest first


def _patterns(query: str, exact: bool) -> list[str]:
    terms = [query.strip()] if exact else query.split()
    escaped = (t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for t in terms)
    return [f"%{t}%" for t in escaped]


def _matches(column: Any, patterns: list[str]) -> ColumnElement[bool]:
    return and_(*(column.ilike(p, escape="\\") for p in patterns))


async def search(
    store: Store, query: str, *, exact: bool, titles_only: bool, limit: int, entries_per_hit: int = 3
) -> list[Hit]:
    """Incidents whose title, or one of whose standing entries, holds every word (or the exact phrase)."""
    patterns = _patterns(query, exact)
    if not patterns:
        return []
    in_title = _matches(Incident.title, patterns)
    # An entry without text was written by a node of the version before migration 0004 while nodes were being
    # replaced one at a time: its HTML is searched instead.
    text = case((Entry.body_text == "", Entry.body), else_=Entry.body_text)
    in_entry = and_(_matches(text, patterns), ~Entry.retracted)
    where = in_title if titles_only else or_(in_title, exists().where(Entry.incident_id == Incident.id, in_entry))
    where = and_(where, Incident.status != DELETED)  # an emptied row has nothing to find, and is not offered
    async with store.reading() as session:
        incidents = list(
            await session.scalars(select(Incident).where(where).order_by(Incident.updated_at.desc()).limit(limit))
        )
        found: dict[int, list[dict[str, Any]]] = {i.id: [] for i in incidents}
        if incidents and not titles_only:
            slugs = {i.id: i.slug for i in incidents}
            rows = await session.scalars(
                select(Entry)
                .where(Entry.incident_id.in_(list(found)), in_entry)
                .order_by(Entry.id.desc())
                .limit(limit * entries_per_hit)
            )
            for e in rows:
                if len(found[e.incident_id]) < entries_per_hit:
                    found[e.incident_id].append(entry_view(e, slugs[e.incident_id]))
    return [Hit(i, found[i.id]) for i in incidents]
