"""The sources' tables: what each source is and how it last answered, the items it gave, and the poller's lease.

Like the newsroom's own tables, none of this is public: no incident event carries it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ticker.store.tables import Base, UTCDateTime


class Source(Base):
    """A public feed an admin added: where it is, how often to ask, which of its items the desk wants."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # ticker.sources.kinds.KINDS
    url: Mapped[str] = mapped_column(String(500))
    interval_seconds: Mapped[int] = mapped_column(Integer)
    places: Mapped[str] = mapped_column(Text)  # a JSON list: only items about these places (none: all)
    types: Mapped[str] = mapped_column(Text)  # a JSON list: only items of these types (none: all)
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # How it last answered, kept for the next conditional request and for the desk's status line.
    etag: Mapped[str | None] = mapped_column(String(300))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # it last gave a usable answer (or 304)
    last_error: Mapped[str | None] = mapped_column(Text)  # in plain Swedish; None since the last good answer
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer)  # in a row: the backoff grows with it
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SourceItem(Base):
    """One item a source gave (a police event, an alert, a feed entry), stored once by the source's own id."""

    __tablename__ = "source_items"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_source_items_source_id_external_id"),
        Index("ix_source_items_kept_at", "kept_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(String(500))
    type: Mapped[str] = mapped_column(String(120))
    place: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when it happened, as the source says
    vma: Mapped[bool] = mapped_column(Boolean)  # an alert to the public (Viktigt meddelande till allmänheten)
    fingerprint: Mapped[str] = mapped_column(String(64))  # of what the desk shows: a new one means changed
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the source last changed it
    kept_at: Mapped[datetime] = mapped_column(UTCDateTime)  # retention counts from here: happened, else first seen
    revision: Mapped[int] = mapped_column(Integer)  # 1, and one more each time the source changes it
    version: Mapped[int] = mapped_column(Integer)  # one more on any change, the desk's too (live updates)
    state: Mapped[str] = mapped_column(String(10))  # new, watched, dismissed
    state_by: Mapped[str | None] = mapped_column(String(120))
    incident_slug: Mapped[str | None] = mapped_column(String(80))  # the ticker started from it


class SourceLease(Base):
    """Who polls: the node whose lease has not run out. One row per lease name."""

    __tablename__ = "source_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
