"""Random sequences of changes, reader drops and Redis restarts: every reader ends with the stored state."""

from __future__ import annotations

import json
import time
from collections import deque
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from websockets.sync.client import ClientConnection, connect

from tests.support.cli import reporter_token
from tests.support.live import Folded
from tests.support.services import RedisServer, ServerProcess

READERS = 3
# What a reporter may write in an entry: text without control characters but tab and line feed (422 otherwise,
# ticker.textrules).
ENTRY_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from("\t\n"), min_size=1, max_size=40)


class SyncReader:
    def __init__(self, ws_url: str) -> None:
        self.ws_url = ws_url
        self.folded = Folded()
        self.ws: ClientConnection | None = None
        self.stack = ExitStack()
        self.asked: deque[int | None] = deque()  # the since of each subscribe not answered yet
        self.stream = 0  # the last seq the current subscription sent: it must go on from there

    def connect(self, slug: str) -> None:
        self.ws = self.stack.enter_context(connect(self.ws_url, open_timeout=10))
        self.subscribe(slug, self.folded.seq)

    def subscribe(self, slug: str, since: int | None) -> None:
        assert self.ws is not None
        self.asked.append(since)
        self.ws.send(json.dumps({"type": "subscribe", "incident": slug, "since": since}))

    def disconnect(self) -> None:
        if self.ws is not None:
            self.drain(0.0)
            self.stack.close()
            self.ws = None
            self.asked.clear()

    def drain(self, wait: float) -> None:
        assert self.ws is not None
        while True:
            try:
                message = json.loads(self.ws.recv(timeout=wait))
            except TimeoutError:
                return
            self.receive(message)

    def receive(self, message: dict[str, Any]) -> None:
        """One message, checked: each subscription sends every event after its start once, in order, and the
        state folds without a gap; an event the reader already has (it subscribed again from further back)
        must be the same event."""
        if message["type"] == "subscribed":
            since = self.asked.popleft()
            self.stream = message["seq"] if since is None else since
        elif message["type"] == "snapshot":
            self.stream = message["seq"]
            self.folded.apply(message)
        else:
            assert message["type"] == "event", message
            assert message["seq"] == self.stream + 1, f"the subscription sent {message['seq']} after {self.stream}"
            self.stream = message["seq"]
            if message["seq"] > self.folded.seq:
                self.folded.apply(message)  # refuses a gap
            else:
                assert message in self.folded.events, message

    def answered(self, timeout: float = 30.0) -> None:
        """Wait for the replies to every subscribe sent."""
        deadline = time.monotonic() + timeout
        while self.asked:
            assert time.monotonic() < deadline, "a subscribe was never answered"
            self.drain(0.2)

    def follow(self, upto: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.folded.seq < upto:
            assert time.monotonic() < deadline, f"reader stuck at seq {self.folded.seq}, expected {upto}"
            self.drain(0.2)


class Newsroom(RuleBasedStateMachine):
    node: ServerProcess
    redis: RedisServer
    token: str

    def __init__(self) -> None:
        super().__init__()
        self.http = httpx.Client(base_url=self.node.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)
        self.slug = self.call("POST", "/api/incidents", json={"title": "Storm"})["incident"]["slug"]
        self.entries: list[int] = []
        self.live = True
        self.updates = 0
        self.readers = [SyncReader(self.node.ws_url) for _ in range(READERS)]
        for reader in self.readers:
            reader.connect(self.slug)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    def entry_path(self, index: int) -> str:
        return f"/api/incidents/{self.slug}/entries/{self.entries[index % len(self.entries)]}"

    @precondition(lambda self: self.live)
    @rule(text=ENTRY_TEXT.filter(str.strip), key=st.booleans(), pin=st.booleans())
    def post(self, text: str, key: bool, pin: bool) -> None:
        body = {"body": text, "key_event": key, "pinned": pin}
        self.entries.append(self.call("POST", f"/api/incidents/{self.slug}/entries", json=body)["entry"]["id"])

    @precondition(lambda self: self.entries)
    @rule(index=st.integers(0, 100), text=ENTRY_TEXT.filter(str.strip))
    def edit(self, index: int, text: str) -> None:
        response = self.http.patch(self.entry_path(index), json={"body": text, "key_event": True})
        assert response.status_code in (200, 409), response.text  # 409: it was retracted

    @precondition(lambda self: self.entries)
    @rule(index=st.integers(0, 100))
    def retract(self, index: int) -> None:
        response = self.http.post(self.entry_path(index) + "/retract", json={"correction": "Fel."})
        assert response.status_code in (200, 409), response.text

    @precondition(lambda self: self.entries)
    @rule(index=st.integers(0, 100), pin=st.booleans())
    def pin(self, index: int, pin: bool) -> None:
        response = self.http.post(self.entry_path(index) + ("/pin" if pin else "/unpin"))
        assert response.status_code in (200, 409), response.text

    @rule()
    def close_or_reopen(self) -> None:
        self.call("POST", f"/api/incidents/{self.slug}/" + ("close" if self.live else "reopen"))
        self.live = not self.live

    @rule(which=st.integers(0, READERS - 1))
    def reader_drops_or_returns(self, which: int) -> None:
        reader = self.readers[which]
        if reader.ws is None:
            reader.connect(self.slug)
        else:
            reader.disconnect()

    @rule(which=st.integers(0, READERS - 1), behind=st.one_of(st.none(), st.integers(0, 6)), alone=st.booleans())
    def reader_subscribes_again(self, which: int, behind: int | None, alone: bool) -> None:
        """On the same socket, as a reader resuming with a new ``since`` would: without one, or ``behind`` events
        behind what it holds (0: where it is). ``alone``: the others leave first, so it is the incident's only
        reader on the node (issue #11: then it got no event ever again). The next event must reach it."""
        reader = self.readers[which]
        if alone:
            for other in self.readers:
                if other is not reader:
                    other.disconnect()
        if reader.ws is None:
            reader.connect(self.slug)
        reader.subscribe(self.slug, None if behind is None else max(0, reader.folded.seq - behind))
        reader.answered()
        self.updates += 1  # an event allowed whether the incident is live or closed
        self.call("PATCH", f"/api/incidents/{self.slug}", json={"summary": f"Läget, uppdatering {self.updates}."})
        reader.follow(self.call("GET", f"/api/incidents/{self.slug}")["seq"])

    @rule()
    def restart_redis(self) -> None:
        self.redis.kill()
        self.redis.start()

    @invariant()
    def connected_readers_stay_in_order(self) -> None:
        for reader in self.readers:
            if reader.ws is not None:
                reader.drain(0.0)  # Folded.apply refuses a gap or a twin

    def teardown(self) -> None:
        """At the end every reader, reconnected, folds to exactly the state the API returns."""
        try:
            state = self.call("GET", f"/api/incidents/{self.slug}")
            entries = {e["id"]: e for e in self.call("GET", f"/api/incidents/{self.slug}/entries?limit=200")["entries"]}
            for reader in self.readers:
                if reader.ws is None:
                    reader.connect(self.slug)
                reader.follow(state["seq"])
                assert reader.folded.seq == state["seq"]
                assert reader.folded.entries == entries
                assert reader.folded.incident == state["incident"]
                reader.disconnect()  # what was still on its way folds too: no twin after the end
        finally:  # a failed example leaves no socket open for the next one (or for pytest's unraisable check)
            for reader in self.readers:
                reader.stack.close()
            self.http.close()


@pytest.mark.timeout(300)
def test_random_newsroom_sessions_with_reader_drops_and_redis_restarts(
    tmp_path: Path, redis_server: RedisServer, postgres_url: str
) -> None:
    env = {
        "TICKER_DATABASE_URL": postgres_url,
        "TICKER_REDIS_URL": redis_server.url,
        "TICKER_BROKER_BLOCK_SECONDS": "0.3",
        "TICKER_REDIS_TIMEOUT_SECONDS": "1",
        "TICKER_RELAY_SWEEP_SECONDS": "0.2",
        "TICKER_NODE_HISTORY": "4",  # small, so resumes also come from Redis and from SQL
    }
    Newsroom.token = reporter_token(env)
    Newsroom.redis = redis_server
    with ServerProcess(tmp_path, env) as node:
        Newsroom.node = node
        run_state_machine_as_test(
            Newsroom,
            settings=settings(
                max_examples=6,
                stateful_step_count=20,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
