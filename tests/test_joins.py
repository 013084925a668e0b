"""Readers joining an incident at the same moment: one of them lost, one subscribing again, or the incident's position
failing to load."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.live import LiveReader
from tests.support.node import node_settings, running_node
from tests.support.sinks import RecordingSink
from tests.support.waiting import eventually
from tests.test_faults import posted
from ticker.broker.memory import MemoryBroker
from ticker.config import Settings
from ticker.errors import CloseCode
from ticker.events import Message
from ticker.live.hub import Hub
from ticker.store.accounts import add_user
from ticker.store.migrate import upgrade
from ticker.store.sql import Store
from ticker.store.writes import create_incident


class HeldStore(Store):
    """A store whose ``position`` waits until the test lets it answer."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.answer = asyncio.Event()
        self.asked = 0

    async def position(self, slug: str) -> tuple[int, str]:
        self.asked += 1
        await self.answer.wait()
        return await super().position(slug)


@pytest.fixture
async def held(sqlite_url: str) -> AsyncIterator[tuple[HeldStore, Hub, MemoryBroker]]:
    """A started hub on a store holding incident "brand" (seq 1) and a user to post, whose loads wait."""
    await upgrade(sqlite_url)
    store = HeldStore(sqlite_url)
    await store.write(create_incident("brand", {"title": "Brand"}))
    await add_user(store, "anna", "Anna")
    broker = MemoryBroker()
    hub = Hub(Settings(database_url=sqlite_url), broker, store)
    hub.start()
    yield store, hub, broker
    await hub.stop()
    await store.close()


def joining(hub: Hub, sink: RecordingSink) -> asyncio.Task[None]:
    """A reader's subscribe to "brand" from seq 1, running as the node runs it: a task of the connection."""
    return asyncio.ensure_future(hub.subscribe(hub.connect(sink), "brand", 1, None))


async def test_a_subscribe_cancelled_while_the_incident_loads_leaves_the_others_joining(
    held: tuple[HeldStore, Hub, MemoryBroker],
) -> None:
    store, hub, broker = held
    first, second = RecordingSink(), RecordingSink()
    cancelled, staying = joining(hub, first), joining(hub, second)
    await eventually(lambda: store.asked == 1)  # the first reader's subscribe loads "brand"; the second waits
    cancelled.cancel()  # as a lost reader's subscribe was (before), or any task is when the node stops
    store.answer.set()
    await staying  # before: the second reader's subscribe failed with the first one's cancellation
    assert cancelled.cancelled()
    assert [m["type"] for m in second.messages()] == ["subscribed"]
    await broker.publish(await posted(store, 2))
    await eventually(lambda: second.seqs() == [2, 3])
    assert store.asked == 1 and first.messages() == []


async def test_an_incident_whose_every_subscribe_was_cancelled_while_it_loaded_is_not_kept(
    held: tuple[HeldStore, Hub, MemoryBroker],
) -> None:
    store, hub, _broker = held
    tasks = [joining(hub, RecordingSink()) for _ in range(2)]
    await eventually(lambda: store.asked == 1)
    for task in tasks:
        task.cancel()
    store.answer.set()
    await eventually(lambda: not hub._loads)
    assert hub.topics == {}  # nobody follows it: the listener does not read it any more
    sink = RecordingSink()
    await joining(hub, sink)  # a later reader loads it afresh
    assert store.asked == 2 and [m["type"] for m in sink.messages()] == ["subscribed"]


