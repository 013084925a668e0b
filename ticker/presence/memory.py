"""This node's viewer counts, from its own hub: the whole truth for a node that is alone."""

from __future__ import annotations

import time
from collections import Counter

from ticker.live.hub import Hub

TABLES = ("incidents", "partners")
LOCAL_SECONDS = 1.0


class MemoryPresence:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._local: dict[str, dict[str, int]] = {t: {} for t in TABLES}
        self._local_at = -float("inf")

    def local(self, table: str = "incidents") -> dict[str, int]:
        """This node's counts, taken at most once a second (a walk over its readers)."""
        now = time.monotonic()
        if now - self._local_at >= LOCAL_SECONDS:
            incidents = {}
            for slug, topic in self.hub.topics.items():
                n = sum(1 for r in topic.followers() if len(r.topics) == 1)
                if n:
                    incidents[slug] = n
            partners = Counter(r.partner for r in self.hub.readers if r.partner is not None)
            self._local, self._local_at = {"incidents": incidents, "partners": dict(partners)}, now
        return self._local[table]

    def counts(self, table: str = "incidents") -> Counter[str]:
        return Counter(self.local(table))

    def count(self, slug: str) -> int:
        return self.counts()[slug]

    def most_followed(self, limit: int) -> list[tuple[str, int]]:
        return [(slug, n) for slug, n in self.counts().most_common(limit) if n > 0]

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass
