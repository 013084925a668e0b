"""The deployment of docker-compose.yml on loopback: nodes on one Redis and one PostgreSQL, deploy/nginx.conf in front.

This machine has no Docker engine, so the topology runs as processes: three `ticker serve` nodes and Debian's
nginx with the same nginx.conf (tests/support/balancer.py). Issue 3, Must show 7: one node stops gracefully; its
readers get 1012, reconnect through the balancer, land on the other nodes and miss nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.support.balancer import NGINX_CONF, Balancer, nginx_binary, render_config
from tests.support.cli import reporter_token
from tests.support.live import Folded, LiveReader
from tests.support.node import Reporter, node_settings, running_node
from tests.support.services import HOST, RedisServer, ServerProcess, free_port
from ticker.backoff import backoff_delay

ROOT = Path(__file__).resolve().parents[1]
READERS = 300
START_TIMEOUT = 60.0  # nodes start side by side on a machine that may be shared: a bound, not a timing
UPSTREAM_HEADER = "X-Ticker-Upstream"  # added by deploy/nginx.conf: which node answered


@dataclass(eq=False)
class BalancedReader:
    """A reader behind the balancer that behaves like reader.js: on a close that means "reconnect" it waits a
    jittered, growing delay, connects again (to whichever node the balancer picks) and resubscribes with the
    last seq it applied. Folded refuses a gap or a twin, so a wrong resume fails this reader's task."""

    url: str
    slug: str
    folded: Folded = field(default_factory=Folded)
    upstreams: list[str] = field(default_factory=list)  # the node behind each connection, in order
    closes: list[int] = field(default_factory=list)  # the close code that ended each connection
    failed_connects: int = 0

    async def run(self) -> None:
        failures = 0
        while True:
            code: int | None = None  # stays None when no connection was made
            try:
                async with connect(self.url, open_timeout=10) as ws:
                    self.upstreams.append(ws.response.headers.get(UPSTREAM_HEADER, "?") if ws.response else "?")
                    subscribe = {"type": "subscribe", "incident": self.slug, "since": self.folded.seq}
                    await ws.send(json.dumps(subscribe))
                    async for raw in ws:  # ends on a 1000/1001 close, raises on any other
                        message: dict[str, Any] = json.loads(raw)
                        if message["type"] == "subscribed":
                            failures = 0
                        elif message["type"] in ("event", "snapshot"):
                            self.folded.apply(message)
                        else:
                            raise AssertionError(f"unexpected message {message}")
                    code = ws.close_code or 1006
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else 1006
            except (OSError, InvalidHandshake, TimeoutError):
                self.failed_connects += 1  # the balancer had no node for us: try again after the delay
            if code is not None:
                self.closes.append(code)
                if code == 1000 or 4100 <= code < 4200:
                    return  # "do not reconnect" (docs/protocol.md)
            await asyncio.sleep(backoff_delay(failures, base=0.1, cap=2.0))
            failures += 1


def _without_marked_blocks(text: str) -> str:
    return re.sub(r"# BEGIN (.*?)\n.*?# END \1\n", "", text, flags=re.DOTALL)


def test_the_balancer_runs_deploy_nginx_conf_with_only_its_upstreams_and_listen_address_changed() -> None:
    template = NGINX_CONF.read_text()
    rendered = render_config(template, ["127.0.0.1:8001", "127.0.0.1:8002"], "127.0.0.1:9000")
    assert _without_marked_blocks(rendered) == _without_marked_blocks(template)
    assert "server 127.0.0.1:8001 max_fails=1 fail_timeout=10s;" in rendered
    assert "server 127.0.0.1:8002 max_fails=1 fail_timeout=10s;" in rendered
    assert "listen 127.0.0.1:9000;" in rendered
    assert "server node1" not in rendered and "listen 80;" not in rendered


def test_every_upstream_in_deploy_nginx_conf_is_a_node_of_docker_compose_yml() -> None:
    upstreams = re.findall(r"^\s*server (\w+):8000 ", NGINX_CONF.read_text(), re.MULTILINE)
    compose = (ROOT / "docker-compose.yml").read_text()
    services = re.findall(r"^  (\w+):\n    <<: \*node\n(?!    )", compose, re.MULTILINE)  # nodes as they are
    assert sorted(upstreams) == sorted(services) == ["node1", "node2", "node3"]


