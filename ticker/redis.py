"""Redis, for every part of a node that uses it: the one way to make a client, what "Redis is down" raises, and
every key name.

One policy for every client (the broker, presence, notices, node figures, the CLI's notices): a command that
gets no reply within ``TICKER_REDIS_TIMEOUT_SECONDS`` raises, and so does a connection not made within
``CONNECT_SECONDS``, so a frozen Redis or a cut network shows instead of hanging. No retries inside redis-py:
every caller already loops (the relay and the notices with backoff, presence and node figures each round), and a
retry hidden below it would only stretch one failure into several timeouts before anyone logs it.

Blocking reads (XREAD ... BLOCK) use a client with one connection of its own (through Sentinel, a pool of its
own: ``SentinelClient``), never one from the command pool: a cancelled or timed-out XREAD leaves its reply
unread on the socket, so that connection is thrown away, not reused. Its socket timeout is the block time plus
the command timeout.

Sentinel: ``redis+sentinel://[user:password@]host[:port][,host[:port]...]/service[/db]`` names the sentinels
(port 26379 unless given) and the service they watch; ``?sentinel_username=...&sentinel_password=...`` when the
sentinels themselves ask for a login (user and password in front are the primary's). A client of such a URL
(``SentinelClient``) asks the sentinels where the primary is each time it opens a connection, so once the old
primary's connections fail (killed: a connection error; demoted to a replica: redis-py turns its READONLY into
a connection error and drops the connection) the caller's next try reaches the new one. An old primary that
stays up (``SENTINEL FAILOVER``, a partition between it and the sentinels) fails nothing, though: Sentinel
demotes it only seconds later, and every write it takes meanwhile is dropped with its demotion. So the client
also asks the sentinels, at most every ``FOLLOW_SECONDS`` as it takes a connection, and reconnects a connection
that is not to the primary they name. Nothing else changes for the caller: a failover is Redis away for a few
seconds (``REDIS_DOWN``), which every caller already survives.

Keys, all under ``ticker:``:

- ``ticker:incident:<slug>``: an incident's events (a stream; ids from seq; ticker.broker.redis)
- ``ticker:wake:<node>``: a node's wake-up stream, which ends its pending XREAD when its topics change
- ``ticker:notices``: notices between nodes (a stream; ticker.notices)
- ``ticker:presence:<table>:<node>``: a node's viewer counts, by incident or by partner (hashes; ticker.presence)
- ``ticker:nodes:<node>``: a node's figures for /desk/status (a JSON string; ticker.node_stats)
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
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

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379
SENTINEL_FORM = "redis+sentinel://host:26379,host2:26379,host3:26379/mymaster/0"
SENTINEL_PARAMS = ("sentinel_username", "sentinel_password")
FOLLOW_SECONDS = 1.0  # how often a Sentinel client asks where the primary is, besides on every new connection


@dataclass(frozen=True)
class SentinelAddress:
    """What a ``redis+sentinel://`` URL names: the sentinels, the service (their name for the primary), the
    database, the primary's login and the sentinels' own."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None


def sentinel_address(url: str) -> SentinelAddress | None:
    """The sentinels and service of a Sentinel URL; None for any other URL. A broken one raises ValueError
    saying what is wrong."""
    scheme, found, rest = url.partition("://")
    if not found or scheme.lower() != SENTINEL_SCHEME:
        return None
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    login, _, hosts = netloc.rpartition("@")
    sentinels = tuple(_sentinel(part) for part in hosts.split(","))
    service, _, db = path.strip("/").partition("/")
    if not service:
        raise ValueError(f"a Sentinel URL names the service after the sentinels, e.g. {SENTINEL_FORM}")
    if db and not db.isdigit():
        raise ValueError(f"after the service comes the database number, e.g. {SENTINEL_FORM}")
    params = dict(parse_qsl(query, keep_blank_values=True))
    unknown = sorted(set(params) - set(SENTINEL_PARAMS))
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r}: a Sentinel URL takes only {' and '.join(SENTINEL_PARAMS)}")
    username, _, password = login.partition(":")
    return SentinelAddress(
        sentinels,
        unquote(service),
        int(db or 0),
        unquote(username) or None,
        unquote(password) or None,
        params.get("sentinel_username") or None,
        params.get("sentinel_password") or None,
    )


def _sentinel(text: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``: one sentinel's address."""
    host, port = text, ""
    if text.startswith("["):
        host, bracket, after = text[1:].partition("]")
        if not bracket or (after and not after.startswith(":")):
            host = ""
        port = after[1:]
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if not host or (port and not (port.isdigit() and 1 <= int(port) <= 65535)):
        raise ValueError(f"{text!r} is not a sentinel's host[:port]; the URL's form is {SENTINEL_FORM}")
    return host, int(port or SENTINEL_PORT)


class PrimaryPool(SentinelConnectionPool):
    """Connections to the primary the sentinels name: asked at most every ``FOLLOW_SECONDS`` as a connection is
    taken, and a connection to another server (the old primary, still up) reconnected before it is used."""

    asked_at = -float("inf")

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        now = time.monotonic()
        if now - self.asked_at >= FOLLOW_SECONDS:
            self.asked_at = now
            with contextlib.suppress(*REDIS_DOWN):  # no sentinel answers: go on with the primary known
                await self.get_master_address()  # type: ignore[no-untyped-call]
        connection = await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        if self.master_address not in (None, (connection.host, connection.port)):
            try:
                await connection.disconnect()
                await connection.connect()  # asks the sentinels again
            except BaseException:
                await self.release(connection)
                raise
        return connection


class SentinelClient(aioredis.Redis):
    """A client of the primary the sentinels name (see above). It owns its connections to the sentinels: closing
    it closes them too. A client for blocking reads is a pool of its own rather than redis-py's single
    connection, which would never be taken again and so never follow the primary; used by one task at a time,
    the pool holds one connection."""

    def __init__(self, address: SentinelAddress, timeout: float, *, block_seconds: float | None) -> None:
        self._sentinels = Sentinel(
            address.sentinels,
            sentinel_kwargs={
                **_policy(timeout, None),
                "username": address.sentinel_username,
                "password": address.sentinel_password,
            },
        )
        pool = PrimaryPool(  # type: ignore[no-untyped-call]
            address.service,
            self._sentinels,
            db=address.db,
            username=address.username,
            password=address.password,
            **_policy(timeout, block_seconds),
        )
        super().__init__(connection_pool=pool)
        self.auto_close_connection_pool = True  # the pool is this client's own

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        try:
            await super().aclose(close_connection_pool)
        finally:
            await self._sentinels.aclose()


def client(url: str, timeout: float, *, block_seconds: float | None = None) -> aioredis.Redis:
    """A client with the policy above; ``timeout`` is TICKER_REDIS_TIMEOUT_SECONDS. With ``block_seconds``, a
    client for blocking reads of up to that long: one connection of its own, and the time to wait for them.
    A Sentinel URL gives a client of whichever server is the primary."""
    address = sentinel_address(url)
    if address is not None:
        return SentinelClient(address, timeout, block_seconds=block_seconds)
    return aioredis.from_url(url, single_connection_client=block_seconds is not None, **_policy(timeout, block_seconds))


def _policy(timeout: float, block_seconds: float | None) -> dict[str, Any]:
    return {
        "socket_timeout": timeout + (block_seconds or 0.0),
        "socket_connect_timeout": CONNECT_SECONDS,
        "retry": Retry(NoBackoff(), 0),
    }


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
