"""The sources' reads and writes: sources and their status, items stored once and marked when changed, the
desk's state of each item, and retention."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from ticker.config import Settings
from ticker.errors import Refused
from ticker.events import isoformat
from ticker.sources.found import Filters, Found
from ticker.sources.kinds import KINDS, cited
from ticker.sources.model import Source, SourceItem
from ticker.store.sql import Store, now

STATES = ("new", "watched", "dismissed")
EDITABLE = ("name", "kind", "url", "interval_seconds", "places", "types", "enabled")
# Changing these makes the last answer's ETag meaningless: the next poll asks afresh (and applies new filters).
REFETCH = frozenset({"kind", "url", "places", "types"})


@dataclass(frozen=True)
class SourceLimits:
    most: int  # sources a newsroom may have
    min_interval: int  # seconds; a source is never asked more often

    @classmethod
    def of(cls, settings: Settings) -> SourceLimits:
        return cls(most=settings.sources_max, min_interval=settings.sources_min_interval_seconds)


def filters_of(source: Source) -> Filters:
    return Filters(tuple(json.loads(source.places)), tuple(json.loads(source.types)))


def effective_interval(source: Source, limits: SourceLimits) -> int:
    return max(source.interval_seconds, limits.min_interval)


def source_view(source: Source, limits: SourceLimits, items: int = 0) -> dict[str, Any]:
    def when(moment: datetime | None) -> str | None:
        return isoformat(moment) if moment else None

    return {
        "id": source.id,
        "name": source.name,
        "kind": source.kind,
        "kind_title": KINDS[source.kind].title if source.kind in KINDS else source.kind,
        "url": source.url,
        "interval_seconds": source.interval_seconds,
        "effective_interval_seconds": effective_interval(source, limits),
        "places": json.loads(source.places),
        "types": json.loads(source.types),
        "enabled": source.enabled,
        "items": items,
        "last_polled_at": when(source.last_polled_at),
        "last_ok_at": when(source.last_ok_at),
        "last_error": source.last_error,
        "last_error_at": when(source.last_error_at),
        "failures": source.failures,
        "next_poll_at": when(source.next_poll_at),
    }


def item_view(item: SourceItem, source: Source) -> dict[str, Any]:
    return {
        "id": item.id,
        "source": {"id": source.id, "name": source.name, "kind": source.kind, "cited": cited(source.kind, source.name)},
        "title": item.title,
        "summary": item.summary,
        "url": item.url,
        "type": item.type,
        "place": item.place,
        "lat": item.lat,
        "lng": item.lng,
        "published_at": isoformat(item.published_at) if item.published_at else None,
        "first_seen_at": isoformat(item.first_seen_at),
        "changed_at": isoformat(item.changed_at) if item.changed_at else None,
        "revision": item.revision,
        "version": item.version,
        "state": item.state,
        "state_by": item.state_by,
        "vma": item.vma,
        "incident": item.incident_slug,
    }


# Sources.


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    if "kind" in fields and fields["kind"] not in KINDS:
        raise Refused.invalid("kind", f"kind: one of {', '.join(KINDS)}")
    for name in ("places", "types"):
        if name in fields:
            fields[name] = json.dumps(list(dict.fromkeys(fields[name])), ensure_ascii=False)
    return fields


async def add_source(store: Store, fields: dict[str, Any], limits: SourceLimits) -> dict[str, Any]:
    """A new source, asked at once; 409 when the newsroom has as many as it may, or the name is taken."""
    fields = _checked({"places": [], "types": [], "enabled": True, **fields})
    at = now()
    try:
        async with store.writing() as session:
            count = await session.scalar(select(func.count()).select_from(Source))
            if (count or 0) >= limits.most:
                raise Refused.conflict(f"a newsroom has at most {limits.most} sources (TICKER_SOURCES_MAX)", "name")
            source = Source(**fields, created_at=at, failures=0, next_poll_at=at)
            session.add(source)
            await session.flush()
    except IntegrityError:
        raise Refused.conflict(f"a source named {fields['name']!r} exists", "name") from None
    return source_view(source, limits)


async def update_source(store: Store, source_id: int, changes: dict[str, Any], limits: SourceLimits) -> dict[str, Any]:
    changes = _checked({k: v for k, v in changes.items() if k in EDITABLE})
    try:
        async with store.writing() as session:
            source = await session.get(Source, source_id)
            if source is None:
                raise Refused.not_found("source")
            for name, value in changes.items():
                setattr(source, name, value)
            if REFETCH & changes.keys():
                source.etag = source.last_modified = None
            source.next_poll_at = now()  # ask at once with what changed
            await session.flush()
            count = await _item_count(session, source.id)
    except IntegrityError:
        raise Refused.conflict(f"a source named {changes.get('name')!r} exists", "name") from None
    return source_view(source, limits, count)


async def remove_source(store: Store, source_id: int) -> None:
    """The source and every item it gave (tickers started from them stay)."""
    async with store.writing() as session:
        await session.execute(delete(SourceItem).where(SourceItem.source_id == source_id))
        removed = await session.execute(delete(Source).where(Source.id == source_id))
    if not removed.rowcount:  # type: ignore[attr-defined]
        raise Refused.not_found("source")


async def source_by_name(store: Store, name: str) -> Source:
    async with store.reading() as session:
        found = await session.scalar(select(Source).where(Source.name == name))
    if found is None:
        raise Refused.not_found(f"source {name!r}")
    return found


async def _item_count(session: Any, source_id: int) -> int:
    found = await session.scalar(select(func.count()).where(SourceItem.source_id == source_id))
    return int(found or 0)


async def all_sources(store: Store) -> list[Source]:
    async with store.reading() as session:
        return list(await session.scalars(select(Source).order_by(Source.name)))


async def source_views(store: Store, limits: SourceLimits, ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Sources by name, each with its status and how many items it has given (that are kept)."""
    query = select(Source).order_by(Source.name)
    if ids is not None:
        query = query.where(Source.id.in_(list(ids)))
    counts = select(SourceItem.source_id, func.count()).group_by(SourceItem.source_id)
    async with store.reading() as session:
        found = list(await session.scalars(query))
        count = {source_id: n for source_id, n in (await session.execute(counts)).all()}
    return [source_view(s, limits, count.get(s.id, 0)) for s in found]


