"""One contract, two brokers: the in-process one and Redis Streams (a private redis-server)."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import AsyncIterator

import pytest
import uvloop

from tests.support.services import RedisServer, free_port
from ticker.broker import Broker
from ticker.broker.memory import MemoryBroker
from ticker.broker.redis import RedisBroker
from ticker.errors import BrokerUnavailable
from ticker.events import Message


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    chosen: Broker
    if request.param == "memory":
        chosen = MemoryBroker(history=100)
    else:
        chosen = RedisBroker(request.getfixturevalue("redis_server").url, history=100)
    yield chosen
    await chosen.close()


def msg(topic: str, seq: int) -> Message:
    return Message(topic, seq, f'{{"seq":{seq}}}'.encode())


async def test_history_holds_what_was_published_in_order(broker: Broker) -> None:
    await broker.ping()
    await broker.publish([msg("a", 1), msg("a", 2), msg("b", 1), msg("a", 3)])
    assert await broker.history("a", 0, 100) == [msg("a", 1), msg("a", 2), msg("a", 3)]
    assert await broker.history("a", 1, 100) == [msg("a", 2), msg("a", 3)]
    assert await broker.history("a", 1, 1) == [msg("a", 2)]
    assert await broker.history("a", 3, 100) == []
    assert await broker.history("nothing", 0, 100) == []


async def test_publishing_again_adds_no_twin(broker: Broker) -> None:
    await broker.publish([msg("a", 1), msg("a", 2)])
    await broker.publish([msg("a", 1), msg("a", 2), msg("a", 3)])
    await broker.publish([msg("a", 2)])
    assert [m.seq for m in await broker.history("a", 0, 100)] == [1, 2, 3]


async def test_read_returns_messages_after_each_position(broker: Broker) -> None:
    await broker.publish([msg("a", 1), msg("a", 2), msg("b", 1)])
    found = await broker.read({"a": 1, "b": 0}, timeout=1.0)
    assert sorted((m.topic, m.seq) for m in found) == [("a", 2), ("b", 1)]


async def test_read_waits_for_a_publish(broker: Broker) -> None:
    reading = asyncio.create_task(broker.read({"a": 0}, timeout=10.0))
    await asyncio.sleep(0.2)
    assert not reading.done()
    await broker.publish([msg("a", 1)])
    assert await asyncio.wait_for(reading, 5) == [msg("a", 1)]


async def test_wake_ends_a_read_early(broker: Broker) -> None:
    reading = asyncio.create_task(broker.read({"a": 0}, timeout=30.0))
    await asyncio.sleep(0.2)
    broker.wake()
    assert await asyncio.wait_for(reading, 5) == []


async def test_read_times_out_empty(broker: Broker) -> None:
    assert await broker.read({"a": 5}, timeout=0.2) == []


async def test_forget_drops_a_topics_history_and_nothing_else(broker: Broker) -> None:
    await broker.publish([msg("a", 1), msg("a", 2), msg("b", 1)])
    await broker.forget("a")
    await broker.forget("never")  # nothing to forget: no error
    assert await broker.history("a", 0, 100) == []
    assert await broker.read({"a": 0}, timeout=0.05) == []
    assert await broker.history("b", 0, 100) == [msg("b", 1)]
    await broker.publish([msg("a", 1)])  # the topic starts anew (an incident imported back)
    assert await broker.history("a", 0, 100) == [msg("a", 1)]


async def test_history_is_bounded() -> None:
    memory = MemoryBroker(history=10)
    await memory.publish([msg("a", n) for n in range(1, 51)])
    kept = await memory.history("a", 0, 100)
    assert [m.seq for m in kept] == list(range(41, 51))


async def test_redis_stream_is_trimmed_approximately(redis_server: RedisServer) -> None:
    broker = RedisBroker(redis_server.url, history=10)
    for n in range(1, 501):
        await broker.publish([msg("a", n)])
    kept = await broker.history("a", 0, 1000)
    assert len(kept) < 200
    assert [m.seq for m in kept] == list(range(kept[0].seq, 501))
    await broker.close()


async def test_redis_down_raises_broker_unavailable() -> None:
    broker = RedisBroker(f"redis://127.0.0.1:{free_port()}/0", history=10)
    with pytest.raises(BrokerUnavailable):
        await broker.publish([msg("a", 1)])
    with pytest.raises(BrokerUnavailable):
        await broker.history("a", 0, 10)
    with pytest.raises(BrokerUnavailable):
        await broker.read({"a": 0}, timeout=0.1)
    with pytest.raises(BrokerUnavailable):
        await broker.ping()
    with pytest.raises(BrokerUnavailable):
        await broker.forget("a")
    await broker.close()


def test_redis_resetting_connections_raises_broker_unavailable_on_uvloop() -> None:
    """A Redis killed while the broker connects: under uvloop (what `ticker serve` runs on) redis-py's first write
    to the reset connection raised RuntimeError, which no caller expected (a reader's subscribe then died)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        threading.Thread(target=reset_every_connection, args=(listener,), daemon=True).start()
        url = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"

        async def calls() -> set[type[BaseException]]:
            broker, raised = RedisBroker(url), set[type[BaseException]]()
            for _ in range(100):  # the reset beats the first write about one time in five
                for call in (broker.history("a", 0, 10), broker.ping(), broker.publish([msg("a", 1)])):
                    try:
                        await call
                    except Exception as exc:
                        raised.add(type(exc))
            await broker.close()
            return raised

        assert uvloop.run(calls()) == {BrokerUnavailable}


def reset_every_connection(listener: socket.socket) -> None:
    """Accept and at once reset (RST, as a killed process's kernel does) every connection, until closed."""
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()
