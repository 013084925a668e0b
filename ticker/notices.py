"""Notices between nodes: a logout or a removed partner closes its sockets on every node, not only on the
node that handled the request.

The node that handles the request closes its own sockets at once and adds a notice to the Redis stream
``ticker:notices``; every node reads that stream and closes the same sockets when the notice arrives. A node
away from Redis for a while (a restart of Redis, a network cut) reads on from the last notice it had when it is
back, so it misses none of the last ``KEEP`` notices; a node starts reading at the stream's end. Embedded (one
process, no Redis) there are no other nodes, and announcing does nothing. What must hold does not depend on
notices: a logged-out session opens no new newsroom socket anywhere (its row is gone), and a removed partner's
origin is refused by every node once its partner cache expires (``TICKER_PARTNER_CACHE_SECONDS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from ticker.background import Background
from ticker.backoff import backoff_delay
from ticker.errors import CloseCode
from ticker.live.hub import Hub
from ticker.logs import log_event
from ticker.redis import FIELD, NOTICES, REDIS_DOWN, client, xread_entries

KEEP = 1000  # notices the stream keeps: a node away for longer than that many notices misses the oldest


def close_partner(hub: Hub, name: str) -> int:
    """Close the sockets a partner's embeds opened on this node (4100: do not reconnect)."""
    reason = "this site is no longer a partner"
    return hub.close_where(lambda reader: reader.partner == name, CloseCode.ORIGIN_NOT_ALLOWED, reason)


class Notices:
    def __init__(
        self,
        redis_url: str | None,
        hub: Hub,
        on_partner_removed: Callable[[], None],
        *,
        block_seconds: float = 5.0,
        timeout: float = 5.0,
    ) -> None:
        self.redis_url = redis_url
        self.hub = hub
        self.on_partner_removed = on_partner_removed  # the origin policy forgets its cached partner list
        self.block_seconds = block_seconds
        self.timeout = timeout  # TICKER_REDIS_TIMEOUT_SECONDS
        self.node = uuid.uuid4().hex
        self.listening = False  # reading the stream from a known position (and Redis answered since)
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {}  # other kinds: ``on``
        self._client: Redis | None = None
        self._task: Background | None = None

    def start(self) -> None:
        if self.redis_url is not None:
            self._client = client(self.redis_url, self.timeout)
            self._task = Background("notices", functools.partial(self._listen, self.redis_url))
            self._task.start()

    async def stop(self) -> None:
        if self._task is not None:
            await self._task.stop()
        if self._client is not None:
            await self._client.aclose()

    # Announcing.

    async def logged_out(self, session: int) -> None:
        await self._announce({"kind": "logout", "session": session})

    async def partner_removed(self, name: str) -> None:
        await self._announce({"kind": "partner_removed", "partner": name})

    def on(self, kind: str, handler: Callable[[dict[str, Any]], None]) -> None:
        """Hear the notices of ``kind`` that other nodes ``announce`` (a handler that must wait starts a task)."""
        self.handlers[kind] = handler

    async def announce(self, kind: str, **fields: Any) -> bool:
        """Tell every other node (this node acts on its own news itself); False when Redis did not take it."""
        return await self._announce({"kind": kind, **fields})

    async def _announce(self, notice: dict[str, Any]) -> bool:
        if self._client is None:
            return True  # embedded: there is no other node
        try:
            data = json.dumps({"node": self.node, **notice})
            await self._client.xadd(NOTICES, {FIELD: data}, maxlen=KEEP, approximate=True)
        except REDIS_DOWN as exc:
            log_event("notice_failed", logging.WARNING, kind=notice["kind"], error=repr(exc))
            return False
        return True

    # Hearing.

    async def _listen(self, url: str) -> None:
        """Read the stream from where this node is, through any outage: ids are times, so they go on rising
        across a restart of Redis too, and the last one read is where to go on from."""
        # A blocking read that outlives its block time by the command timeout means a frozen Redis or a cut network.
        reader = client(url, self.timeout, block_seconds=self.block_seconds)
        last: bytes | None = None
        failures = 0
        try:
            while True:
                try:
                    if not self.listening:  # connected and let in, and knowing where to read from, first
                        await reader.ping()
                        if last is None:
                            newest: Any = await reader.xrevrange(NOTICES, count=1)
                            last = newest[0][0] if newest else b"0-0"
                        self.listening = True
                    assert last is not None  # known before listening
                    reply = await reader.xread({NOTICES: last}, count=100, block=int(self.block_seconds * 1000))
                except REDIS_DOWN as exc:
                    self.listening = False
                    failures += 1
                    log_event("notices_failed", logging.WARNING, error=repr(exc))
                    await asyncio.sleep(backoff_delay(failures))
                    continue
                failures = 0
                for _key, entries in xread_entries(reply):
                    for entry_id, fields in entries:
                        last = entry_id
                        self.apply(fields.get(FIELD, b""))
        finally:
            self.listening = False
            with contextlib.suppress(*REDIS_DOWN):
                await reader.aclose()

    def apply(self, raw: bytes) -> None:
        """Act on another node's notice; this node's own, and anything unreadable, are ignored."""
        try:
            notice = json.loads(raw)
            if notice["node"] == self.node:
                return
            kind = notice["kind"]
            if kind == "logout":
                closed = self.hub.close_owned(int(notice["session"]), CloseCode.SESSION_ENDED, "logged out")
            elif kind == "partner_removed":
                self.on_partner_removed()
                closed = close_partner(self.hub, str(notice["partner"]))
            elif kind in self.handlers:
                self.handlers[kind](notice)
                return
            else:
                return
        except (ValueError, KeyError, TypeError):
            log_event("notice_unreadable", logging.WARNING, notice=repr(raw)[:200])
            return
        log_event("notice_applied", kind=kind, closed_sockets=closed)


async def announce_logouts(redis_url: str, timeout: float, sessions: list[int]) -> None:
    """From outside any node (``ticker user disable``, ``user delete``): every node closes the sockets of these
    ended sessions when it reads the notices, as if another node had announced their logouts."""
    sender = client(redis_url, timeout)
    try:
        for session in sessions:
            data = json.dumps({"node": "cli", "kind": "logout", "session": session})
            await sender.xadd(NOTICES, {FIELD: data}, maxlen=KEEP, approximate=True)
    finally:
        await sender.aclose()
