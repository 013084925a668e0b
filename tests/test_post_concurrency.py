"""Concurrent posters into one incident: seq 1..N with no gap, each post once, in the store and at a live reader.

Eight reporters post at once, each on its own connection; some posts are sent twice at the same moment with one
Idempotency-Key and once more afterwards (a client retrying on a flaky link). Every post must be one event: the
answers to a key's requests are the same, the store's events are seq 1..N with each post once, the broker holds
exactly those (the relay publishes what a write hands it only in seq order), and a reader following the incident
over the websocket folds exactly those events, in order, to the stored state.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from tests.support.live import LiveReader
from tests.support.node import Reporter, node_settings, running_node
from tests.support.waiting import eventually
from ticker.broker.memory import MemoryBroker
from ticker.relay import Relay
from ticker.store import sql
from ticker.store.accounts import add_user
from ticker.store.migrate import upgrade
from ticker.store.sql import Store
from ticker.store.writes import Author, create_incident, post_entry

POSTERS = 8
POSTS_EACH = 25
RACED = 5  # every RACED-th post is sent twice at once under one key, then retried


@pytest.fixture(params=["sqlite+memory", "postgres+redis"])
def mode(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    if request.param == "sqlite+memory":
        return request.getfixturevalue("sqlite_url"), None
    return request.getfixturevalue("postgres_url"), request.getfixturevalue("redis_server").url


async def _poster(reporter: Reporter, slug: str, poster: int) -> list[dict[str, Any]]:
    """Post POSTS_EACH entries; the answer to each (for a raced post, the one all its requests got)."""
    path = f"/api/incidents/{slug}/entries"
    answers = []
    for n in range(POSTS_EACH):
        body = {"body": f"Poster {poster}, inlägg {n}."}
        if n % RACED:
            answers.append(await reporter.call("POST", path, 201, json=body))
            continue
        key = {"Idempotency-Key": f"post-{poster}-{n}"}
        raced = await asyncio.gather(*(reporter.call("POST", path, 201, json=body, headers=key) for _ in range(2)))
        retried = await reporter.call("POST", path, 201, json=body, headers=key)
        assert raced[0] == raced[1] == retried, (raced, retried)
        answers.append(retried)
    return answers


async def test_concurrent_posters_give_one_gapless_order_with_each_post_once(mode: tuple[str, str | None]) -> None:
    database_url, redis_url = mode
    async with running_node(node_settings(database_url, redis_url)) as node:
        editor = await node.reporter("eva")
        slug = await editor.incident("Storbrand i industriområdet")
        reader = await LiveReader.open(node.ws_url)
        assert (await reader.subscribe(slug, since=0))["seq"] == 1  # the incident's creation
        reporters = [await node.reporter(f"poster{i}", role="reporter") for i in range(POSTERS)]

        answered = await asyncio.gather(*(_poster(r, slug, i) for i, r in enumerate(reporters)))

        total = 1 + POSTERS * POSTS_EACH
        expected = [f"<p>Poster {i}, inlägg {n}.</p>" for i in range(POSTERS) for n in range(POSTS_EACH)]
        answers = [answer for one in answered for answer in one]
        assert sorted(a["seq"] for a in answers) == list(range(2, total + 1))
        assert sorted(a["entry"]["body"] for a in answers) == sorted(expected)

        stored = await node.services.store.events_after(slug, 0)
        assert [m.seq for m in stored] == list(range(1, total + 1))
        posted = [json.loads(m.payload)["data"]["entry"]["body"] for m in stored[1:]]
        assert sorted(posted) == sorted(expected)  # each post once: no twin from a raced or retried key

        async def relayed() -> bool:
            return await node.services.broker.history(slug, 0, total + 1) == stored

        await eventually(relayed)  # all of them, in seq order: the broker keeps no seq published after a later one
        folded = await reader.follow(slug, upto=total)  # refuses a gap or a twin as it folds
        assert [e["seq"] for e in folded.events] == list(range(1, total + 1))
        assert [e["data"]["entry"]["body"] for e in folded.events[1:]] == posted
        assert await reader.silent()
        assert folded.state() == await editor.state(slug)
        await reader.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url"))


async def test_a_post_writes_its_incident_once_and_leaves_nothing_to_flush(store_url: str) -> None:
    """A post takes its seq with one statement: the incident is not also written by an autoflush (an ORM UPDATE,
    on PostgreSQL a round trip of its own), and the session has nothing for a flush to look at."""
    await upgrade(store_url)
    store = Store(store_url)
    statements: list[str] = []
    flushes: list[int] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    def flushing(session: Session, *_args: Any) -> None:
        flushes.append(len(session.dirty) + len(session.new))

    try:
        await store.write(create_incident("brand", {"title": "Brand"}))
        anna = await add_user(store, "anna", "Anna")
        event.listen(store.write_engine.sync_engine, "before_cursor_execute", executed)
        event.listen(Session, "before_flush", flushing)
        try:
            result = await store.write(
                post_entry("brand", Author(anna.id, "Anna"), "<p>Rök.</p>", "12:00", False, False)
            )
        finally:
            event.remove(Session, "before_flush", flushing)
            event.remove(store.write_engine.sync_engine, "before_cursor_execute", executed)
        assert [m.seq for m in result.messages] == [2]
        assert sum("UPDATE INCIDENTS" in s.upper() for s in statements) == 1, statements
        assert flushes == []
        assert await store.position("brand") == (2, (await store.incident("brand")).epoch)
    finally:
        await store.close()


async def test_the_relay_publishes_what_it_is_handed_out_of_order_in_seq_order(sqlite_url: str) -> None:
    """Commits of one incident on PostgreSQL may reach the relay in another order than their seqs (two
    connections, two answers): the relay publishes nothing past a gap it was handed, and closes it from the store."""
    await upgrade(sqlite_url)
    store, broker = Store(sqlite_url), MemoryBroker()
    await store.write(create_incident("brand", {"title": "Brand"}))
    anna = await add_user(store, "anna", "Anna")
    relay = Relay(store, broker, sweep_seconds=3600)  # no sweep during the test: only what it is handed
    relay.start()
    try:
        await eventually(lambda: relay.published == 1)  # the outbox read at start: seq 1
        post = post_entry("brand", Author(anna.id, "Anna"), "<p>Rök.</p>", "12:00", False, False)
        handed = [(await store.write(post)).messages for _ in range(3)]  # seq 2, 3, 4
        for messages in reversed(handed):
            relay.notify(messages)
            await asyncio.sleep(0)

        async def all_in_order() -> bool:
            return [m.seq for m in await broker.history("brand", 0, 10)] == [1, 2, 3, 4]

        async def all_marked() -> bool:
            return await store.unpublished(10) == []

        await eventually(all_in_order)
        await eventually(all_marked)
    finally:
        await relay.stop()
        await store.close()


async def test_a_postgresql_connection_closed_while_idle_is_replaced_before_use(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool checks a connection that sat idle (ticker.store.sql: not every checkout, which cost a post three
    round trips): one the database closed meanwhile (a restart, a proxy) is replaced, and the read succeeds."""
    await upgrade(postgres_url)
    store, admin = Store(postgres_url), Store(postgres_url)
    try:
        await store.write(create_incident("brand", {"title": "Brand"}))
        anna = await add_user(store, "anna", "Anna")
        assert (await store.position("brand"))[0] == 1  # the store's connections are in its pool now
        async with admin.reading() as session:  # a restart, as the store's connections see it
            ended = await session.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        assert ended >= 1
        monkeypatch.setattr(sql, "PING_AFTER_IDLE_SECONDS", 0.0)
        for _ in range(3):  # each pooled connection is checked before use
            assert (await store.position("brand"))[0] == 1
        post = post_entry("brand", Author(anna.id, "Anna"), "<p>Rök.</p>", "12:00", False, False)
        assert (await store.write(post)).body["seq"] == 2
    finally:
        await admin.close()
        await store.close()


async def test_a_sqlite_write_waits_for_another_process_lock_without_holding_the_loop(sqlite_url: str) -> None:
    """SQLite's writer runs on the loop's thread (ticker.store.sqlite_inline): while another process holds the
    write lock (a CLI command), a post waits for it on the loop, which goes on serving, and then commits."""
    await upgrade(sqlite_url)
    store = Store(sqlite_url)
    try:
        await store.write(create_incident("brand", {"title": "Brand"}))
        anna = await add_user(store, "anna", "Anna")
        other = sqlite3.connect(sqlite_url.split("///", 1)[1], isolation_level=None)  # the other process's
        other.execute("BEGIN IMMEDIATE")
        post = post_entry("brand", Author(anna.id, "Anna"), "<p>Rök.</p>", "12:00", False, False)
        writing = asyncio.create_task(store.write(post))
        ticks = 0
        while ticks < 20:  # the loop runs while the write waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert not writing.done()
        other.execute("COMMIT")
        other.close()
        assert (await writing).body["seq"] == 2
    finally:
        await store.close()
