"""Redis through Sentinel: the URL, and a failover in the middle of a burst of posts that loses nothing acknowledged.

The failover is made as bad as asynchronous replication allows: the replica is cut off from the primary a moment
before the primary is killed (kill -9), so the events the relay published last, and marked published in SQL, are
on the dead primary only. The promoted replica's streams end earlier than the readers already are: the broker
went backwards. The readers must still get every acknowledged post once, in seq order, from SQL where the broker
has nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.live import LiveReader
from tests.support.node import Reporter, node_settings, running_node
from tests.support.sentinel import SentinelGroup, connect
from tests.support.services import require_binary
from tests.support.waiting import eventually
from ticker.broker.redis import RedisBroker
from ticker.config import Settings
from ticker.config_check import SettingsError, check
from ticker.events import Message
from ticker.presence.redis import RedisPresence
from ticker.redis import SentinelAddress, presence_key, sentinel_address, stream_key

FAST = {
    "broker_block_seconds": 0.5,
    "redis_timeout_seconds": 1.0,
    "relay_sweep_seconds": 0.2,
    "presence_seconds": 0.2,
    "node_history": 0,  # a resume comes from the broker or SQL, not from the node's memory
}


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_logins() -> None:
    url = "redis+sentinel://ticker:p%40ss@10.0.0.1,10.0.0.2:26380,[fd00::3]:26381/ticker-redis/2?sentinel_password=s"
    assert sentinel_address(url) == SentinelAddress(
        sentinels=(("10.0.0.1", 26379), ("10.0.0.2", 26380), ("fd00::3", 26381)),
        service="ticker-redis",
        db=2,
        username="ticker",
        password="p@ss",
        sentinel_password="s",
    )
    assert sentinel_address("redis://127.0.0.1:6379/0") is None
    assert check(Settings(redis_url=url)).redis_url == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel://h1:26379,h2:26379", "names the service after the sentinels"),
        ("redis+sentinel://h1:26379,h2:26379/", "names the service after the sentinels"),
        ("redis+sentinel://h1:26379,,h2/mymaster", "'' is not a sentinel's host[:port]"),
        ("redis+sentinel://h1:port/mymaster", "'h1:port' is not a sentinel's host[:port]"),
        ("redis+sentinel://h1:70000/mymaster", "'h1:70000' is not a sentinel's host[:port]"),
        ("redis+sentinel://[fd00::1/mymaster", "'[fd00::1' is not a sentinel's host[:port]"),
        ("redis+sentinel://h1/mymaster/zero", "after the service comes the database number"),
        ("redis+sentinel://h1/mymaster?db=0", "unknown parameter 'db'"),
        ("sentinel://h1/mymaster", "not a Redis URL"),
    ],
)
def test_a_broken_sentinel_url_is_refused_naming_the_setting(url: str, problem: str) -> None:
    with pytest.raises(SettingsError) as refused:
        check(Settings(redis_url=url))
    assert str(refused.value).startswith("TICKER_REDIS_URL=")
    assert problem in str(refused.value)


def test_the_primary_password_in_a_sentinel_url_is_not_shown() -> None:
    with pytest.raises(SettingsError) as refused:
        check(Settings(redis_url="redis+sentinel://ticker:hemligt@h1/mymaster?sentinel_password=ocksa&x=1"))
    assert "hemligt" not in str(refused.value)
    assert "ocksa" not in str(refused.value)


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelGroup]:
    require_binary("redis-server")
    with SentinelGroup(tmp_path / "redis") as group:
        yield group


def stream_seqs(port: int, slug: str) -> list[int]:
    """The seqs an incident's stream holds on the Redis server on ``port``."""
    with connect(port) as server:
        return [int(entry_id.split("-")[0]) for entry_id, _ in server.xrange(stream_key(slug))]


async def seqs_on(port: int, slug: str) -> list[int]:
    return await asyncio.to_thread(stream_seqs, port, slug)


