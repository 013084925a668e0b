"""Notices between nodes: a logout or a removed partner closes its sockets on every node, not only on the
node that handled the request.

The node that handles the request closes its own sockets at once and announces the change on the Redis
channel ``ticker:notices``; every other node closes the same sockets when the notice arrives. Embedded (one
process, no Redis) there are no other nodes, and announcing does nothing. A notice is a courtesy on top of
what holds anyway: a logged-out session opens no new newsroom socket anywhere (its row is gone), and a removed
partner's origin is refused by every node once its partner cache expires (``TICKER_PARTNER_CACHE_SECONDS``).
A node that is away from Redis when a notice is sent misses it; its sockets of that session or partner then
stay open until they reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from starlette.requests import HTTPConnection

from ticker.backoff import backoff_delay
from ticker.broker.redis import REDIS_DOWN
from ticker.exceptions import CloseCode
from ticker.hub import Hub
from ticker.logs import log_event

CHANNEL = "ticker:notices"


def close_partner(hub: Hub, name: str) -> int:
    """Close the sockets a partner's embeds opened on this node (4100: do not reconnect)."""
    reason = "this site is no longer a partner"
    return hub.close_where(lambda reader: reader.partner == name, CloseCode.ORIGIN_NOT_ALLOWED, reason)


class Notices:
    def __init__(self, redis_url: str | None, hub: Hub, on_partner_removed: Callable[[], None]) -> None:
        self.redis_url = redis_url
        self.hub = hub
        self.on_partner_removed = on_partner_removed  # the origin policy forgets its cached partner list
        self.node = uuid.uuid4().hex
        self._client: aioredis.Redis | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.redis_url is not None:
            self._client = aioredis.from_url(self.redis_url, socket_timeout=5.0, socket_connect_timeout=2.0)
            self._task = asyncio.get_running_loop().create_task(self._listen(self.redis_url), name="notices")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    # Announcing.

    async def logged_out(self, session: int) -> None:
        await self._announce({"kind": "logout", "session": session})

    async def partner_removed(self, name: str) -> None:
        await self._announce({"kind": "partner_removed", "partner": name})

    async def _announce(self, notice: dict[str, Any]) -> None:
        if self._client is None:
            return
        try:
            await self._client.publish(CHANNEL, json.dumps({"node": self.node, **notice}))
        except REDIS_DOWN as exc:
            log_event("notice_failed", kind=notice["kind"], error=repr(exc))

    # Hearing.

    async def _listen(self, url: str) -> None:
        failures = 0
        while True:
            client = aioredis.from_url(url, socket_connect_timeout=2.0)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                failures = 0
                async for message in pubsub.listen():
                    self.apply(message["data"])
            except REDIS_DOWN as exc:
                log_event("notices_failed", error=repr(exc))
            finally:
                with contextlib.suppress(*REDIS_DOWN):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                await client.aclose()
            failures += 1
            await asyncio.sleep(backoff_delay(failures))  # then subscribe again

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
            else:
                return
        except (ValueError, KeyError, TypeError):
            log_event("notice_unreadable", notice=repr(raw)[:200])
            return
        log_event("notice_applied", kind=kind, closed_sockets=closed)


def notices(connection: HTTPConnection) -> Notices:
    found: Notices = connection.app.state.notices
    return found
