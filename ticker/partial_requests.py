"""Deadlines for requests that arrive slowly, and a bound on how many may be arriving at once.

A connection holds a file descriptor and some memory from the moment it is accepted, and uvicorn's keep-alive
timeout covers only the idle time between two requests. A client that sends its request line and headers a
byte at a time (slowloris), or its body (under the body limit, a byte a second is 18 hours), would hold them
for as long as it liked, and a few thousand such clients would use up the node's sockets. So a request must
arrive in time:

- its head (request line and headers) within ``header_timeout_seconds``: counted from the connection's
  opening for its first request, and from its first byte for a later one on a keep-alive connection (uvicorn's
  keep-alive timeout covers the idle time before that byte);
- its body within ``body_timeout_seconds`` of the end of its head, in total (not per read, which a byte now
  and then would satisfy).

A request that is late is answered 408 with a JSON error, unless an answer is already on its way, and its
connection is closed. A connection that has sent nothing at all is closed without an answer, as nginx does:
there is no request to answer.

Those deadlines bound how long a slow connection lives; ``max_partial_requests`` bounds how many may be in the
middle of sending a request at once, however fast a client opens them. Above it the node closes the oldest, not
the newcomer: refusing newcomers would hand the node to whoever opened slow connections first, while an honest
client sends its whole request in its first packets, so it is never the oldest for long.

Every request passes through here, so this stays cheap: a timer handle per request and an ordered dict entry
per connection, no task.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from typing import Any, Protocol

from ticker.config import Settings
from ticker.errors import Refused
from ticker.live.gate import LANE_STATE, Lane

PARTIAL_REQUESTS = "ticker.partial_requests"  # the lifespan-state key of a node's PartialRequests


class Expiring(Protocol):
    def expire(self, evicted: bool = False) -> None:
        """The request is late (or, ``evicted``, the oldest of too many): answer 408 if nothing was, and close."""


class PartialRequests:
    """One node's connections that are still sending a request, oldest first, and the deadlines they have."""

    __slots__ = ("body_timeout", "head_timeout", "limit", "loop", "waiting")

    def __init__(self, settings: Settings, loop: asyncio.AbstractEventLoop) -> None:
        self.head_timeout = settings.header_timeout_seconds
        self.body_timeout = settings.body_timeout_seconds
        self.limit = max(1, settings.max_partial_requests)
        self.loop = loop
        self.waiting: OrderedDict[asyncio.BaseTransport, Expiring] = OrderedDict()

    def add(self, transport: asyncio.BaseTransport, connection: Expiring) -> None:
        """``connection`` has begun a request; if that makes too many, the oldest one is closed."""
        waiting = self.waiting
        if len(waiting) >= self.limit:
            _, oldest = waiting.popitem(last=False)
            oldest.expire(evicted=True)
        waiting[transport] = connection

    def hand_over(self, transport: asyncio.BaseTransport, connection: Expiring) -> None:
        """Another protocol object now reads the request on ``transport``; it keeps its place in the line."""
        self.waiting[transport] = connection

    def discard(self, transport: asyncio.BaseTransport) -> None:
        self.waiting.pop(transport, None)


def partial_requests(app_state: dict[str, Any]) -> PartialRequests:
    """The node's PartialRequests, made on its first connection from the settings its Lane carries."""
    found: PartialRequests | None = app_state.get(PARTIAL_REQUESTS)
    if found is None:
        lane: Lane | None = app_state.get(LANE_STATE)
        settings = lane.settings if lane is not None else Settings()
        found = app_state[PARTIAL_REQUESTS] = PartialRequests(settings, asyncio.get_running_loop())
    return found


def late_request(
    partial: PartialRequests, in_body: bool, evicted: bool, default_headers: list[tuple[bytes, bytes]]
) -> bytes:
    """The 408 for a request that did not arrive in time, with ``Connection: close``."""
    part, timeout = ("body", partial.body_timeout) if in_body else ("headers", partial.head_timeout)
    if evicted:
        message = f"the request's {part} did not arrive before too many other requests were waiting for theirs"
    else:
        message = f"the request's {part} did not arrive within {timeout:g} seconds"
    body = json.dumps(Refused("request_timeout", message, part).body(), separators=(",", ":")).encode()
    head = [b"HTTP/1.1 408 Request Timeout\r\n"]
    head += [name + b": " + value + b"\r\n" for name, value in default_headers]
    head.append(b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body))
    return b"".join(head) + body
