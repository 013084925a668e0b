"""Alerts: made in the transaction of the change that causes them, and what the desk shows of them.

Which changes alert followers: an entry posted as a key event (by a reporter, or an editor's approval of a
contributor's), an entry edited so that it BECOMES a key event (not every later edit of one: a corrected typo
is not news), and the incident's close. Each adds one ``push_alerts`` row beside its event, in the same
transaction: durable when the event is, and one per event however the write was retried (an idempotent replay
writes nothing). The hourly bound is applied when a sender turns the alert into deliveries (ticker.push.sender),
which is where the count of what went out is known; an editor's urgent alert is never held by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticker.errors import Refused
from ticker.push.tables import PushAlert, PushSubscription
from ticker.sanitize import text_of
from ticker.store.sql import Store, Tx, now
from ticker.store.tables import Entry, Incident
from ticker.store.tombstone import standing

BODY_CHARS = 240  # a notification shows two or three lines; the payload must stay far below 4 KB


class Kind:
    KEY_EVENT = "key_event"
    CLOSED = "closed"
    URGENT = "urgent"


class State:
    QUEUED = "queued"
    SENDING = "sending"
    HELD = "held"
    CANCELLED = "cancelled"


def notification_text(entry: Entry) -> str:
    text = " ".join(text_of(entry.body).split())
    if len(text) > BODY_CHARS:
        text = text[: BODY_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return f"{entry.label}: {text}" if entry.label else text


def _alert(incident: Incident, kind: str, at: datetime, entry: Entry | None, seq: int | None) -> PushAlert:
    return PushAlert(
        incident_id=incident.id,
        kind=kind,
        entry_id=entry.id if entry is not None else None,
        seq=seq,
        title=incident.title,
        body=notification_text(entry) if entry is not None else "",
        path=f"/i/{incident.slug}" + (f"#entry-{entry.id}" if entry is not None else ""),
        state=State.QUEUED,
        created_at=at,
        recipients=0,
        sent=0,
        gone=0,
        failed=0,
    )


def key_event(tx: Tx, incident: Incident, entry: Entry, was_key: bool) -> None:
    """After an entry's event: alert when the entry is now a key event and was not one before."""
    if entry.key_event and not was_key and not entry.retracted:
        tx.session.add(_alert(incident, Kind.KEY_EVENT, tx.at, entry, incident.seq))


def closed(tx: Tx, incident: Incident) -> None:
    """After the incident's close: its followers hear that it is over."""
    tx.session.add(_alert(incident, Kind.CLOSED, tx.at, None, incident.seq))


async def send_urgent(store: Store, slug: str, entry_id: int, editor: str) -> dict[str, Any]:
    """An editor's alert about an entry, sent even past TICKER_PUSH_ALERTS_PER_HOUR (once per entry)."""
    async with store.writing() as session:
        incident = standing(await session.scalar(select(Incident).where(Incident.slug == slug)))
        entry = await session.scalar(select(Entry).where(Entry.id == entry_id, Entry.incident_id == incident.id))
        if entry is None:
            raise Refused.not_found("entry")
        if entry.retracted:
            raise Refused.conflict("the entry is retracted", "entry")
        sent_before = await session.scalar(
            select(PushAlert.id).where(
                PushAlert.incident_id == incident.id, PushAlert.entry_id == entry.id, PushAlert.kind == Kind.URGENT
            )
        )
        if sent_before is not None:
            raise Refused.conflict("an urgent alert about this entry was sent already", "entry")
        alert = _alert(incident, Kind.URGENT, now(), entry, None)
        alert.created_by = editor
        session.add(alert)
        await session.flush()
        return alert_view(alert)


@dataclass(frozen=True)
class Summary:
    """What the desk shows: who follows, and what went out."""

    followers: int
    alerts: list[dict[str, Any]]  # the newest first
    sent: int  # notifications delivered to push services, over all the incident's alerts
    held: int  # alerts held back by the hourly bound


async def summary(store: Store, incident_id: int, newest: int = 10) -> Summary:
    async with store.reading() as session:
        following = await followers(session, incident_id)
        rows = list(
            await session.scalars(
                select(PushAlert)
                .where(PushAlert.incident_id == incident_id)
                .order_by(PushAlert.id.desc())
                .limit(newest)
            )
        )
        totals = (
            await session.execute(
                select(func.coalesce(func.sum(PushAlert.sent), 0), func.count().filter(PushAlert.state == State.HELD))
                .select_from(PushAlert)
                .where(PushAlert.incident_id == incident_id)
            )
        ).one()
    return Summary(following, [alert_view(a) for a in rows], int(totals[0]), int(totals[1]))


async def followers(session: AsyncSession, incident_id: int) -> int:
    query = select(func.count()).select_from(PushSubscription).where(PushSubscription.incident_id == incident_id)
    return int(await session.scalar(query) or 0)


def alert_view(alert: PushAlert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "entry_id": alert.entry_id,
        "body": alert.body,
        "state": alert.state,
        "created_at": alert.created_at.isoformat(),
        "created_by": alert.created_by,
        "recipients": alert.recipients or 0,
        "sent": alert.sent or 0,
        "gone": alert.gone or 0,
        "failed": alert.failed or 0,
        "pending": max(0, (alert.recipients or 0) - (alert.sent or 0) - (alert.gone or 0) - (alert.failed or 0)),
    }