async def test_a_request_that_meets_a_dead_node_is_passed_to_the_next_one(tmp_path: Path, sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        dead = f"{HOST}:{free_port()}"  # nothing listens there: connections are refused, as by a stopped node
        live = node.url.removeprefix("http://")
        with Balancer(tmp_path / "nginx", [dead, live]) as balancer:
            reporter = await node.reporter()
            reporter.http.base_url = httpx.URL(balancer.url)
            answers = [await reporter.http.post("/api/incidents", json={"title": "Brand i hamnen"})]
            assert answers[0].status_code == 201, (answers[0].status_code, answers[0].text)
            slug = answers[0].json()["incident"]["slug"]
            answers.append(await reporter.http.post(f"/api/incidents/{slug}/entries", json={"body": "Första."}))
            answers.append(await reporter.http.get(f"/api/incidents/{slug}"))
            assert [a.status_code for a in answers] == [201, 201, 200]
            async with connect(balancer.ws_url, open_timeout=10) as ws:
                assert ws.response is not None
                tried = [a.headers[UPSTREAM_HEADER] for a in answers] + [ws.response.headers[UPSTREAM_HEADER]]
            # Round robin sends one of the first two requests to the dead node; nginx tried it, then the live one
            # (max_fails=1 then keeps the dead node out for fail_timeout).
            assert f"{dead}, {live}" in tried[:2], tried
            assert tried[2:] == [live, live], tried


async def post_entry(http: httpx.AsyncClient, slug: str, body: str, retries: list[str]) -> dict[str, Any]:
    """POST an entry as a reporter's client should: on a gateway error or a dropped connection, send the same
    request again with the same Idempotency-Key (Ticker answers the first result; nginx never resends a POST)."""
    key = str(uuid.uuid4())
    for attempt in range(10):
        try:
            response = await http.post(
                f"/api/incidents/{slug}/entries", json={"body": body}, headers={"Idempotency-Key": key}
            )
        except httpx.TransportError as exc:
            retries.append(f"{body}: {exc!r}")
        else:
            if response.status_code not in (502, 503, 504):
                assert response.status_code == 201, (response.status_code, response.text)
                result: dict[str, Any] = response.json()
                return result
            retries.append(f"{body}: {response.status_code}")
        await asyncio.sleep(backoff_delay(attempt, base=0.1, cap=1.0))
    raise AssertionError(f"{body!r} was not accepted after 10 tries: {retries}")


async def wait_for(readers: list[BalancedReader], tasks: list[asyncio.Task[None]], seq: int) -> None:
    """Until every reader has applied ``seq``; a reader task that failed (gap, twin) fails the test at once."""
    async with asyncio.timeout(30):
        while any(r.folded.seq < seq for r in readers):
            for task in tasks:
                if task.done():
                    task.result()
                    raise AssertionError("a reader stopped following")
            await asyncio.sleep(0.05)


async def get_json(url: str) -> Any:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(url)
        assert response.status_code == 200, (url, response.status_code, response.text)
        return response.json()


@contextlib.contextmanager
def nodes_behind_balancer(
    tmp_path: Path, env: dict[str, str], count: int
) -> Iterator[tuple[list[ServerProcess], Balancer]]:
    """``count`` nodes, started side by side, and the balancer in front of them; all stopped at the end."""
    nginx_binary()  # skip (or fail under TICKER_TEST_STRICT) before starting anything
    balancer = Balancer(tmp_path / "nginx")  # its port first: the nodes' public URL is the balancer's
    env = {**env, "TICKER_PUBLIC_URL": balancer.url}
    nodes = [ServerProcess(tmp_path, env, ready_timeout=START_TIMEOUT) for _ in range(count)]
    balancer.upstreams = [f"{HOST}:{node.port}" for node in nodes]
    with ExitStack() as stack:
        for node in nodes:
            stack.callback(node.stop)
        with ThreadPoolExecutor(count) as pool:
            for started in [pool.submit(node.start) for node in nodes]:
                started.result()
        stack.enter_context(balancer)
        yield nodes, balancer


async def test_a_node_stopped_behind_the_balancer_hands_its_readers_to_the_others_and_they_miss_nothing(
    tmp_path: Path, redis_server: RedisServer, postgres_url: str
) -> None:
    env = {"TICKER_DATABASE_URL": postgres_url, "TICKER_REDIS_URL": redis_server.url}
    token = reporter_token(env)  # also migrates the database, so the nodes start on a ready schema
    with nodes_behind_balancer(tmp_path, env, 3) as (nodes, balancer):
        addresses = {f"{HOST}:{node.port}": node for node in nodes}
        reporter = Reporter(balancer.url, token)
        retries: list[str] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            slug = await reporter.incident("Storm över kusten")
            for n in range(3):
                await post_entry(reporter.http, slug, f"Före {n}.", retries)

            readers = [BalancedReader(balancer.ws_url, slug) for _ in range(READERS)]
            for reader in readers:  # in small steps, so 300 handshakes do not arrive in one burst
                tasks.append(asyncio.create_task(reader.run()))
                if len(tasks) % 50 == 0:
                    await wait_for(readers[: len(tasks)], tasks, 4)
            await wait_for(readers, tasks, 4)
            on_node = {address: [r for r in readers if r.upstreams[0] == address] for address in addresses}
            assert all(on_node.values()), {a: len(rs) for a, rs in on_node.items()}  # round robin used every node

            for n in range(5):
                await post_entry(reporter.http, slug, f"Live {n}.", retries)

            victim_address, victim = next(iter(addresses.items()))
            stopping = asyncio.create_task(asyncio.to_thread(victim.stop))  # SIGTERM: a graceful stop
            for n in range(10):  # while the node closes its sockets and its readers reconnect
                await post_entry(reporter.http, slug, f"Under omstarten {n}.", retries)
                await asyncio.sleep(0.05)
            status = await stopping
            assert status in (0, -signal.SIGTERM), status  # not the SIGKILL that follows a hung shutdown
            assert '"event": "node_stopped"' in victim.log_text()  # a JSON line (docs/deploy.md, "Logs")

            for n in range(10):
                last = await post_entry(reporter.http, slug, f"Efter {n}.", retries)
            final = last["seq"]
            assert final == 1 + 3 + 5 + 10 + 10
            await wait_for(readers, tasks, final)

            stored = await reporter.state(slug)
            for reader in readers:
                assert [e["seq"] for e in reader.folded.events] == list(range(1, final + 1))
                assert reader.folded.state() == stored

            # nginx moved every handshake that met the stopped node to another (proxy_next_upstream): no reader
            # ever saw a failed handshake; their retries covered only the node's 1012.
            assert [r.failed_connects for r in readers] == [0] * READERS
            moved = on_node[victim_address]
            for reader in moved:
                assert reader.closes[0] == 1012, reader.closes
                assert len(reader.upstreams) == len(reader.closes) + 1  # connected again, and still connected
                assert victim_address not in reader.upstreams[1:], reader.upstreams
            for reader in readers:
                if reader not in moved:
                    assert reader.closes == [], reader.closes
                    assert len(reader.upstreams) == 1

            survivors = [node for node in nodes if node is not victim]
            counts = [(await get_json(f"{node.url}/healthz"))["readers"] for node in survivors]
            assert sum(counts) == READERS, counts
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await reporter.aclose()


def worker_pids(pid: int) -> list[int]:
    """The worker processes ``ticker serve --workers N`` (pid) runs (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def serve_pid(port: int) -> int:
    """The pid of the `ticker serve ... --port PORT` process (the workers' supervisor)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if b"serve" in argv and str(port).encode() in argv:
                    return int(entry.name)
    raise AssertionError(f"no ticker serve process on port {port}")


async def test_serve_with_two_workers_on_redis_serves_readers_and_posts_and_stops_with_1012(
    tmp_path: Path, redis_server: RedisServer, postgres_url: str
) -> None:
    env = {"TICKER_DATABASE_URL": postgres_url, "TICKER_REDIS_URL": redis_server.url}
    token = reporter_token(env)
    with ServerProcess(tmp_path, env, args=("--workers", "2"), ready_timeout=START_TIMEOUT) as node:
        assert len(worker_pids(serve_pid(node.port))) == 2
        setup = Reporter(node.url, token)
        slug = await setup.incident("Brand i hamnen")
        await setup.aclose()
        readers = [await LiveReader.open(node.ws_url) for _ in range(6)]
        for reader in readers:
            await reader.subscribe(slug, since=1)
        posted = []
        for n in range(6):  # a new connection each time: the kernel hands it to either worker
            once = Reporter(node.url, token)
            posted.append(await once.post(slug, f"Uppdatering {n}."))
            await once.aclose()
        for reader in readers:
            folded = await reader.follow(slug, upto=7)
            assert [e["data"]["entry"]["id"] for e in folded.events] == [p["entry"]["id"] for p in posted]
        node.stop()
        for reader in readers:
            with contextlib.suppress(ConnectionClosed):
                while True:
                    await reader.receive()
            assert reader.ws.close_code == 1012
