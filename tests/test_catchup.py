"""Catch-up on its own, without a hub: a memory broker and a real SQLite store, and a topic as a node holds it."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence

import pytest

from tests.test_faults import posted
from ticker.broker.memory import MemoryBroker
from ticker.config import Settings
from ticker.events import Message
from ticker.live.catchup import CatchUp
from ticker.live.frames import framed, text_frame
from ticker.live.topic import Topic
from ticker.store.accounts import add_user
from ticker.store.migrate import upgrade
from ticker.store.sql import Store
from ticker.store.writes import create_incident


@pytest.fixture
async def brand(sqlite_url: str) -> AsyncIterator[tuple[Store, list[Message]]]:
    """A store holding incident "brand" at seq 5: its creation and four posts (seq 2..5, returned)."""
    await upgrade(sqlite_url)
    store = Store(sqlite_url)
    await store.write(create_incident("brand", {"title": "Brand"}))
    await add_user(store, "anna", "Anna")
    yield store, await posted(store, 4)
    await store.close()


async def topic_of(store: Store, recent: Sequence[Message] = ()) -> Topic:
    """The incident's topic as a node holds it: at the store's position, with ``recent`` as its latest events."""
    topic = Topic("brand", deque(((m.seq, framed(m.payload, m.seq)) for m in recent), maxlen=256))
    topic.seq, topic.epoch = await store.position("brand")
    return topic


def seqs(history: list[tuple[int, object]]) -> list[int]:
    return [seq for seq, _message in history]


async def test_history_comes_from_the_cheapest_source_that_holds_all_of_it(
    brand: tuple[Store, list[Message]],
) -> None:
    store, messages = brand
    broker = MemoryBroker()
    catchup = CatchUp(Settings(), broker, store)
    held = await topic_of(store, messages[1:])  # seq 3..5 on this node
    assert seqs((await catchup.history(held, 2, None, 5))[0]) == [3, 4, 5]
    missing = await topic_of(store)
    await broker.publish(messages)
    history, sent_upto = await catchup.history(missing, 1, None, 5)
    assert seqs(history) == [2, 3, 4, 5] and sent_upto == 5
    broker.flush()  # the broker lost its history: the store has it
    history, sent_upto = await catchup.history(missing, 1, None, 5)
    assert seqs(history) == [2, 3, 4, 5] and sent_upto == 5
    assert catchup.counts == {"node": 1, "broker": 1, "store": 1}
    for (seq, message), stored in zip(history, messages, strict=True):
        assert message.seq == seq == stored.seq  # the seq an SSE stream gives the event
        assert message.payload == stored.payload and message.frame == text_frame(stored.payload)


async def test_a_reader_with_everything_or_no_position_gets_no_history(brand: tuple[Store, list[Message]]) -> None:
    store, _messages = brand
    catchup = CatchUp(Settings(), MemoryBroker(), store)
    topic = await topic_of(store)
    assert await catchup.history(topic, None, None, 5) == ([], 5)  # a new reader: live from here
    assert await catchup.history(topic, 5, topic.epoch, 5) == ([], 5)
    topic.seq = 4  # this node has not read seq 5 yet; the reader has it, and the store says it exists
    assert await catchup.history(topic, 5, None, 4) == ([], 5)
    assert catchup.counts == {}


async def test_a_reader_behind_ahead_or_on_another_epoch_gets_one_shared_snapshot(
    brand: tuple[Store, list[Message]],
) -> None:
    store, _messages = brand
    catchup = CatchUp(Settings(max_replay=2), MemoryBroker(), store)
    topic = await topic_of(store)
    first, second = await asyncio.gather(
        catchup.history(topic, 1, None, 5),  # 4 behind, more than max_replay
        catchup.history(topic, 5, "another epoch", 5),
    )
    assert first == second and seqs(first[0]) == [5] and first[1] == 5
    snapshot = first[0][0][1]
    assert snapshot.seq == 5 and snapshot.payload.startswith(b'{"type":"snapshot","incident":"brand","seq":5,')
    assert (await catchup.history(topic, 9, None, 5))[0][0][1] is snapshot  # ahead of anything committed
    assert catchup.counts == {"snapshot": 3, "snapshot_queries": 1}  # one query, reused at the same seq
    await posted(store, 1)
    topic.seq = 6  # the incident moved on: the next snapshot is read afresh
    assert seqs((await catchup.history(topic, 0, None, 6))[0]) == [6]
    assert catchup.counts["snapshot_queries"] == 2


async def test_at_once_serves_only_what_this_node_holds(brand: tuple[Store, list[Message]]) -> None:
    store, messages = brand
    catchup = CatchUp(Settings(max_replay=3), MemoryBroker(), store)
    topic = await topic_of(store, messages[2:])  # seq 4 and 5 on this node
    assert catchup.at_once(topic, None, None) == []
    assert catchup.at_once(topic, 5, topic.epoch) == []
    held = catchup.at_once(topic, 3, None)
    assert held is not None and seqs(held) == [4, 5]
    assert catchup.at_once(topic, 2, None) is None  # seq 3 is not here: fetched
    assert catchup.at_once(topic, 1, None) is None  # too far behind: a snapshot
    assert catchup.at_once(topic, 4, "another epoch") is None
    assert catchup.at_once(topic, 6, None) is None  # ahead of this node: the store is asked
    assert catchup.counts == {"node": 1}
