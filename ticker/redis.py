"""Redis, for every part of a node that uses it: the one way to make a client, what "Redis is down" raises, and
every key name.

One policy for every client (the broker, presence, notices, node figures, the CLI's notices): a command that
gets no reply within ``TICKER_REDIS_TIMEOUT_SECONDS`` raises, and so does a connection not made within
``CONNECT_SECONDS``, so a frozen Redis or a cut network shows instead of hanging. No retries inside redis-py:
every caller already loops (the relay and the notices with backoff, presence and node figures each round), and a
retry hidden below it would only stretch one failure into several timeouts before anyone logs it.

Blocking reads (XREAD ... BLOCK) use a client with one connection of its own, never one from the command pool:
a cancelled or timed-out XREAD leaves its reply unread on the socket, so that connection is thrown away, not
reused. Its socket timeout is the block time plus the command timeout.

Keys, all under ``ticker:``:

- ``ticker:incident:<slug>``: an incident's events (a stream; ids from seq; ticker.broker.redis)
- ``ticker:wake:<node>``: a node's wake-up stream, which ends its pending XREAD when its topics change
- ``ticker:notices``: notices between nodes (a stream; ticker.notices)
- ``ticker:presence:<table>:<node>``: a node's viewer counts, by incident or by partner (hashes; ticker.presence)
- ``ticker:nodes:<node>``: a node's figures for /desk/status (a JSON string; ticker.node_stats)
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

# What a call to Redis raises when Redis is away. Under uvloop (uvicorn's default loop) a write to a connection the
# peer has just reset raises RuntimeError ("the handler is closed"), not OSError, and redis-py lets it through:
# seen when Redis is killed while a connection to it is being set up (tests/test_broker_contract.py).
REDIS_DOWN = (RedisError, OSError, RuntimeError)
CONNECT_SECONDS = 2.0

FIELD = b"d"  # the one field of a stream entry (an event's payload, a notice)
INCIDENT_PREFIX = "ticker:incident:"
NOTICES = "ticker:notices"


def client(url: str, timeout: float, *, block_seconds: float | None = None) -> aioredis.Redis:
    """A client with the policy above; ``timeout`` is TICKER_REDIS_TIMEOUT_SECONDS. With ``block_seconds``, a
    client for blocking reads of up to that long: one connection of its own, and the time to wait for them."""
    return aioredis.from_url(
        url,
        socket_timeout=timeout + (block_seconds or 0.0),
        socket_connect_timeout=CONNECT_SECONDS,
        retry=Retry(NoBackoff(), 0),
        single_connection_client=block_seconds is not None,
    )


def stream_key(topic: str) -> str:
    """An incident's stream."""
    return INCIDENT_PREFIX + topic


def topic_of(key: bytes) -> str | None:
    """The incident whose stream ``key`` is; None for any other key."""
    name = key.decode()
    return name[len(INCIDENT_PREFIX) :] if name.startswith(INCIDENT_PREFIX) else None


def wake_key(node: str) -> str:
    return f"ticker:wake:{node}"


def presence_key(table: str, node: str) -> str:
    """A node's viewer counts for ``table`` (incidents, partners); ``node`` "*" matches every node's."""
    return f"ticker:presence:{table}:{node}"


def nodes_key(node: str) -> str:
    """A node's figures; ``node`` "*" matches every node's."""
    return f"ticker:nodes:{node}"


def xread_entries(reply: Any) -> list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]:
    """XREAD's reply as (key, entries) pairs, whether the server spoke RESP2 (a list) or RESP3 (a map)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return list(reply.items())
    return [(key, entries) for key, entries in reply]
