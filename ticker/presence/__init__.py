"""Viewer counts: how many readers follow each incident now, and how many each partner's embeds have, across
every node. Chosen like the broker: in memory embedded, through Redis when there is one.

A follower is a connection the hub fans out to (a reader page, an embed, a newsroom page) that follows exactly
one incident: a front page, which follows every live incident to keep its list fresh, follows none of them
in particular and is not counted. Embedded (one process), the local hub is the whole truth (memory.py). With
Redis (redis.py), every ``presence_seconds`` each node replaces its own hashes ``ticker:presence:<table>:<node>``
(incident → count and partner → count, with a TTL of a few rounds so a dead node's readers fade away) and sums
every node's hashes into tables it keeps in memory. A page asks those tables: no Redis call per request, nothing
per reader per event.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from ticker.config import Settings
from ticker.live.hub import Hub


class Presence(Protocol):
    def counts(self, table: str = "incidents") -> Counter[str]:
        """Open connections by incident (or by partner: ``"partners"``) on every node."""

    def count(self, slug: str) -> int: ...

    def most_followed(self, limit: int) -> list[tuple[str, int]]: ...

    def start(self) -> None: ...

    async def stop(self) -> None: ...


def presence_for(settings: Settings, hub: Hub) -> Presence:
    if settings.redis_url is None:
        from ticker.presence.memory import MemoryPresence

        return MemoryPresence(hub)
    from ticker.presence.redis import RedisPresence

    return RedisPresence(hub, settings.redis_url, settings.presence_seconds, settings.redis_timeout_seconds)
