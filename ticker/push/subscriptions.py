"""Readers' subscriptions: what a browser's PushSubscription may be, and adding and removing one.

A subscription names the address we will POST to, so it is checked before it is kept: https (plain http only
where TICKER_FETCH_ALLOW_LOOPBACK lets the tests' loopback push service in), a host among TICKER_PUSH_SERVICES
(the browsers' own push services; nothing else is ever sent to), and keys that are what RFC 8291 says: a P-256
point and a 16-byte secret. What is refused changes nothing and says which field (422).

No account and no cookie: the browser holds the subscription, and the reader an unsubscribe token; the token
alone removes the subscription (the page's button, the link in every notification).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ticker.config import Settings
from ticker.errors import Refused
from ticker.push.alerts import followers
from ticker.push.keys import b64url_decode
from ticker.push.tables import PushSubscription
from ticker.store.sql import Store, now
from ticker.store.tables import Incident
from ticker.store.tombstone import standing

MAX_ENDPOINT_CHARS = 1024  # the push services' addresses are 150 to 500 characters


def service_hosts(text: str) -> tuple[str, ...]:
    """TICKER_PUSH_SERVICES as host names, lower case; ValueError for an entry that is not a host name."""
    hosts = tuple(part.strip().lower().rstrip(".") for part in text.split(",") if part.strip())
    for host in hosts:
        labels = host.split(".")
        if not all(label and len(label) <= 63 and label.replace("-", "").isalnum() for label in labels):
            raise ValueError(f"{host!r} is not a host name")
    return hosts


@dataclass(frozen=True)
class PushRules:
    services: tuple[str, ...]
    allow_http: bool  # the tests' loopback push service (TICKER_FETCH_ALLOW_LOOPBACK)
    max_subscriptions: int

    @classmethod
    def of(cls, settings: Settings) -> PushRules:
        return cls(
            service_hosts(settings.push_services), settings.fetch_allow_loopback, settings.push_max_subscriptions
        )

    def allows_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(host == allowed or host.endswith("." + allowed) for allowed in self.services)


@dataclass(frozen=True)
class NewSubscription:
    endpoint: str
    p256dh: str
    auth: str
    lang: str


def checked(endpoint: str, p256dh: str, auth: str, rules: PushRules, lang: str) -> NewSubscription:
    """A PushSubscription's fields (``subscription.toJSON()``), checked; Invalid naming the field otherwise."""
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(p256dh))
    except ValueError:
        raise Refused.invalid("keys.p256dh", "keys.p256dh must be a P-256 public key in base64url (65 bytes)") from None
    try:
        secret = b64url_decode(auth)
    except ValueError:
        secret = b""
    if len(secret) != 16:
        raise Refused.invalid("keys.auth", "keys.auth must be 16 bytes in base64url")
    return NewSubscription(checked_endpoint(endpoint, rules), p256dh, auth, lang)


def checked_endpoint(endpoint: object, rules: PushRules) -> str:
    if not isinstance(endpoint, str) or not endpoint:
        raise Refused.invalid(
            "endpoint", "endpoint is required: the push service's address from the browser's subscription"
        )
    if len(endpoint) > MAX_ENDPOINT_CHARS:
        raise Refused.invalid("endpoint", f"endpoint is longer than {MAX_ENDPOINT_CHARS} characters")
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018  # raises for a port that is not a number
    except ValueError:
        raise Refused.invalid("endpoint", "endpoint is not a valid address") from None
    schemes = ("https", "http") if rules.allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname or parts.username is not None or parts.password is not None:
        raise Refused.invalid("endpoint", "endpoint must be an https:// address with a host and no user name")
    if any(ord(c) <= 32 or ord(c) == 127 for c in endpoint):
        raise Refused.invalid("endpoint", "endpoint must not hold spaces or control characters")
    if not rules.allows_host(parts.hostname):
        raise Refused.invalid(
            "endpoint", f"{parts.hostname} is not a push service this site sends to (TICKER_PUSH_SERVICES)"
        )
    return endpoint


async def subscribe(store: Store, slug: str, new: NewSubscription, max_subscriptions: int) -> str:
    """Keep the browser's subscription to the incident; returns its unsubscribe token (the same one again for a
    browser that follows it already)."""
    token = "ps_" + secrets.token_urlsafe(24)
    for _attempt in range(2):
        try:
            async with store.writing() as session:
                incident = standing(await session.scalar(select(Incident).where(Incident.slug == slug)))
                if incident.status != "live":
                    raise Refused.conflict("the incident is closed: there will be no more alerts about it", "incident")
                found = await session.scalar(
                    select(PushSubscription).where(
                        PushSubscription.incident_id == incident.id, PushSubscription.endpoint == new.endpoint
                    )
                )
                if found is not None:  # the same browser again: its keys may be new, its link stays
                    found.p256dh, found.auth, found.lang = new.p256dh, new.auth, new.lang
                    return found.token
                # Not locked against a concurrent subscribe: a burst may pass the bound by the requests in flight.
                if await followers(session, incident.id) >= max_subscriptions:
                    raise Refused.conflict(
                        f"this incident has as many followers as it may have ({max_subscriptions}; "
                        "TICKER_PUSH_MAX_SUBSCRIPTIONS)",
                        "incident",
                    )
                session.add(
                    PushSubscription(
                        incident_id=incident.id,
                        endpoint=new.endpoint,
                        p256dh=new.p256dh,
                        auth=new.auth,
                        lang=new.lang,
                        token=token,
                        created_at=now(),
                    )
                )
            return token
        except IntegrityError:
            continue  # the same browser subscribed at the same moment on another request: renew that one
    raise Refused.conflict("the subscription changed while it was being kept; send it again", "endpoint")


async def unsubscribe(store: Store, token: str) -> str | None:
    """Remove the subscription the token is for; the incident's slug, or None when there was none."""
    async with store.writing() as session:
        row = (
            await session.execute(
                select(PushSubscription.id, Incident.slug)
                .join(Incident, Incident.id == PushSubscription.incident_id)
                .where(PushSubscription.token == token)
            )
        ).first()
        if row is None:
            return None
        await session.execute(delete(PushSubscription).where(PushSubscription.id == row[0]))
    return str(row[1])


async def subscribed_incident(store: Store, token: str) -> Incident | None:
    """The incident the token's subscription follows, or None."""
    async with store.reading() as session:
        found: Incident | None = await session.scalar(
            select(Incident)
            .join(PushSubscription, PushSubscription.incident_id == Incident.id)
            .where(PushSubscription.token == token)
        )
    return found
