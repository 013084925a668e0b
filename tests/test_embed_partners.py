"""Partners: the admin API and CLI that register them, their limits, their snippets and their reader counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from websockets.asyncio.client import connect
from websockets.typing import Origin

from tests.support.live import followers
from tests.support.node import Node, Reporter, node_settings, running_node
from tests.support.waiting import eventually
from ticker.cli import main
from ticker.store.migrate import upgrade
from ticker.store.partners import ReaderCount, add_partner, add_reader_counts, partners, reader_days, remove_partner
from ticker.store.sql import Store

SITE = "http://127.0.0.2:8081"


@pytest.fixture
async def node(sqlite_url: str) -> AsyncIterator[Node]:
    settings = node_settings(sqlite_url, max_partner_origins=3, partner_counts_flush_seconds=0.2)
    async with running_node(settings) as running:
        yield running


async def test_partners_are_managed_by_admins_only(node: Node) -> None:
    admin = await node.reporter("ada", role="admin")
    editor = await node.reporter("eva", role="editor")
    anonymous = Reporter(node.url, None)
    body = {"name": "gp", "origins": [SITE]}
    assert (await anonymous.call("POST", "/api/partners", 401, json=body))["error"] == "unauthorized"
    refused = await editor.call("POST", "/api/partners", 403, json=body)
    assert refused == {"error": "forbidden", "message": "an editor may not manage partner sites"}  # ticker.roles
    await editor.call("GET", "/api/partners", 403)
    await anonymous.aclose()
    assert await admin.call("GET", "/api/partners") == {"partners": []}


async def test_an_admin_registers_a_partner_restricts_it_and_removes_it(node: Node) -> None:
    admin = await node.reporter("ada", role="admin")
    slug = await admin.incident("Brand i hamnen")
    other = await admin.incident("Stormen Hans")
    created = await admin.call(
        "POST", "/api/partners", 201, json={"name": "gp", "origins": ["HTTPS://GP.se:443/", "https://www.gp.se"]}
    )
    assert created["partner"] == {
        "name": "gp",
        "origins": ["https://gp.se", "https://www.gp.se"],
        "incidents": None,
        "readers_now": 0,
    }

    snippet = await admin.call("GET", "/api/partners/gp/snippet", params={"incident": slug})
    assert snippet["script"] == f'<script src="{node.url}/static/embed.js" data-incident="{slug}" async></script>'
    assert f'src="{node.url}/embed/{slug}?partner=gp"' in snippet["iframe"]
    assert f'e.origin!=="{node.url}"' in snippet["resizer"]
    assert snippet["script"] in snippet["text"] and snippet["iframe"] in snippet["text"]

    changed = await admin.call("PATCH", "/api/partners/gp", json={"incidents": [slug]})
    assert changed["partner"]["incidents"] == [slug]
    assert changed["partner"]["origins"] == ["https://gp.se", "https://www.gp.se"]
    refused = await admin.call("GET", "/api/partners/gp/snippet", 422, params={"incident": other})
    assert refused["field"] == "incident"
    assert f"does not cover incident {other!r}" in refused["message"]

    everything = await admin.call("PATCH", "/api/partners/gp", json={"incidents": None})
    assert everything["partner"]["incidents"] is None
    response = await admin.http.delete("/api/partners/gp")
    assert response.status_code == 204
    await admin.call("GET", "/api/partners/gp", 404)
    assert await admin.call("GET", "/api/partners") == {"partners": []}


BAD_PARTNERS: list[tuple[dict[str, Any], str, int]] = [
    ({"name": "GP!", "origins": [SITE]}, "name", 422),
    ({"name": "gp", "origins": []}, "origins", 422),
    ({"name": "gp", "origins": ["https://gp.se/sport"]}, "origins", 422),
    ({"name": "gp", "origins": ["gp.se"]}, "origins", 422),
    ({"name": "gp", "origins": ["ftp://gp.se"]}, "origins", 422),
    ({"name": "gp", "origins": ["https://user@gp.se"]}, "origins", 422),
    ({"name": "gp", "origins": ["null"]}, "origins", 422),
    ({"name": "gp", "origins": ["https://*.gp.se"]}, "origins", 422),  # a pattern needs allow_subdomains
    ({"name": "gp", "origins": ["https://*.se"], "allow_subdomains": True}, "origins", 422),
    ({"name": "gp", "origins": ["https://gp.*.se"], "allow_subdomains": True}, "origins", 422),
    ({"name": "gp", "origins": [f"https://{n}.gp.se" for n in "abcd"]}, "origins", 422),  # > max_partner_origins
    ({"name": "gp", "origins": [SITE], "incidents": ["finns-inte"]}, "incidents", 422),
    ({"name": "gp", "origins": [SITE], "colour": "red"}, "colour", 422),
    ({"name": "gp", "origins": "https://gp.se"}, "origins", 422),
    ({"name": "kommunen", "origins": ["https://taken.example"]}, "name", 409),
    ({"name": "gp", "origins": ["https://taken.example"]}, "origins", 409),
]


async def test_bad_partner_input_names_the_field_and_changes_nothing(node: Node) -> None:
    admin = await node.reporter("ada", role="admin")
    await admin.call("POST", "/api/partners", 201, json={"name": "kommunen", "origins": ["https://taken.example"]})
    before = await admin.call("GET", "/api/partners")
    for body, field, status in BAD_PARTNERS:
        refused = await admin.call("POST", "/api/partners", status, json=body)
        assert refused["field"] == field, (body, refused)
    assert await admin.call("GET", "/api/partners") == before


async def test_a_subdomain_pattern_is_stored_when_the_admin_allows_it(node: Node) -> None:
    admin = await node.reporter("ada", role="admin")
    body = {"name": "gp", "origins": ["https://*.gp.se"], "allow_subdomains": True}
    created = await admin.call("POST", "/api/partners", 201, json=body)
    assert created["partner"]["origins"] == ["https://*.gp.se"]
    changed = await admin.call("PATCH", "/api/partners/gp", 422, json={"origins": ["https://*.gp.se"]})
    assert changed["field"] == "origins"
    await admin.call("PATCH", "/api/partners/gp", 422, json={})
    assert (await admin.call("GET", "/api/partners/gp"))["partner"]["origins"] == ["https://*.gp.se"]


async def test_readers_of_a_partners_embeds_are_counted_now_and_per_day(node: Node) -> None:
    admin = await node.reporter("ada", role="admin")
    slug = await admin.incident()
    await admin.call("POST", "/api/partners", 201, json={"name": "gp", "origins": [SITE]})

    async def readers_now() -> int:
        found: int = (await admin.call("GET", "/api/partners/gp"))["partner"]["readers_now"]
        return found

    script_embeds = [await connect(node.ws_url, origin=Origin(SITE)) for _ in range(2)]
    iframe_embed = await connect(node.ws_url + "?partner=gp", origin=Origin(node.url))  # served from our origin
    own_page = await connect(node.ws_url, origin=Origin(node.url))  # the reader page: not a partner's
    for ws in [*script_embeds, iframe_embed, own_page]:
        await ws.send(f'{{"type": "subscribe", "incident": "{slug}"}}')
        assert '"subscribed"' in await ws.recv()

    async def three_now() -> bool:
        return await readers_now() == 3

    await eventually(three_now)  # counts are taken at most once a second

    async def counted() -> bool:
        days = (await admin.call("GET", "/api/partners/gp"))["days"]
        return bool(days) and days[0]["opened"] == 3 and days[0]["peak"] == 3

    await eventually(counted)  # flushed to SQL every partner_counts_flush_seconds
    for ws in [*script_embeds, iframe_embed, own_page]:
        await ws.close()

    async def none_now() -> bool:
        return await readers_now() == 0

    await eventually(none_now)
    days = (await admin.call("GET", "/api/partners/gp"))["days"]
    assert len(days) == 1 and days[0]["opened"] == 3 and days[0]["peak"] == 3  # nothing counted twice


def test_cli_registers_a_partner_and_prints_its_snippet(tmp_path: Path) -> None:
    env = {"TICKER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ticker.db", "TICKER_PUBLIC_URL": "https://t.example"}

    def ticker(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env)

    assert ticker("demo").exit_code == 0
    refused = ticker("partner", "add", "gp", "--origin", "https://*.gp.se")
    assert refused.exit_code == 1
    assert "'https://*.gp.se' is a subdomain pattern: allow it explicitly" in refused.output
    added = ticker(
        "partner", "add", "gp", "--origin", "https://gp.se", "--origin", "https://*.gp.se", "--allow-subdomains"
    )
    assert added.exit_code == 0, added.output
    assert added.output == "partner gp: https://gp.se, https://*.gp.se; incidents: all\n"
    snippet = ticker("partner", "snippet", "polisjakt-genom-centrum", "gp")
    assert snippet.exit_code == 0, snippet.output
    assert (
        '<script src="https://t.example/static/embed.js" data-incident="polisjakt-genom-centrum" async>'
        in snippet.output
    )
    assert 'src="https://t.example/embed/polisjakt-genom-centrum?partner=gp"' in snippet.output
    unknown = ticker("partner", "snippet", "finns-inte", "gp")
    assert unknown.exit_code == 1 and "incident not found" in unknown.output


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


async def test_daily_counts_add_up_from_several_nodes(database_url: str) -> None:
    url = database_url
    await upgrade(url)
    store = Store(url)
    try:
        gp = await add_partner(store, "gp", [SITE], max_origins=20)
        day = date(2024, 5, 7)
        await add_reader_counts(store, day, {gp.id: ReaderCount(opened=5, peak=4)})  # one node
        await add_reader_counts(store, day, {gp.id: ReaderCount(opened=2, peak=7)})  # another
        await add_reader_counts(store, day, {gp.id: ReaderCount(opened=1, peak=3), 999: ReaderCount(1, 1)})
        await add_reader_counts(store, date(2024, 5, 8), {gp.id: ReaderCount(opened=1, peak=1)})
        assert await reader_days(store, "gp", 31) == [
            {"day": "2024-05-08", "opened": 1, "peak": 1},
            {"day": "2024-05-07", "opened": 8, "peak": 7},
        ]
        await remove_partner(store, "gp")
        assert await partners(store) == []
    finally:
        await store.close()


async def test_readers_now_counts_a_partners_readers_on_every_node(sqlite_url: str, redis_server: Any) -> None:
    settings = node_settings(sqlite_url, redis_server.url, presence_seconds=0.1)
    async with running_node(settings) as a, running_node(settings) as b:
        admin = await a.reporter("ada", role="admin")
        slug = await admin.incident()
        await admin.call("POST", "/api/partners", 201, json={"name": "gp", "origins": [SITE]})
        on_b = await followers([b.ws_url, b.ws_url], slug, SITE)

        async def readers_now_on_a(expected: int) -> bool:
            return bool((await admin.call("GET", "/api/partners/gp"))["partner"]["readers_now"] == expected)

        await eventually(lambda: readers_now_on_a(2))  # asked on A, the readers are on B
        for ws in on_b:
            await ws.close()
        await eventually(lambda: readers_now_on_a(0))


async def test_the_daily_peak_counts_a_partners_readers_on_every_node(sqlite_url: str, redis_server: Any) -> None:
    settings = node_settings(sqlite_url, redis_server.url, presence_seconds=0.1, partner_counts_flush_seconds=0.2)
    async with running_node(settings) as a, running_node(settings) as b:
        admin = await a.reporter("ada", role="admin")
        slug = await admin.incident()
        await admin.call("POST", "/api/partners", 201, json={"name": "gp", "origins": [SITE]})
        sockets = await followers([a.ws_url, b.ws_url, b.ws_url], slug, SITE)

        async def peak_is(expected: int) -> bool:
            days = await reader_days(a.services.store, "gp", 1)
            return bool(days) and days[0]["peak"] == expected

        await eventually(lambda: peak_is(3))  # one on A, two on B: no node alone ever had three
        for ws in sockets:
            await ws.close()