@pytest.mark.parametrize("fetch", ["answers", "fails"])
async def test_a_reader_subscribing_again_while_its_first_subscribe_fetches_stays_on_the_incident(
    held: tuple[HeldStore, Hub, MemoryBroker], fetch: str
) -> None:
    store, hub, broker = held
    store.answer.set()
    events_after, asked, answer = store.events_after, asyncio.Event(), asyncio.Event()

    async def held_history(slug: str, after: int, upto: int | None = None) -> list[Message]:
        asked.set()
        await answer.wait()
        if fetch == "fails":
            raise OSError("database unreachable")
        return await events_after(slug, after, upto)

    store.events_after = held_history  # type: ignore[method-assign]
    sink = RecordingSink()
    reader = hub.connect(sink)
    first = asyncio.ensure_future(hub.subscribe(reader, "brand", 0, None))  # seq 1 is only in the store
    await asyncio.wait_for(asked.wait(), 10)
    # The reader is the incident's only one, still joining. Before: the topic was dropped from the hub and the
    # reader put on it all the same, so the listener never fed it again.
    assert hub.subscribe_at_once(reader, "brand", None, None)
    answer.set()
    if fetch == "fails":
        with pytest.raises(OSError):
            await first  # its failure leaves the newer subscription alone
    else:
        await first  # superseded: it sends nothing more
    assert hub.topics["brand"] is reader.topics["brand"]
    await broker.publish(await posted(store, 1))
    await eventually(lambda: sink.seqs() == [2])
    assert [m["type"] for m in sink.messages()] == ["subscribed", "subscribed", "event"]


async def test_a_subscribe_that_fails_closes_the_socket_with_1013_and_the_reader_resumes(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        reporter = await node.reporter()
        slug = await reporter.incident("Brand")
        store = node.services.store
        loaded = store.position

        async def failing(slug: str) -> tuple[int, str]:
            raise OSError("database unreachable")

        store.position = failing  # type: ignore[method-assign]
        reader = await LiveReader.open(node.ws_url)
        await reader.send({"type": "subscribe", "incident": slug, "since": 0})
        with pytest.raises(ConnectionClosed) as closed:
            await reader.receive()  # before: nothing, ever; the socket stayed open and silent
        assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.TRY_AGAIN_LATER
        assert node.services.hub.topics == {} and node.services.hub.readers == set()
        failed = [r.message for r in caplog.records if r.message.startswith("event=subscribe_failed")]
        assert len(failed) == 1 and "database unreachable" in failed[0] and "test_joins.py:" in failed[0], failed

        store.position = loaded  # type: ignore[method-assign]
        again = await LiveReader.open(node.ws_url)
        assert (await again.subscribe(slug, since=0))["seq"] == 1
        await reporter.post(slug, "Räddningstjänsten är på plats.")
        assert (await again.follow(slug, 2)).seq == 2
        await again.close()


async def test_a_reader_lost_mid_subscribe_lets_the_query_finish_and_is_sent_nothing(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        reporter = await node.reporter()
        slug = await reporter.incident("Brand")
        staying = await LiveReader.open(node.ws_url)
        await staying.subscribe(slug, since=1)  # the incident is loaded and followed on this node
        store, hub = node.services.store, node.services.hub
        loaded, asked, answer, outcomes = store.position, asyncio.Event(), asyncio.Event(), []

        async def held(slug: str) -> tuple[int, str]:
            asked.set()
            try:
                await answer.wait()
                position = await loaded(slug)
            except asyncio.CancelledError:
                outcomes.append("cancelled")
                raise
            outcomes.append("answered")
            return position

        store.position = held  # type: ignore[method-assign]
        leaving = await LiveReader.open(node.ws_url)
        await leaving.send({"type": "subscribe", "incident": slug, "since": 99})  # ahead: the store is asked
        await asyncio.wait_for(asked.wait(), 10)
        await leaving.close()
        await eventually(lambda: len(hub.readers) == 1)
        answer.set()
        await eventually(lambda: outcomes == ["answered"])  # before: ["cancelled"], half-way through its query
        assert list(hub.topics[slug].live) == [next(iter(hub.readers))] and not hub.topics[slug].joining
        await reporter.post(slug, "Räddningstjänsten är på plats.")
        assert (await staying.follow(slug, 2)).seq == 2
        await staying.close()
