"""The tips' tables. Nothing here is public: no incident event carries a tip, only an answer's entry does."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticker.store.tables import Base, UTCDateTime


class Tip(Base):
    """One reader's tip or question, as sent (the photo without its metadata), and what the desk did with it."""

    __tablename__ = "tips"
    __table_args__ = (
        Index("ix_tips_created_at", "created_at"),  # the janitor's and the rate limit's range
        Index("ix_tips_client_created_at", "client", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))  # None: general
    kind: Mapped[str] = mapped_column(String(10))  # tip | question
    body: Mapped[str] = mapped_column(Text)  # plain text, as the reader wrote it
    name: Mapped[str] = mapped_column(String(200))  # "" when not given
    may_name: Mapped[bool] = mapped_column(Boolean)  # the reader agreed to be named in an answer
    contact: Mapped[str] = mapped_column(String(200))  # never public; "" when not given
    photo: Mapped[bytes | None] = mapped_column(LargeBinary)  # a JPEG made afresh by ticker.media.images
    client: Mapped[str] = mapped_column(String(64))  # a keyed hash of the sender's address (the rate limit)
    fingerprint: Mapped[str] = mapped_column(String(64))  # of the sender, incident and text: duplicates
    deletion: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the reader's deletion code
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(10))  # new | answered | discarded
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    entry_id: Mapped[int | None] = mapped_column(Integer)  # the answer's entry
    version: Mapped[int] = mapped_column(Integer)  # one more on each change (the desk keeps the newest)


class TipKey(Base):
    """The installation's secret for the tip forms' tokens and the senders' hashes: made once, the same on every
    node (the one row, id 1)."""

    __tablename__ = "tip_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
