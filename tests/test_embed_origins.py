"""Only allowed origins: the live socket, SSE, the embed API's CORS and the iframe's frame-ancestors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from tests.support.live import subscribed
from tests.support.node import Node, Reporter, node_settings, running_node
from ticker.store.partners import add_partner

PARTNER = "http://127.0.0.2:8081"
STRANGER = "http://127.0.0.3:8081"


@pytest.fixture
async def node(sqlite_url: str) -> AsyncIterator[Node]:
    async with running_node(node_settings(sqlite_url, embed_max_entries=5)) as running:
        yield running


async def test_the_live_socket_refuses_an_unknown_origin_with_403_at_the_handshake(node: Node) -> None:
    admin = await node.reporter("ada", role="admin")
    slug = await admin.incident()
    await admin.call("POST", "/api/partners", 201, json={"name": "gp", "origins": [PARTNER]})
    for origin in (STRANGER, "null", PARTNER + "0", PARTNER.replace("http:", "https:")):
        with pytest.raises(InvalidStatus) as refused:
            await connect(node.ws_url, origin=Origin(origin))
        assert refused.value.response.status_code == 403
    # Allowed: no Origin (tools), our own origin, and the partner's.
    for allowed in (None, node.url, PARTNER):
        async with connect(node.ws_url, origin=Origin(allowed) if allowed else None) as ws:
            assert (await subscribed(ws, slug))["type"] == "subscribed"


async def test_a_partner_limited_to_some_incidents_cannot_follow_the_others(node: Node) -> None:
    admin = await node.reporter("ada", role="admin")
    mine, other = await admin.incident("Brand i hamnen"), await admin.incident("Stormen Hans")
    await admin.call("POST", "/api/partners", 201, json={"name": "gp", "origins": [PARTNER], "incidents": [mine]})
    async with connect(node.ws_url, origin=Origin(PARTNER)) as ws:
        refused = await subscribed(ws, other)
        assert refused["type"] == "error" and refused["code"] == "origin_not_allowed"
        assert refused["field"] == "incident"
        assert (await subscribed(ws, mine))["type"] == "subscribed"  # the connection stays
    async with connect(node.ws_url, origin=Origin(node.url)) as ws:
        assert (await subscribed(ws, other))["type"] == "subscribed"


async def test_removing_a_partner_closes_its_sockets_with_4100_and_refuses_new_ones(node: Node) -> None:
    admin = await node.reporter("ada", role="admin")
    slug = await admin.incident()
    await admin.call("POST", "/api/partners", 201, json={"name": "gp", "origins": [PARTNER]})
    async with connect(node.ws_url, origin=Origin(PARTNER)) as embed, connect(node.ws_url) as tool:
        await subscribed(embed, slug)
        await subscribed(tool, slug)
        assert (await admin.http.delete("/api/partners/gp")).status_code == 204
        with pytest.raises(ConnectionClosed) as closed:
            await embed.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4100
        await admin.post(slug, "Fortfarande här.")
        assert json.loads(await tool.recv())["type"] == "event"  # other readers are untouched
    with pytest.raises(InvalidStatus):
        await connect(node.ws_url, origin=Origin(PARTNER))


async def test_cors_headers_go_to_allowed_partner_origins_only_and_are_never_reflected(node: Node) -> None:
    admin = await node.reporter("ada", role="admin")
    slug = await admin.incident()
    await admin.call("POST", "/api/partners", 201, json={"name": "gp", "origins": [PARTNER]})
    async with httpx.AsyncClient(base_url=node.url, trust_env=False) as http:
        allowed = await http.get(f"/api/embed/{slug}", headers={"Origin": PARTNER})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == PARTNER
        assert "Origin" in allowed.headers["vary"]
        assert allowed.json()["incident"]["slug"] == slug

        refused = await http.get(f"/api/embed/{slug}", headers={"Origin": STRANGER})
        assert refused.status_code == 403 and refused.json()["error"] == "origin_not_allowed"
        assert "access-control-allow-origin" not in refused.headers
        for origin in (None, node.url):  # tools and our own pages need no CORS
            plain = await http.get(f"/api/embed/{slug}", headers={"Origin": origin} if origin else {})
            assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers

        # A bad option from an allowed origin is said in a way the partner's page can read.
        bad = await http.get(f"/api/embed/{slug}", params={"theme": "pink"}, headers={"Origin": PARTNER})
        assert bad.status_code == 422 and bad.json()["field"] == "theme"
        assert bad.headers["access-control-allow-origin"] == PARTNER

        # SSE, the websocket's fallback, follows the same rule.
        sse = await http.get(f"/sse/{slug}", headers={"Origin": STRANGER})
        assert sse.status_code == 403 and "access-control-allow-origin" not in sse.headers
        async with http.stream("GET", f"/sse/{slug}", params={"since": 0}, headers={"Origin": PARTNER}) as stream:
            assert stream.status_code == 200
            assert stream.headers["access-control-allow-origin"] == PARTNER
            assert stream.headers["content-type"].startswith("text/event-stream")


async def test_the_iframe_may_be_framed_by_the_incidents_partners_only(node: Node) -> None:
    admin = await node.reporter("ada", role="admin")
    mine, other = await admin.incident("Brand i hamnen"), await admin.incident("Stormen Hans")
    await admin.call("POST", "/api/partners", 201, json={"name": "gp", "origins": [PARTNER], "incidents": [mine]})
    body = {"name": "kommunen", "origins": ["https://*.kommun.se"], "allow_subdomains": True}
    await admin.call("POST", "/api/partners", 201, json=body)
    async with httpx.AsyncClient(base_url=node.url, trust_env=False) as http:
        framed = await http.get(f"/embed/{mine}")
        assert framed.status_code == 200
        csp = framed.headers["content-security-policy"]  # the pages' policy (tests/test_headers.py), framed so:
        assert csp.split("; ")[-1] == f"frame-ancestors 'self' {PARTNER} https://*.kommun.se"
        other_csp = (await http.get(f"/embed/{other}")).headers["content-security-policy"]
        assert other_csp.split("; ")[-1] == "frame-ancestors 'self' https://*.kommun.se"
        assert csp.count("frame-ancestors") == other_csp.count("frame-ancestors") == 1


async def test_a_subdomain_pattern_admits_subdomains_only(node: Node) -> None:
    admin = await node.reporter("ada", role="admin")
    slug = await admin.incident()
    body = {"name": "kommunen", "origins": ["https://*.kommun.se"], "allow_subdomains": True}
    await admin.call("POST", "/api/partners", 201, json=body)
    async with connect(node.ws_url, origin=Origin("https://skola.stad.kommun.se")) as ws:
        assert (await subscribed(ws, slug))["type"] == "subscribed"
    for origin in ("https://kommun.se", "https://evilkommun.se", "http://skola.kommun.se", "https://a.kommun.se:8443"):
        with pytest.raises(InvalidStatus):
            await connect(node.ws_url, origin=Origin(origin))


BAD_OPTIONS = [
    ({"entries": "0"}, "entries"),
    ({"entries": "6"}, "entries"),  # over TICKER_EMBED_MAX_ENTRIES (5 here)
    ({"entries": "two"}, "entries"),
    ({"theme": "pink"}, "theme"),
    ({"accent": "red"}, "accent"),
    ({"accent": "#12345"}, "accent"),
    ({"accent": "#fff;}body{"}, "accent"),
    ({"compact": "maybe"}, "compact"),
    ({"lang": "de"}, "lang"),
    ({"colour": "red"}, "colour"),
]


async def test_bad_embed_options_name_the_field(node: Node) -> None:
    admin = await node.reporter("ada", role="admin")
    slug = await admin.incident()
    for query, field in BAD_OPTIONS:
        for path in (f"/api/embed/{slug}", f"/embed/{slug}"):
            refused = await admin.call("GET", path, 422, params=query)
            assert refused["field"] == field, (path, query, refused)


async def test_embed_options_are_echoed_for_the_element(node: Node) -> None:
    admin = await node.reporter("ada", role="admin")
    slug = await admin.incident()
    for n in range(7):
        await admin.post(slug, f"Uppdatering {n}.")
    state = await admin.call(
        "GET",
        f"/api/embed/{slug}",
        params={"entries": 5, "theme": "dark", "accent": "#0A7", "compact": "", "lang": "en"},
    )
    assert state["options"] == {
        "entries": 5,
        "theme": "dark",
        "accent": "#0a7",
        "compact": True,
        "link": True,
        "lang": "en",
        "key_events": False,  # the reader views' options (docs/embeds.md), at their defaults
        "order": "newest",
    }
    assert [e["body"] for e in state["entries"]] == [f"<p>Uppdatering {n}.</p>" for n in (6, 5, 4, 3, 2)]
    assert state["strings"]["full_story"] == "Read the full story on Ticker"
    assert state["url"] == f"{node.url}/i/{slug}?lang=en"
    assert state["live"] == node.ws_url
    assert 'class="entry' in state["template"] and 'class="permalink"' in state["template"]
    anonymous = Reporter(node.url, None)
    swedish = await anonymous.call("GET", f"/api/embed/{slug}")
    await anonymous.aclose()
    assert swedish["strings"]["full_story"] == "Läs hela händelsen på Ticker"
    assert swedish["options"]["entries"] == 5 and swedish["options"]["lang"] == "sv"


async def test_a_partner_added_elsewhere_is_seen_after_the_cache_time(sqlite_url: str) -> None:
    settings = node_settings(sqlite_url, partner_cache_seconds=3600)
    async with running_node(settings) as node:
        with pytest.raises(InvalidStatus):
            await connect(node.ws_url, origin=Origin(PARTNER))  # loads the (empty) partner list
        # Another process (the CLI, another node) adds the partner: this node trusts its cache for an hour.
        await add_partner(node.services.store, "gp", [PARTNER], max_origins=20)
        with pytest.raises(InvalidStatus):
            await connect(node.ws_url, origin=Origin(PARTNER))
    async with (
        running_node(settings.replace(partner_cache_seconds=0)) as node,
        connect(node.ws_url, origin=Origin(PARTNER)) as ws,
    ):
        assert ws.response is not None and ws.response.status_code == 101
