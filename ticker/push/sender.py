"""The sender: every node runs one; together they send each alert to each subscription once.

An alert (ticker.push.alerts) becomes deliveries, one per subscription that followed the incident when the alert
was made, in one transaction by one node: the alert is taken with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL
(SQLite has one writer at a time), and the unique (alert, subscription) pair would refuse a second set anyway.
The incident's row is locked while the hourly bound is counted, so that two nodes turning two alerts of one
incident into deliveries at once count each other's.

Deliveries are claimed the same way, a batch at a time: a claim is the node's name and a lease (``claimed_until``)
set in the claiming transaction, so no other node takes them while the lease lasts; one that dies mid-batch
leaves them to be taken again once it runs out. The lease is longer than a batch can take (every request has
TICKER_PUSH_TIMEOUT_SECONDS), so in the normal course nothing is sent twice. A node that dies after a push service
took a message but before it recorded it does send it again; the ``Topic`` header (one per alert) lets the push
service replace the first copy if the browser has not fetched it yet.

Each request is encrypted for its browser (RFC 8291, aes128gcm) by pywebpush and signed with the installation's
VAPID key (RFC 8292, py_vapid), with a TTL (what is left of TICKER_PUSH_TTL_SECONDS) and an Urgency. It goes
through the guarded HTTP client (ticker.net.fetch): only to an address that resolves to a public one. The push
service's answer decides: 2xx sent; 404 or 410 the subscription is gone, removed; 429, 5xx or no answer retried
after a wait that doubles (or what Retry-After asks), up to TICKER_PUSH_MAX_ATTEMPTS; anything else given up
(a 403 would mean the key pair changed). Encrypting is CPU work, done off the event loop a batch at a time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import delete, func, insert, literal, or_, select, update

from ticker.background import Background, woken
from ticker.backoff import backoff_delay
from ticker.config import Settings
from ticker.i18n import DEFAULT as DEFAULT_LANG
from ticker.logs import log_event
from ticker.net.fetch import FetchError, GuardedBackend, GuardedTransport, system_resolver
from ticker.push.alerts import Kind, State
from ticker.push.keys import VapidKeys, load_or_create
from ticker.push.tables import PushAlert, PushDelivery, PushSubscription
from ticker.push.text import text
from ticker.store.sql import Store, now
from ticker.store.tables import Entry, Incident, UTCDateTime
from ticker.store.tombstone import DELETED

URGENCY = {Kind.KEY_EVENT: "normal", Kind.URGENT: "high", Kind.CLOSED: "low"}  # RFC 8030 section 5.3
JWT_SECONDS = 12 * 3600  # a VAPID token's life (at most 24 h); each is used for an hour, then made anew
PRUNE_EVERY = 60  # rounds between removals of a deleted incident's subscriptions


class Outcome:
    SENT = "sent"
    GONE = "gone"  # 404 or 410: the subscription is no more
    RETRY = "retry"
    FAILED = "failed"  # given up: a refusal, or too many attempts
    EXPIRED = "expired"  # older than its TTL: the browser would not get it anyway
    CANCELLED = "cancelled"  # the incident was deleted meanwhile


@dataclass(frozen=True)
class Claimed:
    id: int
    attempts: int
    alert_id: int
    kind: str
    title: str
    body: str
    path: str
    created_at: datetime
    endpoint: str
    p256dh: str
    auth: str
    lang: str
    token: str
    slug: str
    deleted: bool


@dataclass(frozen=True)
class Result:
    outcome: str
    detail: str = ""
    retry_after: float | None = None


class Sender:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        on_outcome: Callable[[str], object] = lambda _outcome: None,
        on_alert: Callable[[str], object] = lambda _state: None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.node = uuid.uuid4().hex
        self.base = settings.resolved_public_url()
        self.contact = settings.push_contact or self.base
        self.on_outcome = on_outcome  # each delivery's outcome (/metrics)
        self.on_alert = on_alert  # each alert's state once it is handled: sending, held or cancelled (/metrics)
        batches = -(-settings.push_batch // settings.push_concurrency)  # rounds of requests one batch takes
        self.lease = timedelta(seconds=2 * batches * settings.push_timeout_seconds + 10)
        self.healthy = True
        self.keys: VapidKeys | None = None
        self._vapid: Any = None
        self._tokens: dict[str, tuple[float, str]] = {}  # audience -> (made at, Authorization header)
        self._wake = asyncio.Event()
        self._task = Background("push-sender", self._run)
        self._client: httpx.AsyncClient | None = None
        self._rounds = 0

    def notify(self) -> None:
        self._wake.set()

    def start(self) -> None:
        guard = GuardedBackend(system_resolver, allow_loopback=self.settings.fetch_allow_loopback)
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(guard, max_connections=self.settings.push_concurrency),
            trust_env=False,
            follow_redirects=False,
            timeout=self.settings.push_timeout_seconds,
            headers={"User-Agent": f"Ticker (+{self.base})"},
        )
        self._wake.set()
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        failures = 0
        while True:
            await woken(self._wake, self.settings.push_sweep_seconds)
            self._wake.clear()
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database away: nothing is lost, the rows wait
                failures += 1
                self.healthy = False
                delay = backoff_delay(failures)
                log_event("push_sender_failed", logging.WARNING, error=repr(exc)[:300], retry_in=round(delay, 2))
                await asyncio.sleep(delay)
                self._wake.set()
                continue
            if not self.healthy:
                log_event("push_sender_recovered", failures=failures)
            self.healthy, failures = True, 0

    async def round(self) -> None:
        """Turn waiting alerts into deliveries and send what is due, until nothing is left for now."""
        self._rounds += 1
        if self._rounds % PRUNE_EVERY == 1:
            await self.prune()
        while await self.expand():
            pass
        while await self.send_due() == self.settings.push_batch:
            pass

    # Alerts into deliveries.

    async def expand(self) -> bool:
        """Take one queued alert and make its deliveries (or hold or cancel it); False when none is queued."""
        async with self.store.writing() as session:
            alert = await session.scalar(
                select(PushAlert)
                .where(PushAlert.state == State.QUEUED)
                .order_by(PushAlert.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if alert is None:
                return False
            incident = await session.scalar(select(Incident).where(Incident.id == alert.incident_id).with_for_update())
            at = now()
            alert.expanded_at = at
            if incident is None or incident.status == DELETED or await _entry_gone(session, alert):
                alert.state = State.CANCELLED
            elif (
                alert.kind != Kind.URGENT
                and await _sent_within_hour(session, alert) >= self.settings.push_alerts_per_hour
            ):
                alert.state = State.HELD
            else:
                alert.state = State.SENDING
                columns = ["alert_id", "subscription_id", "attempts", "next_at"]
                followers = select(
                    literal(alert.id), PushSubscription.id, literal(0), literal(at, UTCDateTime())
                ).where(
                    PushSubscription.incident_id == alert.incident_id, PushSubscription.created_at <= alert.created_at
                )
                made = await session.execute(insert(PushDelivery).from_select(columns, followers))
                alert.recipients = int(made.rowcount)  # type: ignore[attr-defined]
            state, slug, recipients = alert.state, incident.slug if incident else "", alert.recipients
        log_event("push_alert", alert=alert.id, incident=slug, kind=alert.kind, state=state, recipients=recipients)
        self.on_alert(state)
        return True

    async def prune(self) -> None:
        """A deleted incident's followers are forgotten (their addresses are the readers'), and its alerts."""
        gone = select(Incident.id).where(Incident.status == DELETED).scalar_subquery()
        async with self.store.writing() as session:
            await session.execute(delete(PushSubscription).where(PushSubscription.incident_id.in_(gone)))
            await session.execute(delete(PushAlert).where(PushAlert.incident_id.in_(gone)))

    # Deliveries.

    async def send_due(self) -> int:
        """Claim a batch of due deliveries, send them and record how each went; how many were claimed."""
        claimed = await self.claim()
        if not claimed:
            return 0
        if self.keys is None:
            self.keys = await load_or_create(self.store)
        bodies = await asyncio.to_thread(self._encrypt_all, claimed)
        limit = asyncio.Semaphore(self.settings.push_concurrency)

        async def one(delivery: Claimed, body: bytes | None) -> Result:
            async with limit:
                return await self.send(delivery, body)

        results = await asyncio.gather(*(one(c, b) for c, b in zip(claimed, bodies, strict=True)))
        await self.record(claimed, results)
        return len(claimed)

    async def claim(self) -> list[Claimed]:
        at = now()
        async with self.store.writing() as session:
            ids = list(
                await session.scalars(
                    select(PushDelivery.id)
                    .where(
                        PushDelivery.next_at <= at,
                        or_(PushDelivery.claimed_until.is_(None), PushDelivery.claimed_until < at),
                    )
                    .order_by(PushDelivery.next_at, PushDelivery.id)
                    .limit(self.settings.push_batch)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return []
            await session.execute(
                update(PushDelivery)
                .where(PushDelivery.id.in_(ids))
                .values(claimed_by=self.node, claimed_until=at + self.lease, attempts=PushDelivery.attempts + 1)
            )
            rows = await session.execute(
                select(
                    PushDelivery.id,
                    PushDelivery.attempts,
                    PushAlert.id,
                    PushAlert.kind,
                    PushAlert.title,
                    PushAlert.body,
                    PushAlert.path,
                    PushAlert.created_at,
                    PushSubscription.endpoint,
                    PushSubscription.p256dh,
                    PushSubscription.auth,
                    PushSubscription.lang,
                    PushSubscription.token,
                    Incident.slug,
                    Incident.status,
                )
                .join(PushAlert, PushAlert.id == PushDelivery.alert_id)
                .join(PushSubscription, PushSubscription.id == PushDelivery.subscription_id)
                .join(Incident, Incident.id == PushAlert.incident_id)
                .where(PushDelivery.id.in_(ids))
            )
            return [
                Claimed(
                    id=row[0],
                    attempts=row[1],
                    alert_id=row[2],
                    kind=row[3],
                    title=row[4],
                    body=row[5],
                    path=row[6],
                    created_at=row[7],
                    endpoint=row[8],
                    p256dh=row[9],
                    auth=row[10],
                    lang=row[11],
                    token=row[12],
                    slug=row[13],
                    deleted=row[14] == DELETED,
                )
                for row in rows
            ]

    def payload(self, delivery: Claimed) -> bytes:
        """What the service worker shows (web/static/reader-sw.js), in the reader's language."""
        words = text(delivery.lang)
        path, _, anchor = delivery.path.partition("#")
        query = "" if delivery.lang == DEFAULT_LANG else f"?lang={delivery.lang}"  # as the pages' own links keep it
        unsubscribe = f"{self.base}/push/unsubscribe/{delivery.token}{query}"
        message = {
            "title": delivery.title,
            "body": delivery.body or words["closed_body"],
            "url": self.base + path + query + (f"#{anchor}" if anchor else ""),
            "tag": f"ticker-{delivery.slug}",
            "incident": delivery.slug,
            "unsubscribe": unsubscribe,
            "unsubscribe_label": words["unfollow"],
            "urgent": delivery.kind == Kind.URGENT,
        }
        return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()

    def _encrypt_all(self, claimed: Sequence[Claimed]) -> list[bytes | None]:
        # Imported by the node that sends, not by every command that imports this module.
        from pywebpush import WebPusher, WebPushException  # type: ignore[import-untyped]

        bodies: list[bytes | None] = []
        for delivery in claimed:
            subscription = {"endpoint": delivery.endpoint, "keys": {"p256dh": delivery.p256dh, "auth": delivery.auth}}
            try:
                encoded = WebPusher(subscription).encode(self.payload(delivery), "aes128gcm")
                bodies.append(bytes(encoded["body"]))
            except (WebPushException, ValueError) as exc:  # keys checked when kept; a library change may differ
                log_event("push_encrypt_failed", logging.WARNING, delivery=delivery.id, error=repr(exc)[:200])
                bodies.append(None)
        return bodies

    async def send(self, delivery: Claimed, body: bytes | None) -> Result:
        if delivery.deleted:
            return Result(Outcome.CANCELLED)
        left = self.settings.push_ttl_seconds - int((now() - delivery.created_at).total_seconds())
        if left < 0:
            return Result(Outcome.EXPIRED, "older than TICKER_PUSH_TTL_SECONDS")
        if body is None:
            return Result(Outcome.FAILED, "could not be encrypted for this subscription")
        headers = {
            "Authorization": self.authorization(delivery.endpoint),
            "TTL": str(left),
            "Urgency": URGENCY.get(delivery.kind, "normal"),
            "Topic": f"alert{delivery.alert_id}",  # a resent copy replaces one the browser has not fetched yet
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
        }
        assert self._client is not None
        try:
            async with asyncio.timeout(self.settings.push_timeout_seconds):
                response = await self._client.post(delivery.endpoint, content=body, headers=headers)
        except TimeoutError:
            return Result(Outcome.RETRY, "no answer in time")
        except FetchError as exc:
            return Result(Outcome.RETRY if exc.code in ("dns", "connect") else Outcome.FAILED, exc.message)
        except httpx.HTTPError as exc:
            return Result(Outcome.RETRY, f"{type(exc).__name__}: {exc}"[:200])
        status = response.status_code
        if 200 <= status < 300:
            return Result(Outcome.SENT)
        if status in (404, 410):
            return Result(Outcome.GONE, f"HTTP {status}")
        if status == 429 or status >= 500:
            raw = response.headers.get("retry-after", "")
            return Result(Outcome.RETRY, f"HTTP {status}", float(raw) if raw.isdigit() and len(raw) < 8 else None)
        return Result(Outcome.FAILED, f"HTTP {status}: {response.text[:120]}")

    def authorization(self, endpoint: str) -> str:
        """``vapid t=<JWT>,k=<public key>`` for the push service's origin (the JWT's audience), reused for an hour."""
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        made = self._tokens.get(audience)
        if made is not None and time.monotonic() - made[0] < 3600:
            return made[1]
        if self._vapid is None:
            from cryptography.hazmat.primitives.serialization import load_pem_private_key
            from py_vapid import Vapid02  # type: ignore[import-untyped]

            assert self.keys is not None
            key = load_pem_private_key(self.keys.private_pem.encode(), password=None)
            # no-strict: "sub" may be our https site or a mailto:, or http:// on a test's loopback address.
            self._vapid = Vapid02(private_key=key, conf={"no-strict": True})
        claims = {"aud": audience, "sub": self.contact, "exp": int(time.time()) + JWT_SECONDS}
        header = str(self._vapid.sign(claims)["Authorization"])
        self._tokens[audience] = (time.monotonic(), header)
        return header

    async def record(self, claimed: Sequence[Claimed], results: Sequence[Result]) -> None:
        """Write down how each delivery went. Only rows still claimed by this node count (a lease that ran out
        gave them to another node, whose word is then the one that counts)."""
        at = now()
        counts: Counter[tuple[int, str]] = Counter()
        async with self.store.writing() as session:
            for delivery, result in zip(claimed, results, strict=True):
                outcome = result.outcome
                if outcome == Outcome.RETRY and delivery.attempts >= self.settings.push_max_attempts:
                    outcome = Outcome.FAILED
                mine = (PushDelivery.id == delivery.id, PushDelivery.claimed_by == self.node)
                if outcome == Outcome.RETRY:
                    wait = self.retry_wait(delivery.attempts, result.retry_after)
                    await session.execute(
                        update(PushDelivery)
                        .where(*mine)
                        .values(
                            next_at=at + timedelta(seconds=wait),
                            claimed_by=None,
                            claimed_until=None,
                            last_error=result.detail[:300],
                        )
                    )
                    self.on_outcome(outcome)
                    continue
                removed = await session.execute(delete(PushDelivery).where(*mine))
                if not removed.rowcount:  # type: ignore[attr-defined]
                    continue
                if outcome == Outcome.GONE:
                    await session.execute(delete(PushSubscription).where(PushSubscription.token == delivery.token))
                if outcome in (Outcome.FAILED, Outcome.EXPIRED):
                    log_event(
                        "push_failed", logging.WARNING, alert=delivery.alert_id, outcome=outcome, error=result.detail
                    )
                counts[delivery.alert_id, outcome] += 1
                self.on_outcome(outcome)
            for (alert_id, outcome), n in counts.items():
                column = {Outcome.SENT: "sent", Outcome.GONE: "gone"}.get(outcome, "failed")
                if outcome == Outcome.CANCELLED:
                    continue
                await session.execute(
                    update(PushAlert).where(PushAlert.id == alert_id).values({column: getattr(PushAlert, column) + n})
                )

    def retry_wait(self, attempts: int, retry_after: float | None) -> float:
        """Seconds until the next attempt: doubling from TICKER_PUSH_RETRY_SECONDS (jittered), or the push
        service's Retry-After, at most TICKER_PUSH_RETRY_MAX_SECONDS."""
        if retry_after is not None:
            return min(self.settings.push_retry_max_seconds, retry_after)
        wait = self.settings.push_retry_seconds * 2.0 ** min(attempts - 1, 32)
        return min(self.settings.push_retry_max_seconds, wait) * random.uniform(0.75, 1.0)


async def _entry_gone(session: Any, alert: PushAlert) -> bool:
    """The alert's entry was retracted (or removed) before the alert went out."""
    if alert.entry_id is None:
        return False
    retracted = await session.scalar(select(Entry.retracted).where(Entry.id == alert.entry_id))
    return retracted is None or bool(retracted)


async def _sent_within_hour(session: Any, alert: PushAlert) -> int:
    """Alerts about the incident that went out in the hour before this one was made (urgent ones too)."""
    query = select(func.count()).where(
        PushAlert.incident_id == alert.incident_id,
        PushAlert.state == State.SENDING,
        PushAlert.created_at > alert.created_at - timedelta(hours=1),
        PushAlert.created_at <= alert.created_at,
        PushAlert.id != alert.id,
    )
    return int(await session.scalar(query) or 0)
