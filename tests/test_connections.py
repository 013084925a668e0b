"""Connections under stress: a reader that stops reading, a dead peer, a stalled Redis, a restart, a retry."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from tests.support.cli import reporter_token
from tests.support.live import LiveReader
from tests.support.node import Node, Reporter, node_settings, running_node
from tests.support.services import RedisServer, ServerProcess
from tests.support.waiting import eventually
from ticker.errors import CloseCode


class StuckReader:
    """A websocket reader on a raw socket that subscribes, then stops reading (a frozen tab, a dead phone)."""

    def __init__(self, ws_url: str) -> None:
        self.protocol = ClientProtocol(parse_uri(ws_url))
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        host, port = ws_url.split("//")[1].split("/")[0].split(":")
        self.sock.connect((host, int(port)))
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        while not any(isinstance(e, Response) for e in self._events()):
            pass

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            self.sock.sendall(data)

    def _events(self) -> list[object]:
        self.protocol.receive_data(self.sock.recv(65536))
        return list(self.protocol.events_received())

    def send(self, text: str) -> None:
        self.protocol.send_text(text.encode())
        self._flush()

    def drain_until_closed(self) -> Close | None:
        """Read everything the server still sends; the close frame it ended with, if any."""
        self.sock.settimeout(10)
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except (ConnectionResetError, TimeoutError):
                return None
            if not data:
                return None
            self.protocol.receive_data(data)
            for event in self.protocol.events_received():
                if isinstance(event, Frame) and event.opcode == Opcode.CLOSE:
                    return Close.parse(event.data)


async def test_a_reader_that_stops_reading_delays_no_one_and_is_closed_with_4000(sqlite_url: str) -> None:
    settings = node_settings(sqlite_url, send_buffer_bytes=64 * 1024, max_entry_chars=60_000, max_body_bytes=1 << 20)
    async with running_node(settings) as node:
        reporter = await node.reporter()
        slug = await reporter.incident()
        fast = [await LiveReader.open(node.ws_url) for _ in range(5)]
        for reader in fast:
            await reader.subscribe(slug, since=1)
        stuck = await asyncio.to_thread(StuckReader, node.ws_url)
        stuck.send(f'{{"type": "subscribe", "incident": "{slug}", "since": 1}}')
        await eventually(
            lambda: (
                len(node.services.hub.readers) == 6 and all(len(t.live) == 6 for t in node.services.hub.topics.values())
            )
        )
        body = "<p>" + "Lång rapport från platsen. " * 1900 + "</p>"  # ~50 KB a frame
        latencies = []
        posted = 1
        while len(node.services.hub.readers) == 6:
            # Each post must reach every fast reader before the next: a fan-out that waited on the stuck
            # reader would never get there, and this test would time out instead.
            sent = time.monotonic()
            posted = (await reporter.post(slug, body))["seq"]
            for reader in fast:
                await reader.follow(slug, upto=posted)
            latencies.append(time.monotonic() - sent)
            assert posted < 400, "the stuck reader was never closed"
        print(
            f"\n{posted - 1} posts of ~50 KB while one reader was stuck; post→all 5 fast readers: "
            f"median {sorted(latencies)[len(latencies) // 2] * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
        )
        close = await asyncio.to_thread(stuck.drain_until_closed)
        assert close is not None and close.code == CloseCode.SLOW_READER
        stuck.sock.close()
        for reader in fast:
            assert reader.folded[slug].seq == posted
            await reader.close()


async def test_a_peer_that_never_answers_pings_is_dropped(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url, ping_interval=0.2, ping_timeout=0.3)) as node:
        reporter = await node.reporter()
        slug = await reporter.incident()
        stuck = await asyncio.to_thread(StuckReader, node.ws_url)
        stuck.send(f'{{"type": "subscribe", "incident": "{slug}"}}')
        await eventually(lambda: len(node.services.hub.readers) == 1)
        await eventually(lambda: len(node.services.hub.readers) == 0)  # no pong: closed after interval + timeout
        assert slug not in node.services.hub.topics
        stuck.sock.close()


async def test_a_stopping_node_closes_readers_with_1012(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        reporter = await node.reporter()
        slug = await reporter.incident()
        reader = await LiveReader.open(node.ws_url)
        await reader.subscribe(slug)
    await reader.ws.wait_closed()
    assert reader.ws.close_code == CloseCode.SERVICE_RESTART


async def health(node: Node) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(node.url + "/healthz")


async def test_a_stalled_redis_is_noticed_and_survived(redis_server: RedisServer, sqlite_url: str) -> None:
    settings = node_settings(sqlite_url, redis_server.url, broker_block_seconds=0.3, redis_timeout_seconds=0.5)
    async with running_node(settings) as node:
        reporter = await node.reporter()
        slug = await reporter.incident()
        reader = await LiveReader.open(node.ws_url)
        await reader.subscribe(slug, since=1)
        await eventually(lambda: node.services.hub.listening)
        redis_server.pause()  # the socket stays open but nothing answers: a read would hang forever
        try:
            await eventually(lambda: not node.services.hub.listening)
            stalled = await health(node)
            assert stalled.status_code == 503
            assert stalled.json()["listening"] is False
            posted = await reporter.post(slug, "Skriven medan Redis stod still.")  # acknowledged from SQL
        finally:
            redis_server.resume()
        await eventually(lambda: node.services.hub.listening)
        assert (await reader.follow(slug, upto=posted["seq"])).events[-1]["data"]["entry"]["id"] == posted["entry"][
            "id"
        ]
        assert (await health(node)).json()["status"] == "ok"
        await reader.close()


async def test_a_retry_after_a_server_restart_returns_the_first_result(
    tmp_path: Path, postgres_url: str, redis_server: RedisServer
) -> None:
    env = {"TICKER_DATABASE_URL": postgres_url, "TICKER_REDIS_URL": redis_server.url}
    token = reporter_token(env)
    with ServerProcess(tmp_path, env) as node:
        reporter = Reporter(node.url, token)
        slug = await reporter.incident()
        key = {"Idempotency-Key": "field-post-42"}
        path = f"/api/incidents/{slug}/entries"
        first = await reporter.call("POST", path, 201, json={"body": "Från platsen."}, headers=key)
        node.stop()
        await asyncio.to_thread(node.start)
        retried = await reporter.call("POST", path, 201, json={"body": "Från platsen."}, headers=key)
        assert retried == first
        assert list((await reporter.state(slug))["entries"]) == [first["entry"]["id"]]
        await reporter.aclose()


async def test_idempotency_keys_expire(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url, idempotency_ttl_seconds=1)) as node:
        reporter = await node.reporter()
        slug = await reporter.incident()
        key = {"Idempotency-Key": "k"}
        path = f"/api/incidents/{slug}/entries"
        first = await reporter.call("POST", path, 201, json={"body": "Ett."}, headers=key)
        await asyncio.sleep(1.1)
        assert await node.services.store.expire_idempotency_keys(1) == 1
        second = await reporter.call("POST", path, 201, json={"body": "Ett."}, headers=key)
        assert second["entry"]["id"] != first["entry"]["id"]
