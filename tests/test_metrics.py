"""/metrics (issue #14): behind its bearer token, valid for `promtool check metrics`, counting what the node did;
and a real Prometheus scraping a node and a `--workers 2` node (multiprocess mode), read back through its query
API."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.balancer import Balancer
from tests.support.cli import reporter_token
from tests.support.live import LiveReader
from tests.support.node import Node, Reporter, node_settings, running_node
from tests.support.prometheus import PrometheusServer
from tests.support.services import RedisServer, ServerProcess, require_binary
from tests.support.waiting import eventually

TOKEN = "metrics-token-for-tests"
ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "ticker.json"
START_TIMEOUT = 60.0  # nodes start beside other tests on a shared machine: a bound, not a timing


async def scrape(url: str, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with httpx.AsyncClient(base_url=url, timeout=15, trust_env=False) as client:
        return await client.get("/metrics", headers=headers)


def samples(text: str) -> dict[str, float]:
    """Every sample as ``name{label="value",…}`` → value, labels sorted."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            found[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return found


def promtool(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("promtool"), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )


@asynccontextmanager
async def sse_reader(url: str, slug: str) -> AsyncIterator[None]:
    """An SSE reader of ``slug``, open until the block ends."""
    async with (
        httpx.AsyncClient(base_url=url, timeout=30, trust_env=False) as client,
        client.stream("GET", f"/sse/{slug}") as stream,
    ):
        chunks = stream.aiter_raw()
        seen = b""
        while b'"subscribed"' not in seen:
            seen += await anext(chunks)
        yield


async def failed_login(node: Node) -> int:
    async with httpx.AsyncClient(base_url=node.url, timeout=15, trust_env=False) as client:
        form = await client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        refused = await client.post(
            "/login",
            data={"name": "nobody", "password": "wrong-password-1", "csrf": token.group(1)},
            headers={"Origin": node.url, "Cookie": f"ticker_login={token.group(1)}"},
        )
    return refused.status_code


