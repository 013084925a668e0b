"""The push tables: the VAPID key, readers' subscriptions, alerts (the outbox) and their deliveries (the queue).

None of it is public: a subscription's address and keys are the reader's browser's, and only its unsubscribe
token, which the reader holds (in every notification), finds it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ticker.store.tables import Base, UTCDateTime


class PushKey(Base):
    """The installation's VAPID key pair (RFC 8292): one row, made by the first node that needs it."""

    __tablename__ = "push_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1: a second node's insert fails on it
    private_pem: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(String(100))  # base64url of the uncompressed P-256 point
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PushSubscription(Base):
    """A browser that follows an incident: where its push service takes messages, and its keys (RFC 8291)."""

    __tablename__ = "push_subscriptions"
    __table_args__ = (UniqueConstraint("incident_id", "endpoint", name="uq_push_subscriptions_incident_id_endpoint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    endpoint: Mapped[str] = mapped_column(String(1024))
    p256dh: Mapped[str] = mapped_column(String(100))
    auth: Mapped[str] = mapped_column(String(40))
    lang: Mapped[str] = mapped_column(String(2))
    # The unsubscribe link's: it can only remove this row, and the endpoint and keys beside it are worth more.
    token: Mapped[str] = mapped_column(String(48), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PushAlert(Base):
    """One alert about an incident, written in the same transaction as the event that caused it.

    ``state``: queued (not yet turned into deliveries), sending (its deliveries are made), held (over
    TICKER_PUSH_ALERTS_PER_HOUR), cancelled (its entry was retracted, or the incident deleted, before it went).
    """

    __tablename__ = "push_alerts"
    __table_args__ = (
        Index("ix_push_alerts_incident_id_created_at", "incident_id", "created_at"),
        Index("ix_push_alerts_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # key_event | closed | urgent
    entry_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: a takedown removes entries, not alerts
    seq: Mapped[int | None] = mapped_column(Integer)  # the event's; None for an editor's urgent alert
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(
        Text
    )  # the entry's text, shortened; "" for a close (said in the reader's language)
    path: Mapped[str] = mapped_column(String(300))  # /i/{slug}#entry-{id}: where the notification leads
    state: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(120))  # the editor who sent it urgent
    expanded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    gone: Mapped[int] = mapped_column(Integer, default=0)  # the push service said the subscription is no more
    failed: Mapped[int] = mapped_column(Integer, default=0)


class PushDelivery(Base):
    """One alert to one subscription, waiting to be sent (or retried). Removed once sent or given up."""

    __tablename__ = "push_deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "subscription_id", name="uq_push_deliveries_alert_id_subscription_id"),
        Index("ix_push_deliveries_next_at", "next_at"),
        Index("ix_push_deliveries_subscription_id", "subscription_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("push_alerts.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("push_subscriptions.id", ondelete="CASCADE"))
    attempts: Mapped[int] = mapped_column(Integer)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(32))  # the node sending it now
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # after this another node may take it
    last_error: Mapped[str | None] = mapped_column(String(300))
