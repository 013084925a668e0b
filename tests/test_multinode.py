"""Several `ticker serve` processes on one Redis and one PostgreSQL: a post through one reaches readers on all."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import reporter_token
from tests.support.live import LiveReader
from tests.support.node import Reporter
from tests.support.services import RedisServer, ServerProcess


async def test_a_post_through_node_a_reaches_a_reader_on_node_b(
    tmp_path: Path, redis_server: RedisServer, postgres_url: str
) -> None:
    env = {"TICKER_DATABASE_URL": postgres_url, "TICKER_REDIS_URL": redis_server.url}
    token = reporter_token(env)
    with ServerProcess(tmp_path, env) as a, ServerProcess(tmp_path, env) as b:
        reporter = Reporter(a.url, token)
        slug = await reporter.incident("Storm över kusten")
        on_b = await LiveReader.open(b.ws_url)
        on_a = await LiveReader.open(a.ws_url)
        await on_b.subscribe(slug, since=1)
        await on_a.subscribe(slug, since=1)
        posted = [await reporter.post(slug, f"Uppdatering {n} via A.") for n in range(3)]
        via_b = Reporter(b.url, token)
        posted.append(await via_b.post(slug, "Och en via B."))
        await via_b.aclose()
        for reader in (on_a, on_b):
            folded = await reader.follow(slug, upto=5)
            assert [e["data"]["entry"]["id"] for e in folded.events] == [p["entry"]["id"] for p in posted]
            assert await reader.silent()
            await reader.close()
        await reporter.aclose()