async def test_metrics_are_off_without_a_token_and_refused_without_the_right_one(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        off = await scrape(node.url)
        assert off.status_code == 404 and off.json()["error"] == "not_found"
    async with running_node(node_settings(sqlite_url, metrics_token=TOKEN)) as node:
        for token in (None, "wrong", TOKEN + "x"):
            refused = await scrape(node.url, token)
            assert refused.status_code == 401, token
            assert refused.json() == {
                "error": "unauthorized",
                "message": "/metrics needs Authorization: Bearer <the token>",
                "field": "Authorization",
            }
        assert (await scrape(node.url)).status_code == 200


async def test_metrics_pass_promtool_and_count_what_the_node_did(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url, metrics_token=TOKEN)) as node:
        editor = await node.reporter()
        slug = await editor.incident("Brand i hamnen")
        readers = [await LiveReader.open(node.ws_url) for _ in range(2)]
        for reader in readers:
            await reader.subscribe(slug, since=1)
        async with sse_reader(node.url, slug):
            for n in range(3):
                await editor.post(slug, f"Uppdatering {n}.")
            for reader in readers:
                await reader.follow(slug, upto=4)
            key = {"Idempotency-Key": "samma-inlagg-1"}
            first = await editor.call(
                "POST", f"/api/incidents/{slug}/entries", 201, json={"body": "En gång."}, headers=key
            )
            again = await editor.call(
                "POST", f"/api/incidents/{slug}/entries", 201, json={"body": "En gång."}, headers=key
            )
            assert again == first
            assert await failed_login(node) == 401
            await eventually(lambda: node.services.hub.delivered == 3 * 4)
            answer = await scrape(node.url)
        for reader in readers:
            await reader.close()

    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    checked = promtool(answer.text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    found = samples(answer.text)
    assert found['ticker_readers{way="websocket"}'] == 2
    assert found['ticker_readers{way="sse"}'] == 1
    assert found["ticker_subscriptions"] == 3 and found["ticker_incidents_followed"] == 1
    assert found["ticker_deliveries_total"] == 12  # 4 events × 3 readers
    assert found["ticker_relay_published_total"] == 5  # the incident's opening and 4 entries
    assert found['ticker_websockets_opened_total{way="direct"}'] == 2
    assert found["ticker_idempotent_replays_total"] == 1
    assert found['ticker_failed_logins_total{reason="wrong_password"}'] == 1
    assert found["ticker_broker_listening"] == 1 and found["ticker_relay_healthy"] == 1
    assert found["ticker_relay_lag_seconds"] == 0
    assert found["ticker_fanout_seconds_count"] == 4
    assert found["ticker_commit_to_broker_seconds_count"] == 5
    route = 'method="POST",route="/api/incidents/{slug}/entries"'
    assert found[f'ticker_http_requests_total{{{route},status="201"}}'] == 5
    assert found[f"ticker_http_request_duration_seconds_count{{{route}}}"] == 5
    assert found['ticker_http_requests_total{method="GET",route="/sse/{slug}",status="200"}'] == 1
    assert found["process_cpu_seconds_total"] > 0 and found["process_resident_memory_bytes"] > 0

    # Every metric the provisioned Grafana dashboard draws is one a node exports.
    exported = {name.split("{")[0] for name in found}
    drawn = {
        m
        for panel in json.loads(DASHBOARD.read_text())["panels"]
        for t in panel["targets"]
        for m in _metrics_in(t["expr"])
    }
    assert drawn and drawn <= exported, drawn - exported


def _metrics_in(expression: str) -> set[str]:
    return set(re.findall(r"\b((?:ticker|process)_[a-z_]+)\b", expression))


def test_deploy_prometheus_config_is_valid_and_scrapes_every_compose_node(tmp_path: Path) -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    nodes = re.findall(r"^  (\w+):\n    <<: \*node\n(?!    )", compose, re.MULTILINE)
    config = (ROOT / "deploy" / "prometheus.yml").read_text()
    targets = re.findall(r'"(\w+):8000"', config)
    assert sorted(targets) == sorted(nodes) == ["node1", "node2", "node3"]
    # promtool wants the token file to exist: the compose service writes it before Prometheus starts.
    (tmp_path / "token").write_text(TOKEN)
    here = tmp_path / "prometheus.yml"
    here.write_text(config.replace("/prometheus/metrics-token", str(tmp_path / "token")))
    checked = subprocess.run(
        [require_binary("promtool"), "check", "config", str(here)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for provisioned in (ROOT / "deploy" / "grafana").rglob("*.json"):
        json.loads(provisioned.read_text())  # Grafana refuses a dashboard that is not JSON


async def test_nginx_in_front_does_not_pass_metrics_on(tmp_path: Path, sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url, metrics_token=TOKEN)) as node:
        with Balancer(tmp_path / "nginx", [node.url.removeprefix("http://")]) as balancer:
            assert (await scrape(balancer.url)).status_code == 404
            assert (await scrape(node.url)).status_code == 200


async def test_the_relay_lag_is_the_age_of_the_oldest_event_not_in_the_broker(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url, metrics_token=TOKEN)) as node:
        editor = await node.reporter()
        slug = await editor.incident("Brand i hamnen")
        await node.services.relay.stop()  # the relay stands still: what is committed now waits
        await editor.post(slug, "Ingen läsare ser detta än.")
        waiting = await node.services.store.oldest_unpublished_at()
        assert waiting is not None

        async def lag() -> float:
            return samples((await scrape(node.url)).text)["ticker_relay_lag_seconds"]

        first = await lag()
        await eventually(lambda: _grown(lag, first))


async def _grown(lag: object, before: float) -> bool:
    assert callable(lag)
    return bool(await lag() > before)


async def readers_on(url: str) -> int:
    """The readers of whichever worker answers a new connection (its /healthz)."""
    async with httpx.AsyncClient(base_url=url, timeout=10, trust_env=False) as client:
        answer = await client.get("/healthz", headers={"Connection": "close"})
    readers: int = answer.json()["readers"]
    return readers


async def test_prometheus_scrapes_a_node_and_a_two_worker_node(
    tmp_path: Path, redis_server: RedisServer, postgres_url: str, sqlite_url: str
) -> None:
    env = {"TICKER_DATABASE_URL": postgres_url, "TICKER_REDIS_URL": redis_server.url, "TICKER_METRICS_TOKEN": TOKEN}
    token = reporter_token(env)
    args = ("--workers", "2")
    with ServerProcess(tmp_path, env, args=args, ready_timeout=START_TIMEOUT) as workers:
        async with running_node(node_settings(sqlite_url, metrics_token=TOKEN)) as single:
            jobs = {"single": [single.url.removeprefix("http://")], "workers": [f"127.0.0.1:{workers.port}"]}
            with PrometheusServer(tmp_path / "prometheus", jobs, TOKEN) as prometheus:
                single_editor = await single.reporter()
                single_slug = await single_editor.incident("Brand i hamnen")
                workers_editor = Reporter(workers.url, token)
                workers_slug = await workers_editor.incident("Stormen")

                on_single = [await LiveReader.open(single.ws_url) for _ in range(2)]
                on_workers: list[LiveReader] = []
                # Readers on both workers (each connection goes to either): then only a sum over the workers'
                # files gives every reader, whichever worker a scrape reaches.
                for _round in range(5):
                    on_workers += [await LiveReader.open(workers.ws_url) for _ in range(6)]
                    for reader in on_workers[-6:]:
                        await reader.subscribe(workers_slug, since=1)
                    seen = {await readers_on(workers.url) for _ in range(30)}
                    if any(0 < n < len(on_workers) for n in seen):
                        break
                else:
                    raise AssertionError(f"every reader went to one worker: {seen}")
                for reader in on_single:
                    await reader.subscribe(single_slug, since=1)
                readers = {"single": 2, "workers": len(on_workers)}

                async def by_job(expression: str) -> dict[str, float]:
                    found = await prometheus.query(f"sum by (job) ({expression})")
                    return {labels.removeprefix("job="): value for labels, value in found.items()}

                async def shows(expression: str, expected: dict[str, float]) -> bool:
                    return await by_job(expression) == expected

                await eventually(lambda: shows("ticker_readers", readers), timeout=60)
                await eventually(lambda: shows("up", {"single": 1, "workers": 1}), timeout=60)
                for editor, slug in ((single_editor, single_slug), (workers_editor, workers_slug)):
                    for n in range(2):
                        await editor.post(slug, f"Uppdatering {n}.")
                for reader in [*on_single, *on_workers]:
                    await reader.follow(single_slug if reader in on_single else workers_slug, upto=3)
                deliveries = {job: 2.0 * n for job, n in readers.items()}
                await eventually(lambda: shows("ticker_deliveries_total", deliveries), timeout=60)

                # Whichever worker answers, its text is every worker's, and valid.
                direct = await scrape(workers.url)
                checked = promtool(direct.text)
                assert checked.returncode == 0, checked.stdout + checked.stderr
                assert sum(v for k, v in samples(direct.text).items() if k.startswith("ticker_readers{")) == len(
                    on_workers
                )
                await workers_editor.aclose()
                for reader in [*on_single, *on_workers]:
                    await reader.close()
                await asyncio.sleep(0)
