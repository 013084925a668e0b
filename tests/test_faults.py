"""Nothing acknowledged is lost: Redis killed, flushed or trimmed; the relay killed between commit and publish."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from tests.support.cli import reporter_token
from tests.support.live import LiveReader
from tests.support.node import Reporter, node_settings, running_node
from tests.support.services import RedisServer, ServerProcess
from tests.support.sinks import RecordingSink
from tests.support.waiting import eventually
from ticker.broker.memory import MemoryBroker
from ticker.broker.redis import RedisBroker
from ticker.config import Settings
from ticker.errors import BrokerUnavailable
from ticker.events import Message
from ticker.live.hub import Hub
from ticker.redis import stream_key
from ticker.relay import Relay
from ticker.store.accounts import add_user
from ticker.store.migrate import upgrade
from ticker.store.sql import Store
from ticker.store.writes import Author, create_incident, post_entry

FAST = {"broker_block_seconds": 0.5, "redis_timeout_seconds": 1.0, "relay_sweep_seconds": 0.2}


async def test_redis_killed_while_three_reporters_post_300_entries(
    redis_server: RedisServer, postgres_url: str
) -> None:
    async with running_node(node_settings(postgres_url, redis_server.url, **FAST)) as node:
        reporters = [await node.reporter(f"r{i}") for i in range(3)]
        slug = await reporters[0].incident("Brand i industriområdet")
        steady = await LiveReader.open(node.ws_url)
        await steady.subscribe(slug, since=1)
        resuming = await LiveReader.open(node.ws_url)
        await resuming.subscribe(slug, since=1)
        acked: list[dict[str, Any]] = []

        async def post_100(reporter: Reporter, who: int) -> None:
            for n in range(100):
                acked.append(await reporter.post(slug, f"Reporter {who}, uppdatering {n}."))

        async def break_redis() -> None:
            await eventually(lambda: len(acked) >= 60)
            redis_server.kill()
            # The resuming reader drops out while Redis is down, and comes back after.
            held = resuming.folded[slug].seq
            await resuming.close()
            await eventually(lambda: len(acked) >= 200)
            await asyncio.to_thread(redis_server.start)
            again = await LiveReader.open(node.ws_url)
            await again.subscribe(slug, since=held)
            readers.append(again)

        readers: list[LiveReader] = [steady]
        await asyncio.gather(*(post_100(r, i) for i, r in enumerate(reporters)), break_redis())

        assert len(acked) == 300  # SQL took every post while Redis was down
        last = max(a["seq"] for a in acked)
        assert last == 301
        assert await node.services.store.count_events(slug) == 301
        acked_ids = {a["entry"]["id"] for a in acked}
        for reader in readers:
            start = reader.folded[slug].seq
            folded = await reader.follow(slug, upto=last, timeout=60)
            # Exactly once, in seq order (Folded refuses a gap or a twin), and every acknowledged entry.
            assert [e["seq"] for e in folded.events] == list(range(start + 1, last + 1))
            if start == 1:
                assert {e["data"]["entry"]["id"] for e in folded.events} == acked_ids
            assert await reader.silent()
            await reader.close()


async def test_redis_restarted_empty_readers_resume_the_gap_from_sql(
    redis_server: RedisServer, sqlite_url: str
) -> None:
    settings = node_settings(sqlite_url, redis_server.url, node_history=0, **FAST)
    async with running_node(settings) as node:
        reporter = await node.reporter()
        slug = await reporter.incident()
        reader = await LiveReader.open(node.ws_url)
        await reader.subscribe(slug, since=1)
        await reporter.post(slug, "Före avbrottet.")
        held = (await reader.follow(slug, upto=2)).seq
        await reader.close()
        missed = [await reporter.post(slug, f"Medan läsaren var borta {n}.") for n in range(4)]
        await asyncio.to_thread(redis_server.kill)
        await asyncio.to_thread(redis_server.start)  # empty: no persistence
        missed += [await reporter.post(slug, f"Efter omstarten {n}.") for n in range(2)]

        again = await LiveReader.open(node.ws_url)
        await again.subscribe(slug, since=held)
        folded = await again.follow(slug, upto=held + 6, timeout=30)
        assert [e["data"]["entry"]["id"] for e in folded.events] == [m["entry"]["id"] for m in missed]
        assert node.services.hub.catchups["store"] >= 1
        assert await again.silent()
        await again.close()


async def test_flushall_mid_stream_then_resume(redis_server: RedisServer, sqlite_url: str) -> None:
    settings = node_settings(sqlite_url, redis_server.url, node_history=0, **FAST)
    async with running_node(settings) as node:
        reporter = await node.reporter()
        slug = await reporter.incident()
        live = await LiveReader.open(node.ws_url)
        await live.subscribe(slug, since=1)
        for n in range(3):
            await reporter.post(slug, f"Ett {n}")
        await live.follow(slug, upto=4)
        redis_server.flushall()
        for n in range(3):
            await reporter.post(slug, f"Två {n}")
        folded = await live.follow(slug, upto=7, timeout=30)
        assert [e["seq"] for e in folded.events] == list(range(2, 8))
        resumed = await LiveReader.open(node.ws_url)
        await resumed.subscribe(slug, since=2)
        assert [e["seq"] for e in (await resumed.follow(slug, upto=7)).events] == list(range(3, 8))
        await live.close()
        await resumed.close()


async def test_trimmed_history_resumes_every_event_or_a_snapshot_past_the_bound(
    redis_server: RedisServer, sqlite_url: str
) -> None:
    for max_replay, expect in ((1000, "store"), (50, "snapshot")):
        redis_server.flushall()
        settings = node_settings(
            sqlite_url.replace("ticker.db", f"t{max_replay}.db"),
            redis_server.url,
            node_history=0,
            broker_history=20,
            max_replay=max_replay,
            **FAST,
        )
        async with running_node(settings) as node:
            reporter = await node.reporter()
            slug = await reporter.incident()
            for n in range(100):  # five times the stream's length while the reader is away
                await reporter.post(slug, f"Händelse {n}.")
            reader = await LiveReader.open(node.ws_url)
            await reader.subscribe(slug, since=1)
            folded = await reader.follow(slug, upto=101, timeout=30)
            state = await reporter.state(slug)
            if expect == "store":
                assert [e["seq"] for e in folded.events] == list(range(2, 102))
            else:
                assert folded.events == []  # one snapshot instead
            assert folded.entries == state["entries"]
            assert node.services.hub.catchups[expect] == 1
            assert await reader.silent()
            await reader.close()


async def test_relay_killed_between_commit_and_publish_publishes_each_event_once(
    redis_server: RedisServer, sqlite_url: str
) -> None:
    await upgrade(sqlite_url)
    store = Store(sqlite_url)
    broker = RedisBroker(redis_server.url, history=1000)
    await store.write(create_incident("brand", {"title": "Brand"}))
    author = Author(1, "Anna")
    await add_user(store, "anna", "Anna")
    for round_ in range(5):
        for n in range(7):
            await store.write(post_entry("brand", author, f"<p>{round_}.{n}</p>", "12:00", False, False))
        # A relay that dies after publishing part of the batch, before marking anything published.
        pending = await store.unpublished(100)
        await broker.publish([m for _row, m in pending[: 3 + round_]])
        # The next relay starts over from the store.
        relay = Relay(store, broker, batch=4)
        while await relay.publish_pending():
            pass
    held = await stream_entries(broker, "brand")
    assert [seq for seq, _payload in held] == list(range(1, 37))
    assert await store.unpublished(100) == []
    stored = {m.seq: m.payload for m in await store.events_after("brand", 0)}
    assert dict(held) == stored
    await broker.close()
    await store.close()


async def test_node_killed_repeatedly_while_posting_publishes_every_event_once_in_order(
    tmp_path: Path, redis_server: RedisServer, postgres_url: str
) -> None:
    env = {"TICKER_DATABASE_URL": postgres_url, "TICKER_REDIS_URL": redis_server.url}
    token = reporter_token(env)
    node = ServerProcess(tmp_path, env)
    acked = 0
    with node:
        reporter = Reporter(node.url, token)
        slug = await reporter.incident("Storm")
        for _round in range(3):
            posting = [asyncio.create_task(reporter.try_post(slug, f"Runda {_round}, {n}.")) for n in range(15)]
            await asyncio.sleep(0.05)
            node.kill()  # kill -9, wherever the node is: mid-commit, between commit and publish, mid-publish
            acked += sum(1 for ok in await asyncio.gather(*posting) if ok)
            await asyncio.to_thread(node.start)
        await reporter.post(slug, "Sista.")
        broker = RedisBroker(redis_server.url)
        store = Store(postgres_url)
        await eventually(lambda: _nothing_unpublished(store))
        seqs = [seq for seq, _payload in await stream_entries(broker, slug)]
        committed = await store.events_after(slug, 0)
        assert seqs == [m.seq for m in committed] == list(range(1, len(committed) + 1))
        assert len(committed) >= acked + 2
        await broker.close()
        await store.close()
        await reporter.aclose()


async def hub_following_brand(sqlite_url: str, broker: MemoryBroker) -> tuple[Store, Hub, RecordingSink]:
    """A started hub on a fresh store with incident "brand" (seq 1) and a reader of it, and a user to post."""
    await upgrade(sqlite_url)
    store = Store(sqlite_url)
    hub = Hub(Settings(database_url=sqlite_url), broker, store)
    hub.start()
    await store.write(create_incident("brand", {"title": "Brand"}))
    await add_user(store, "anna", "Anna")
    sink = RecordingSink()
    await hub.subscribe(hub.connect(sink), "brand", 1, None)
    return store, hub, sink


async def posted(store: Store, count: int) -> list[Message]:
    """``count`` entries written to "brand"; the event each committed."""
    results = [
        await store.write(post_entry("brand", Author(1, "Anna"), f"<p>{n}</p>", "12:00", False, False))
        for n in range(count)
    ]
    return [r.messages[0] for r in results]


async def test_hub_fills_a_gap_the_broker_lost_from_the_store(sqlite_url: str) -> None:
    broker = MemoryBroker()
    store, hub, sink = await hub_following_brand(sqlite_url, broker)
    messages = await posted(store, 4)
    await broker.publish(messages[:2])  # seq 2, 3
    await broker.publish(messages[3:])  # seq 5: the broker never got seq 4
    await eventually(lambda: sink.seqs()[-1:] == [5])
    assert sink.seqs() == [2, 3, 4, 5]
    await hub.stop()
    await store.close()


async def _nothing_unpublished(store: Store) -> bool:
    return not await store.unpublished(10)


class OutageBroker(MemoryBroker):
    """An in-process broker that can be taken down, and that forgets what it held, as Redis without persistence."""

    down = False

    async def ping(self) -> None:
        if self.down:
            raise BrokerUnavailable("down")

    async def read(self, positions: Mapping[str, int], timeout: float) -> list[Message]:
        if self.down:
            raise BrokerUnavailable("down")
        return await super().read(positions, timeout)


async def test_events_the_broker_lost_before_the_node_read_them_arrive_after_the_outage(sqlite_url: str) -> None:
    broker = OutageBroker()
    store, hub, sink = await hub_following_brand(sqlite_url, broker)
    await eventually(lambda: hub.listening)
    broker.down = True
    await eventually(lambda: not hub.listening)
    # Published while the node could not read, then lost with the broker's memory: only the store has them.
    await broker.publish(await posted(store, 2))
    broker.flush()
    broker.down = False
    await eventually(lambda: sink.seqs() == [2, 3])  # no later event needed to notice the loss
    await hub.stop()
    await store.close()


async def stream_entries(broker: RedisBroker, topic: str) -> list[tuple[int, bytes]]:
    """(seq, payload) of every entry Redis holds in the incident's stream, in stream order."""
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await broker._commands.xrange(stream_key(topic)))
    return [(int(entry_id.split(b"-")[0]), fields[b"d"]) for entry_id, fields in entries]
