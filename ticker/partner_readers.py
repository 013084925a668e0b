"""Readers of partners' embeds: how many each partner has now (the hub's tagged readers) and per day in SQL.

A day's row holds the sockets opened through the partner's embeds and the most open at once over every node,
sampled at every flush (``TICKER_PARTNER_COUNTS_FLUSH_SECONDS``). Days are Europe/Stockholm days.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, datetime

from ticker.background import Background
from ticker.i18n import TIMEZONE
from ticker.live.hub import Hub
from ticker.logs import log_event
from ticker.store.partners import PartnerInfo, ReaderCount, add_reader_counts
from ticker.store.sql import Store


def today() -> date:
    return datetime.now(TIMEZONE).date()


class PartnerReaders:
    def __init__(
        self, store: Store, hub: Hub, flush_seconds: float, everywhere: Callable[[], Counter[str]] | None = None
    ) -> None:
        self.store = store
        self.hub = hub
        self.flush_seconds = flush_seconds
        # Open connections per partner on every node (ticker.presence); embedded, this node's are all there are.
        self.everywhere = everywhere or self.now
        self._ids: dict[str, int] = {}
        self._opened: Counter[tuple[date, int]] = Counter()
        self._task = Background("partner-readers", self._run)

    def opened(self, partner: PartnerInfo | None) -> str | None:
        """Count a new reader for the partner whose embed opened it; the name to tag it with in the hub."""
        if partner is None:
            return None
        self._ids[partner.name] = partner.id
        self._opened[today(), partner.id] += 1
        return partner.name

    def now(self) -> Counter[str]:
        """Open connections per partner name on this node (ticker.presence sums them over every node)."""
        return Counter(r.partner for r in self.hub.readers if r.partner is not None)

    async def flush(self) -> None:
        opened, self._opened = self._opened, Counter()
        rows: dict[date, dict[int, ReaderCount]] = defaultdict(dict)
        for name, count in self.everywhere().items():
            if name in self._ids:  # a partner this node has served; the nodes serving the others write theirs
                rows[today()][self._ids[name]] = ReaderCount(0, count)
        for (day, partner_id), count in opened.items():
            rows[day][partner_id] = ReaderCount(count, rows[day].get(partner_id, ReaderCount(0, 0)).peak)
        for day, counts in sorted(rows.items()):
            try:
                await add_reader_counts(self.store, day, counts)
            except Exception as exc:  # the store may be briefly away: keep the tally for the next round
                self._opened.update({(day, p): c.opened for p, c in counts.items() if c.opened})
                log_event("partner_counts_flush_failed", logging.WARNING, error=repr(exc))

    def start(self) -> None:
        self._task.start()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            await self.flush()

    async def stop(self) -> None:
        await self._task.stop()
        await self.flush()