@pytest.mark.redis
async def test_primary_killed_during_a_burst_every_acknowledged_post_reaches_every_reader_once_in_order(
    sentinels: SentinelGroup, postgres_url: str
) -> None:
    primary, replica = sentinels.primary, sentinels.replica
    async with running_node(node_settings(postgres_url, sentinels.url, **FAST)) as node:
        reporters = [await node.reporter(f"r{i}") for i in range(2)]
        slug = await reporters[0].incident("Brand i hamnen")
        readers = [await LiveReader.open(node.ws_url) for _ in range(3)]
        for reader in readers:
            await reader.subscribe(slug, since=1)
        steady, resuming = readers[:2], readers[2]
        acked: list[dict[str, Any]] = []
        stop = asyncio.Event()
        seen: dict[str, Any] = {}

        async def post_until_stopped(reporter: Reporter, who: int) -> None:
            n = 0
            while not stop.is_set():
                acked.append(await reporter.post(slug, f"Reporter {who}, uppdatering {n}."))
                n += 1

        async def fail_over() -> None:
            await eventually(lambda: len(acked) >= 20)
            # One reader drops out before the failover and resumes after it.
            seen["held"] = (await resuming.follow(slug, upto=max(a["seq"] for a in acked))).seq
            await resuming.close()
            await asyncio.to_thread(sentinels.cut_replica)
            replicated = len(await seqs_on(replica.port, slug))
            # A few events published (and marked so in SQL) reach the primary only.
            await eventually(lambda: _more_than(seqs_on(primary.port, slug), replicated + 5))
            seen["on_primary"] = set(await seqs_on(primary.port, slug))
            primary.kill()
            killed = time.monotonic()
            await eventually(lambda: asyncio.to_thread(lambda: sentinels.primary_port() == {replica.port}), 30)
            seen["promoted_after"] = time.monotonic() - killed
            await eventually(lambda: _more_than(seqs_on(replica.port, slug), replicated), 30)
            seen["published_after"] = time.monotonic() - killed
            before = len(acked)
            await eventually(lambda: len(acked) >= before + 20)
            stop.set()

        await asyncio.gather(*(post_until_stopped(r, i) for i, r in enumerate(reporters)), fail_over())

        seqs = sorted(a["seq"] for a in acked)
        last = seqs[-1]
        assert seqs == list(range(2, last + 1))  # every post acknowledged once, the failover notwithstanding
        assert await node.services.store.count_events(slug) == last
        # The relay publishes to the new primary, whose stream went backwards: it lacks events the old primary
        # had taken and the relay had marked published in SQL.
        await eventually(lambda: _last_is(seqs_on(replica.port, slug), last))
        lost = seen["on_primary"] - set(await seqs_on(replica.port, slug))
        assert lost, "the failover lost nothing from the broker: this test no longer tests what it says"

        again = await LiveReader.open(node.ws_url)
        await again.subscribe(slug, since=seen["held"])
        acked_ids = {a["entry"]["id"] for a in acked}
        for reader in [*steady, again]:
            start = reader.folded[slug].seq
            folded = await reader.follow(slug, upto=last, timeout=30)
            # Exactly once, in seq order (Folded refuses a gap or a twin), and every acknowledged entry.
            assert [e["seq"] for e in folded.events] == list(range(start + 1, last + 1))
            if start == 1:
                assert {e["data"]["entry"]["id"] for e in folded.events} == acked_ids
            assert await reader.silent()

        # Presence writes its counts to the new primary: both steady readers and the resumed one.
        presence = node.services.presence
        assert isinstance(presence, RedisPresence)
        key = presence_key("incidents", presence.node)
        await eventually(lambda: _hash_is(replica.port, key, {slug: "3"}))
        for reader in [*steady, again]:
            await reader.close()
        print(
            f"\n{len(acked)} posts acknowledged, {len(lost)} events lost by the broker in the failover; the new "
            f"primary named {seen['promoted_after']:.1f} s after the kill, the first event published to it "
            f"{seen['published_after']:.1f} s after the kill"
        )


@pytest.mark.redis
async def test_an_old_primary_that_stays_up_is_left_for_the_one_the_sentinels_name(sentinels: SentinelGroup) -> None:
    primary, replica = sentinels.primary, sentinels.replica
    broker = RedisBroker(sentinels.url, command_timeout=1.0)
    try:
        first = Message("brand", 1, b"1")
        await broker.publish([first])
        assert await broker.read({"brand": 0}, timeout=0.1) == [first]
        await asyncio.to_thread(sentinels.fail_over)
        await eventually(lambda: asyncio.to_thread(lambda: sentinels.primary_port() == {replica.port}), 30)
        published = [first]

        async def reached_the_new_primary() -> bool:
            published.append(Message("brand", published[-1].seq + 1, b"x"))
            await broker.publish(published[-1:])
            return published[-1].seq in await seqs_on(replica.port, "brand")

        await eventually(reached_the_new_primary)
        # The old primary is still a primary and would take every write: the broker left it on its own.
        assert await asyncio.to_thread(sentinels.role, primary) == "master"
        # Its listener's reads follow too: the last event is on the new primary only.
        await eventually(lambda: _reads(broker, "brand", published[-2].seq, published[-1:]))
    finally:
        await broker.close()


async def _more_than(seqs: Any, n: int) -> bool:
    return len(await seqs) > n


async def _reads(broker: RedisBroker, topic: str, after: int, expected: list[Message]) -> bool:
    return await broker.read({topic: after}, timeout=0.1) == expected


async def _last_is(seqs: Any, seq: int) -> bool:
    held = await seqs
    return bool(held) and held[-1] == seq


async def _hash_is(port: int, key: str, expected: dict[str, str]) -> bool:
    def read() -> Any:
        with connect(port) as server:
            return server.hgetall(key)

    return bool(await asyncio.to_thread(read) == expected)
