"""Deleting an incident (a legal takedown): everything it holds goes, in one transaction; its row stays as a
tombstone (ticker.store.tombstone), so its addresses answer 410 and its slug is not given to a new incident.

What goes: its entries (with their search text and link cards), their history, contributors' submissions, its
events (the outbox and the log), the partners' rows that name it, its Web Push followers and alerts (an alert
holds an entry's text, a follower a reader's address), the idempotency keys whose stored answers show it (a retry
must not answer with the deleted content), the link from a source's item that started it. The audit log keeps
who did what and when about it, but not what the changes said, and records the deletion itself. What the nodes
hold (the broker's stream, the hub's recent frames and snapshot, open readers) is the node's part:
ticker.takedown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticker.errors import Refused
from ticker.push.tables import PushAlert, PushDelivery, PushSubscription
from ticker.sources.model import SourceItem
from ticker.store.audit import Actor, AuditKind, AuditRow, compact, record
from ticker.store.newsroom import EntryRevision, Submission
from ticker.store.partners import PartnerIncident
from ticker.store.sql import Store, now
from ticker.store.tables import Entry, Event, IdempotencyKey, Incident
from ticker.store.tombstone import DELETED, forget

KEYS_BATCH = 1000  # idempotency keys read at a time (they live a day: TICKER_IDEMPOTENCY_TTL_SECONDS)


@dataclass(frozen=True)
class Removed:
    """What a takedown removed (all 0 when the incident was deleted already: deleting again changes nothing)."""

    slug: str
    entries: int = 0
    events: int = 0
    revisions: int = 0
    submissions: int = 0
    idempotency_keys: int = 0
    partner_incidents: int = 0
    push_subscriptions: int = 0
    push_alerts: int = 0

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if k != "slug"}


async def delete_incident(store: Store, slug: str, actor: Actor) -> Removed:
    """Remove the incident's content and leave its tombstone, recorded in the audit log as ``actor``'s; 404 for
    an incident that never was. Deleting a deleted incident again removes nothing (and records nothing): the
    node's part may be repeated after it."""
    async with store.writing() as session:
        incident = await session.scalar(select(Incident).where(Incident.slug == slug).with_for_update())
        if incident is None:
            raise Refused.not_found("incident")
        if incident.status == DELETED:
            return Removed(slug)
        removed = await _remove_content(session, incident)
        forget(incident)
        incident.updated_at = incident.closed_at = now()  # when it was deleted
        # The log keeps who did what to it and when, not what the changes said (an entry's body, a title).
        await session.execute(update(AuditRow).where(AuditRow.incident == slug).values(changes=compact({})))
        counts = {name: [n, 0] for name, n in removed.counts().items() if n}
        record(session, actor, AuditKind.INCIDENT_DELETED, at=incident.updated_at, incident=slug, changes=counts)
    return removed


async def _remove_content(session: AsyncSession, incident: Incident) -> Removed:
    mine = Entry.incident_id == incident.id
    entry_ids = select(Entry.id).where(mine).scalar_subquery()
    submissions = await _count(session, delete(Submission).where(Submission.incident_id == incident.id))
    revisions = await _count(session, delete(EntryRevision).where(EntryRevision.entry_id.in_(entry_ids)))
    entries = await _count(session, delete(Entry).where(mine))
    events = await _count(session, delete(Event).where(Event.incident_id == incident.id))
    partners = await _count(session, delete(PartnerIncident).where(PartnerIncident.incident_id == incident.id))
    alerts = select(PushAlert.id).where(PushAlert.incident_id == incident.id).scalar_subquery()
    followers = select(PushSubscription.id).where(PushSubscription.incident_id == incident.id).scalar_subquery()
    await session.execute(
        delete(PushDelivery).where(or_(PushDelivery.alert_id.in_(alerts), PushDelivery.subscription_id.in_(followers)))
    )
    pushed = await _count(session, delete(PushAlert).where(PushAlert.incident_id == incident.id))
    following = await _count(session, delete(PushSubscription).where(PushSubscription.incident_id == incident.id))
    keys = await _delete_keys(session, incident.slug)
    await session.execute(
        update(SourceItem).where(SourceItem.incident_slug == incident.slug).values(incident_slug=None)
    )
    return Removed(incident.slug, entries, events, revisions, submissions, keys, partners, following, pushed)


async def deleted_among(store: Store, slugs: Iterable[str]) -> set[str]:
    """Which of these incidents are deleted, or gone altogether."""
    wanted = set(slugs)
    async with store.reading() as session:
        standing = set(
            await session.scalars(select(Incident.slug).where(Incident.slug.in_(wanted), Incident.status != DELETED))
        )
    return wanted - standing


async def _count(session: AsyncSession, statement: Any) -> int:
    result = await session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def _delete_keys(session: AsyncSession, slug: str) -> int:
    """Delete the idempotency keys whose stored answer shows the incident. The table has no incident column (a
    key's answer is all it keeps), so the answers are read, a batch at a time: they are a day's writes at most."""
    doomed: list[int] = []
    after = 0
    while True:
        rows = (
            await session.execute(
                select(IdempotencyKey.id, IdempotencyKey.response)
                .where(IdempotencyKey.id > after)
                .order_by(IdempotencyKey.id)
                .limit(KEYS_BATCH)
            )
        ).all()
        for key_id, response in rows:
            if slug.encode() in response and _mentions(_loaded(response), slug):
                doomed.append(key_id)
        if len(rows) < KEYS_BATCH:
            break
        after = rows[-1][0]
    for start in range(0, len(doomed), KEYS_BATCH):
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(doomed[start : start + KEYS_BATCH])))
    return len(doomed)


def _loaded(response: bytes) -> Any:
    try:
        return json.loads(response)
    except ValueError:
        return None


def _mentions(answer: Any, slug: str) -> bool:
    """Whether a stored answer shows the incident: an incident view (``slug``), or an entry's or a submission's
    (``incident``), anywhere in it."""
    return any(
        node.get("incident") == slug or (node.get("slug") == slug and "epoch" in node) for node in _objects(answer)
    )


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item)
