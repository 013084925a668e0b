"""A lease held through SQL, so that exactly one node at a time polls the sources however many run.

One row per lease: its holder and until when. Taking or renewing it is one conditional UPDATE (ours already, or
run out), which PostgreSQL and SQLite both apply atomically: of two nodes asking at once, one changes the row and
the other finds it taken. The holder renews it well before it runs out; a node that stops gives it up at once,
and one that dies (or is cut off from the database) loses it when it runs out, when another node takes it.

Expiry is judged by each node's clock, so nodes' clocks must agree to well within the lease (NTP does); and a
holder that stalls past its lease may still finish a poll it had begun. Neither doubles anything: items are
stored once by their sources' ids, whichever node stores them.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from ticker.sources.model import SourceLease
from ticker.store.sql import Store, now


class Lease:
    def __init__(self, store: Store, name: str, holder: str, seconds: float) -> None:
        self.store = store
        self.name = name
        self.holder = holder
        self.seconds = seconds

    async def hold(self) -> bool:
        """Take the lease, or renew it if it is ours; False while another node holds it."""
        at = now()
        until = at + timedelta(seconds=self.seconds)
        try:
            async with self.store.writing() as session:
                taken = await session.execute(
                    update(SourceLease)
                    .where(
                        SourceLease.name == self.name,
                        or_(SourceLease.holder == self.holder, SourceLease.expires_at < at),
                    )
                    .values(holder=self.holder, expires_at=until)
                )
                if taken.rowcount:  # type: ignore[attr-defined]
                    return True
                if await session.scalar(select(SourceLease.name).where(SourceLease.name == self.name)) is not None:
                    return False
                session.add(SourceLease(name=self.name, holder=self.holder, expires_at=until))  # the first ever
        except IntegrityError:
            return False  # another node added the row first, and so holds it
        return True

    async def release(self) -> None:
        """Give the lease up (the node is stopping), so another node takes over at once."""
        async with self.store.writing() as session:
            await session.execute(
                update(SourceLease)
                .where(SourceLease.name == self.name, SourceLease.holder == self.holder)
                .values(holder="", expires_at=now() - timedelta(seconds=1))
            )

    async def holder_now(self) -> str | None:
        """Who holds the lease right now (None: nobody)."""
        async with self.store.reading() as session:
            row = (
                await session.execute(
                    select(SourceLease.holder, SourceLease.expires_at).where(SourceLease.name == self.name)
                )
            ).first()
        return row[0] if row is not None and row[0] and row[1] > now() else None