async def record_answer(
    store: Store, polled: Source, at: datetime, *, etag: str | None, last_modified: str | None, next_poll_at: datetime
) -> bool:
    """A usable answer (or 304); returns whether the source had an error before (its status line changes)."""
    async with store.writing() as session:
        values: dict[str, Any] = {
            "last_polled_at": at,
            "last_ok_at": at,
            "last_error": None,
            "failures": 0,
            "next_poll_at": next_poll_at,
        }
        current = await session.get(Source, polled.id)
        if current is None:
            return False
        if (current.url, current.places, current.types, current.kind) == (
            polled.url,
            polled.places,
            polled.types,
            polled.kind,
        ):  # not changed by an admin while we were asking: the validators are for what is configured now
            values |= {"etag": etag, "last_modified": last_modified}
        had_error = current.last_error is not None
        await session.execute(update(Source).where(Source.id == polled.id).values(**values))
    return had_error


async def record_failure(
    store: Store, source_id: int, at: datetime, message: str, wait: Callable[[int], float]
) -> float:
    """A failed poll: the status line, one more failure in a row, and the next try after ``wait(failures)``
    seconds (failures counted in the same transaction, so the backoff grows however the polls interleave)."""
    async with store.writing() as session:
        source = await session.get(Source, source_id)
        if source is None:
            return 0.0
        source.failures += 1
        seconds = wait(source.failures)
        source.last_polled_at, source.last_error, source.last_error_at = at, message, at
        source.next_poll_at = at + timedelta(seconds=seconds)
    return seconds


# Items.


async def store_found(store: Store, source: Source, found: Sequence[Found], at: datetime, keep: timedelta) -> list[int]:
    """Keep each item once by the source's id: new ones are added (oldest first, so newer ones have higher ids),
    ones the source changed are updated and marked. Returns the ids of both. Items that happened longer ago than
    ``keep`` are not added (retention would only remove them again)."""
    latest = {f.external_id: f for f in found}  # an id given twice in one answer: its last
    ordered = sorted(latest.values(), key=lambda f: (f.published_at is not None, f.published_at or at))
    for attempt in (1, 2):
        try:
            return await _store_found(store, source, ordered, at, keep)
        except IntegrityError:
            if attempt == 2:  # another node stored the same item a moment ago (a lease handing over): ask again
                raise
    raise AssertionError("unreachable")


async def _store_found(
    store: Store, source: Source, found: Sequence[Found], at: datetime, keep: timedelta
) -> list[int]:
    touched: list[SourceItem] = []
    async with store.writing() as session:
        existing: dict[str, SourceItem] = {}
        keys = [f.external_id for f in found]
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            query = select(SourceItem).where(SourceItem.source_id == source.id, SourceItem.external_id.in_(chunk))
            existing |= {item.external_id: item for item in await session.scalars(query)}
        for item in found:
            fingerprint = item.fingerprint()
            row = existing.get(item.external_id)
            if row is None:
                if (item.published_at or at) < at - keep:
                    continue
                row = SourceItem(
                    source_id=source.id,
                    external_id=item.external_id,
                    first_seen_at=at,
                    revision=1,
                    version=1,
                    state="new",
                )
                session.add(row)
            elif row.fingerprint == fingerprint:
                continue
            else:
                row.revision += 1
                row.version += 1
                row.changed_at = at
            _fill(row, item, fingerprint)
            touched.append(row)
        await session.flush()
    return [row.id for row in touched]


def _fill(row: SourceItem, item: Found, fingerprint: str) -> None:
    row.title, row.summary, row.url, row.type, row.place = item.title, item.summary, item.url, item.type, item.place
    row.lat, row.lng, row.published_at, row.vma = item.lat, item.lng, item.published_at, item.vma
    row.fingerprint = fingerprint
    row.kept_at = item.published_at or row.first_seen_at


async def item_views(
    store: Store, *, ids: Iterable[int] | None = None, limit: int = 100, dismissed: bool = False
) -> list[dict[str, Any]]:
    """Items newest first (by when we first saw them, then when they happened): the given ``ids``, or the
    newest ``limit`` that are not dismissed."""
    query = select(SourceItem, Source).join(Source, Source.id == SourceItem.source_id).order_by(SourceItem.id.desc())
    if ids is not None:
        query = query.where(SourceItem.id.in_(list(ids)))
    else:
        query = query.limit(limit)
        if not dismissed:
            query = query.where(SourceItem.state != "dismissed")
    async with store.reading() as session:
        rows = (await session.execute(query)).all()
    return [item_view(item, source) for item, source in rows]


async def set_state(store: Store, item_id: int, state: str, by: str) -> None:
    if state not in STATES:
        raise Refused.invalid("state", f"state: one of {', '.join(STATES)}")
    async with store.writing() as session:
        done = await session.execute(
            update(SourceItem)
            .where(SourceItem.id == item_id)
            .values(state=state, state_by=by, version=SourceItem.version + 1)
        )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise Refused.not_found("item")


async def expire_items(store: Store, before: datetime) -> int:
    async with store.writing() as session:
        done = await session.execute(delete(SourceItem).where(SourceItem.kept_at < before))
    return int(done.rowcount)  # type: ignore[attr-defined]
