"""Security headers on every route (issue 11), against a real node.

One table holds a row for each route of the app (method and path), with a real request and what its answer must
carry; the test walks the app's routes, so a route added without a row, or a row left for a removed route, fails.
Every answer: ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy``; HTML pages: the page policy with
their framing (our own pages, the embed's partners, or nobody for the newsroom); nothing else a CSP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route, WebSocketRoute
from websockets.asyncio.client import connect

from tests.support.live import subscribed
from tests.support.node import Node, node_settings, running_node
from ticker.app import create_app
from ticker.config import Settings
from ticker.store.accounts import add_user
from ticker.store.logins import start_session

PARTNER = "https://www.gp.se"
UNKNOWN = "ingen-sadan"  # writes go to an incident that does not exist: 404, and nothing changes
WEBSOCKET = "WEBSOCKET"


# The link cards' players (ticker.media.providers), framed only after a click (tests/test_link_cards_browser.py).
PLAYERS = (
    "'self' https://www.youtube-nocookie.com https://player.vimeo.com https://platform.twitter.com "
    "https://www.instagram.com https://www.facebook.com https://www.tiktok.com https://embed.bsky.app "
    "https://mastodon.nu https://mastodon.social"
)


def policy(port: int, framing: str) -> dict[str, str]:
    """The pages' Content-Security-Policy, directive by directive, written out here rather than imported."""
    return {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' https:",
        "connect-src": f"'self' ws://127.0.0.1:{port}",
        "frame-src": PLAYERS,
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": framing,
    }


def directives(header: str) -> dict[str, str]:
    parsed = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        assert name not in parsed, f"{name} twice in {header!r}"
        parsed[name] = value.strip()
    return parsed


@dataclass(frozen=True)
class Row:
    """A request to one route and what its answer is: ``kind`` names the headers it must carry."""

    path: str  # the request's path and query, {slug} and {entry} filled in
    status: int
    kind: str  # page (framed by our own pages) | embed (and the partners') | desk (by nobody) | other
    content_type: str
    client: str = "anonymous"  # anonymous | bearer (an admin's token) | desk (an admin's session cookie)
    body: dict[str, Any] | None = None
    headers: tuple[tuple[str, str], ...] = ()


HTML, JSON, JS = "text/html", "application/json", "text/javascript"
# (method, route path) -> the request. Writes go to what does not exist or leave out what they need: a refusal
# is an answer like any other and must carry the headers too.
ROWS: dict[tuple[str, str], Row | list[Row]] = {
    ("GET", "/healthz"): Row("/healthz", 200, "other", JSON),
    ("GET", "/metrics"): Row("/metrics", 404, "other", JSON),  # TICKER_METRICS_TOKEN unset: off (tests/test_metrics.py)
    ("GET", "/desk/status"): Row("/desk/status", 200, "desk", HTML, "desk"),
    ("GET", "/desk/status/nodes"): Row("/desk/status/nodes", 200, "other", JSON, "desk"),
    ("GET", "/livez"): Row("/livez", 200, "other", JSON),
    ("GET", "/readyz"): Row("/readyz", 200, "other", JSON),
    (WEBSOCKET, "/live"): [],  # no HTTP answer: the test opens a socket through the middleware instead
    ("GET", "/api/incidents"): Row("/api/incidents", 200, "other", JSON),
    ("POST", "/api/incidents"): Row("/api/incidents", 422, "other", JSON, "bearer", {}),
    ("POST", "/api/photos"): Row("/api/photos", 415, "other", JSON, "bearer", {}),  # a photo comes as a form
    ("GET", "/media/{name}"): Row("/media/" + "0" * 64 + ".jpg", 404, "other", JSON),
    ("GET", "/api/incidents/{slug}"): Row("/api/incidents/{slug}", 200, "other", JSON),
    ("PATCH", "/api/incidents/{slug}"): Row(f"/api/incidents/{UNKNOWN}", 404, "other", JSON, "bearer", {"title": "Ny"}),
    ("DELETE", "/api/incidents/{slug}"): Row(f"/api/incidents/{UNKNOWN}", 404, "other", JSON, "bearer"),
    ("GET", "/api/incidents/{slug}/export"): Row("/api/incidents/{slug}/export", 200, "other", JSON, "bearer"),
    ("POST", "/api/incidents/import"): Row("/api/incidents/import", 422, "other", JSON, "bearer", {}),
    ("POST", "/api/incidents/{slug}/close"): Row(f"/api/incidents/{UNKNOWN}/close", 404, "other", JSON, "bearer"),
    ("POST", "/api/incidents/{slug}/reopen"): Row(f"/api/incidents/{UNKNOWN}/reopen", 404, "other", JSON, "bearer"),
    ("GET", "/api/incidents/{slug}/entries"): Row("/api/incidents/{slug}/entries", 200, "other", JSON),
    ("POST", "/api/incidents/{slug}/entries"): Row(
        f"/api/incidents/{UNKNOWN}/entries", 404, "other", JSON, "bearer", {"body": "Hej."}
    ),
    ("PATCH", "/api/incidents/{slug}/entries/{entry_id}"): Row(
        f"/api/incidents/{UNKNOWN}/entries/1", 404, "other", JSON, "bearer", {"body": "Hej."}
    ),
    ("POST", "/api/incidents/{slug}/entries/{entry_id}/retract"): Row(
        f"/api/incidents/{UNKNOWN}/entries/1/retract", 404, "other", JSON, "bearer", {}
    ),
    ("POST", "/api/incidents/{slug}/entries/{entry_id}/pin"): Row(
        f"/api/incidents/{UNKNOWN}/entries/1/pin", 404, "other", JSON, "bearer"
    ),
    ("POST", "/api/incidents/{slug}/entries/{entry_id}/unpin"): Row(
        f"/api/incidents/{UNKNOWN}/entries/1/unpin", 404, "other", JSON, "bearer"
    ),
    ("GET", "/api/incidents/{slug}/submissions"): Row(
        "/api/incidents/{slug}/submissions", 200, "other", JSON, "bearer"
    ),
    ("POST", "/api/incidents/{slug}/submissions/{submission_id}/approve"): Row(
        f"/api/incidents/{UNKNOWN}/submissions/1/approve", 404, "other", JSON, "bearer"
    ),
    ("POST", "/api/incidents/{slug}/submissions/{submission_id}/reject"): Row(
        f"/api/incidents/{UNKNOWN}/submissions/1/reject", 404, "other", JSON, "bearer"
    ),
    ("GET", "/api/incidents/{slug}/entries/{entry_id}/history"): Row(
        "/api/incidents/{slug}/entries/{entry}/history", 200, "other", JSON, "bearer"
    ),
    ("GET", "/login"): Row("/login", 200, "desk", HTML),
    ("POST", "/login"): Row("/login", 403, "desk", HTML),  # no form token: the form again, refused
    ("POST", "/logout"): Row("/logout", 303, "other", ""),  # no session: sent to /login
    ("GET", "/desk"): Row("/desk", 200, "desk", HTML, "desk"),
    ("GET", "/desk/sw.js"): Row("/desk/sw.js", 200, "other", JS),
    ("GET", "/desk/i/{slug}"): Row("/desk/i/{slug}", 200, "desk", HTML, "desk"),
    ("GET", "/desk/i/{slug}/state"): Row("/desk/i/{slug}/state", 200, "other", JSON, "desk"),
    ("GET", "/desk/tokens"): Row("/desk/tokens", 200, "desk", HTML, "desk"),
    ("POST", "/desk/tokens"): Row("/desk/tokens", 403, "other", JSON, "desk"),  # no CSRF token
    ("POST", "/desk/i/{slug}/alert"): Row("/desk/i/{slug}/alert", 403, "other", JSON, "desk"),  # no CSRF token
    ("GET", "/api/push/key"): Row("/api/push/key", 200, "other", JSON),
    ("POST", "/api/incidents/{slug}/subscriptions"): Row(
        f"/api/incidents/{UNKNOWN}/subscriptions", 422, "other", JSON, body={}
    ),
    ("GET", "/api/push/subscriptions/{token}"): Row("/api/push/subscriptions/ps_ingen", 404, "other", JSON),
    ("DELETE", "/api/push/subscriptions/{token}"): Row("/api/push/subscriptions/ps_ingen", 404, "other", JSON),
    ("GET", "/api/incidents/{slug}/alerts"): Row(f"/api/incidents/{UNKNOWN}/alerts", 404, "other", JSON, "bearer"),
    ("POST", "/api/incidents/{slug}/alerts"): Row(
        f"/api/incidents/{UNKNOWN}/alerts", 404, "other", JSON, "bearer", {"entry": 1}
    ),
    ("GET", "/sw.js"): Row("/sw.js", 200, "other", JS),  # the reader's service worker (Web Push)
    ("GET", "/push/unsubscribe/{token}"): Row("/push/unsubscribe/ps_ingen", 404, "page", HTML),
    ("POST", "/push/unsubscribe/{token}"): Row("/push/unsubscribe/ps_ingen", 404, "page", HTML),
    ("POST", "/desk/tokens/{token_id}/revoke"): Row("/desk/tokens/1/revoke", 403, "other", JSON, "desk"),
    ("GET", "/desk/users"): Row("/desk/users", 200, "desk", HTML, "desk"),
    ("POST", "/desk/users"): Row("/desk/users", 403, "other", JSON, "desk"),
    ("POST", "/desk/users/{user_id}/role"): Row("/desk/users/1/role", 403, "other", JSON, "desk"),  # no CSRF token
    ("POST", "/desk/users/{user_id}/disable"): Row("/desk/users/1/disable", 403, "other", JSON, "desk"),
    ("POST", "/desk/users/{user_id}/enable"): Row("/desk/users/1/enable", 403, "other", JSON, "desk"),
    ("POST", "/desk/users/{user_id}/delete"): Row("/desk/users/1/delete", 403, "other", JSON, "desk"),
    ("POST", "/desk/users/{user_id}/reset"): Row("/desk/users/1/reset", 403, "other", JSON, "desk"),
    ("POST", "/desk/users/{user_id}/revoke-tokens"): Row("/desk/users/1/revoke-tokens", 403, "other", JSON, "desk"),
    ("GET", "/desk/partners"): Row("/desk/partners", 200, "desk", HTML, "desk"),
    ("POST", "/desk/partners/{name}/remove"): Row("/desk/partners/gp/remove", 403, "other", JSON, "desk"),
    ("GET", "/desk/audit"): Row("/desk/audit", 200, "desk", HTML, "desk"),
    ("GET", "/desk/audit/export"): Row("/desk/audit/export?format=csv", 200, "other", "text/csv", "desk"),
    ("GET", "/reset/{token}"): Row("/reset/ingen-sadan", 404, "desk", HTML),  # no such link: the page says so
    ("POST", "/reset/{token}"): Row("/reset/ingen-sadan", 404, "desk", HTML),
    ("GET", "/i/{slug}"): [
        Row("/i/{slug}", 200, "page", HTML),
        Row(f"/i/{UNKNOWN}", 404, "page", HTML),  # the page saying so
    ],
    ("GET", "/i/{slug}/e/{entry_id}"): Row("/i/{slug}/e/{entry}", 200, "page", HTML),
    ("GET", "/i/{slug}/viewers"): Row("/i/{slug}/viewers", 200, "other", JSON),
    ("GET", "/support/swish.svg"): Row("/support/swish.svg", 404, "other", JSON),  # no TICKER_SWISH_NUMBER here
    ("GET", "/"): Row("/", 200, "page", HTML),
    ("GET", "/search"): Row("/search?q=hamnen", 200, "page", HTML),
    ("GET", "/api/front"): Row("/api/front", 200, "other", JSON),
    ("GET", "/i/{slug}/feed.atom"): Row("/i/{slug}/feed.atom", 200, "other", "application/atom+xml"),
    ("GET", "/sse/{slug}"): Row("/sse/{slug}", 200, "other", "text/event-stream"),
    ("GET", "/sse"): Row("/sse?follow={slug}:0:{epoch}", 200, "other", "text/event-stream"),
    ("GET", "/api/embed/{slug}"): Row(
        "/api/embed/{slug}", 200, "other", JSON, headers=(("Origin", PARTNER),)
    ),  # CORS for the partner; checked below
    ("GET", "/embed/{slug}"): [
        Row("/embed/{slug}?partner=gp", 200, "embed", HTML),
        Row(f"/embed/{UNKNOWN}", 404, "page", HTML),  # no incident, no partners: our pages only
    ],
    ("GET", "/oembed"): Row("/oembed?url=http://127.0.0.1:{port}/i/{slug}", 200, "other", JSON),
    ("GET", "/api/openapi.json"): Row("/api/openapi.json", 200, "other", JSON),
    ("GET", "/api/docs"): Row("/api/docs", 200, "page", HTML),
    ("GET", "/api/partners"): Row("/api/partners", 200, "other", JSON, "bearer"),
    ("POST", "/api/partners"): Row("/api/partners", 422, "other", JSON, "bearer", {}),
    ("GET", "/api/partners/{name}"): Row("/api/partners/gp", 200, "other", JSON, "bearer"),
    ("PATCH", "/api/partners/{name}"): Row("/api/partners/ingen", 404, "other", JSON, "bearer", {"origins": [PARTNER]}),
    ("DELETE", "/api/partners/{name}"): Row("/api/partners/ingen", 404, "other", JSON, "bearer"),
    ("GET", "/api/partners/{name}/snippet"): Row(
        "/api/partners/gp/snippet?incident={slug}", 200, "other", JSON, "bearer"
    ),
    # Readers' tips: the form's POST refuses a request from no page of ours (no Origin) before reading it.
    ("POST", "/tips"): Row("/tips", 403, "other", JSON),
    ("GET", "/tips/delete/{code}"): Row("/tips/delete/abc123", 200, "page", HTML),
    ("POST", "/tips/delete/{code}"): Row("/tips/delete/abc123", 403, "other", JSON),
    ("GET", "/api/tips"): Row("/api/tips", 200, "other", JSON, "bearer"),
    ("POST", "/api/tips/{tip_id}/answer"): Row("/api/tips/999/answer", 404, "other", JSON, "bearer", {"answer": "Ja."}),
    ("POST", "/api/tips/{tip_id}/discard"): Row("/api/tips/999/discard", 404, "other", JSON, "bearer", {}),
    ("DELETE", "/api/tips/{tip_id}"): Row("/api/tips/999", 404, "other", JSON, "bearer"),
    ("GET", "/api/tips/{tip_id}/photo"): Row("/api/tips/999/photo", 404, "other", JSON, "bearer"),
    ("GET", "/desk/sources"): Row("/desk/sources", 200, "desk", HTML, "desk"),
    ("GET", "/desk/sources/stream"): Row("/desk/sources/stream", 200, "other", "text/event-stream", "desk"),
    ("GET", "/api/sources"): Row("/api/sources", 200, "other", JSON, "bearer"),
    ("POST", "/api/sources"): Row("/api/sources", 422, "other", JSON, "bearer", {}),
    ("GET", "/api/sources/items"): Row("/api/sources/items", 200, "other", JSON, "bearer"),
    ("PATCH", "/api/sources/{source_id}"): Row("/api/sources/999", 404, "other", JSON, "bearer", {"enabled": False}),
    ("DELETE", "/api/sources/{source_id}"): Row("/api/sources/999", 404, "other", JSON, "bearer"),
    ("POST", "/api/sources/items/{item_id}/state"): Row(
        "/api/sources/items/999/state", 404, "other", JSON, "bearer", {"state": "watched"}
    ),
    ("POST", "/api/sources/items/{item_id}/ticker"): Row(
        "/api/sources/items/999/ticker", 404, "other", JSON, "bearer", {"title": "Ny", "entry": "Hej."}
    ),
    ("GET", "/static"): [
        Row("/static/embed.js", 200, "other", JS),
        Row("/static/live.js", 200, "other", JS),
        Row("/static/ticker.css", 200, "other", "text/css"),
        Row("/static/logo.png", 200, "other", "image/png"),
    ],
}


def app_routes(settings: Settings) -> set[tuple[str, str]]:
    """Every (method, path) the app answers; HEAD goes with GET."""
    found = set()
    for route in create_app(settings).routes:
        if isinstance(route, Route):
            methods = route.methods or set()
            found |= {(method, route.path) for method in methods if method != "HEAD" or "GET" not in methods}
        elif isinstance(route, WebSocketRoute):
            found.add((WEBSOCKET, route.path))
        elif isinstance(route, Mount):
            found.add(("GET", route.path))
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    return found


@dataclass
class Newsroom:
    node: Node
    clients: dict[str, httpx.AsyncClient]
    session: str
    values: dict[str, Any]


@pytest.fixture
async def newsroom(sqlite_url: str) -> AsyncIterator[Newsroom]:
    async with running_node(node_settings(sqlite_url)) as node:
        admin = await node.reporter("ada", role="admin")
        await admin.call("POST", "/api/partners", 201, json={"name": "gp", "origins": [PARTNER]})
        slug = await admin.incident("Brand i hamnen")
        entry = (await admin.post(slug, "Räddningstjänsten är på plats."))["entry"]
        epoch = (await admin.call("GET", f"/api/incidents/{slug}"))["incident"]["epoch"]
        account = await add_user(node.services.store, "eva", "Eva Svensson", "admin", "korrekt hästbatteri")
        session, _ = await start_session(node.services.store, account, 3600)
        clients = {
            "anonymous": httpx.AsyncClient(base_url=node.url, timeout=30),
            "bearer": admin.http,
            "desk": httpx.AsyncClient(base_url=node.url, timeout=30, cookies={"ticker_session": session}),
        }
        port = node.services.settings.port
        try:
            yield Newsroom(node, clients, session, {"slug": slug, "entry": entry["id"], "epoch": epoch, "port": port})
        finally:
            await clients["anonymous"].aclose()
            await clients["desk"].aclose()


async def answer(room: Newsroom, method: str, row: Row) -> httpx.Response:
    """The row's request; a stream's headers only."""
    client = room.clients[row.client]
    request = client.build_request(method, row.path.format(**room.values), json=row.body, headers=dict(row.headers))
    response = await client.send(request, stream=True)
    await response.aclose()
    return response


def problems(room: Newsroom, method: str, row: Row, response: httpx.Response) -> list[str]:
    port = room.values["port"]
    found = []
    expected = {
        "status": row.status,
        "content-type": row.content_type,
        "x-content-type-options": "nosniff",
        "referrer-policy": "strict-origin-when-cross-origin",
        "strict-transport-security": None,  # our public URL is http here
    }
    got = {name: response.headers.get(name) for name in expected}
    got["status"] = response.status_code
    got["content-type"] = response.headers.get("content-type", "").split(";")[0]
    found += [f"{name}: {got[name]!r}, not {value!r}" for name, value in expected.items() if got[name] != value]
    csp = response.headers.get_list("content-security-policy")
    framing = {"page": "'self'", "embed": f"'self' {PARTNER}", "desk": "'none'"}.get(row.kind)
    if framing is None:
        if csp:
            found.append(f"a CSP on a {row.content_type} answer: {csp}")
    elif len(csp) != 1 or directives(csp[0]) != policy(port, framing):
        found.append(f"CSP {csp} is not the page policy framed by {framing}")
    if row.kind == "desk" and response.headers.get("x-frame-options") != "DENY":
        found.append("a newsroom page without X-Frame-Options: DENY")
    static_script = row.path.startswith("/static/") and row.content_type == JS
    if static_script and response.headers.get("access-control-allow-origin") != "*":
        found.append("a script in /static without Access-Control-Allow-Origin: *")
    if row.path.startswith("/api/embed/") and response.headers.get("access-control-allow-origin") != PARTNER:
        found.append("the embed API without CORS for its partner")
    return [f"{method} {row.path}: {problem}" for problem in found]


async def test_every_route_answers_with_the_security_headers(newsroom: Newsroom) -> None:
    settings = newsroom.node.services.settings
    routes = app_routes(settings)
    assert routes - set(ROWS) == set(), "routes without a row in ROWS: add one"
    assert set(ROWS) - routes == set(), "rows for routes the app no longer has"
    found = []
    for (method, _path), rows in ROWS.items():
        for row in rows if isinstance(rows, list) else [rows]:
            found += problems(newsroom, method, row, await answer(newsroom, method, row))
    assert found == [], "\n".join(found)

    # The websocket passes through the middleware untouched: a newsroom socket (its cookie and our Origin take
    # the app's path, not the direct handshake) opens and subscribes.
    cookie = f"ticker_session={newsroom.session}"
    node = newsroom.node
    async with connect(node.ws_url, additional_headers={"Cookie": cookie, "Origin": node.url}) as ws:
        assert (await subscribed(ws, newsroom.values["slug"]))["type"] == "subscribed"


async def test_answers_no_route_made_carry_the_headers_too(newsroom: Newsroom) -> None:
    client = newsroom.clients["anonymous"]
    too_large = await client.post("/api/incidents", content=b"x" * (newsroom.node.services.settings.max_body_bytes + 1))
    not_found = await client.get("/ingenting")
    wrong_method = await client.delete("/api/incidents")
    for response in (too_large, not_found, wrong_method):
        assert response.status_code in (413, 404, 405)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "content-security-policy" not in response.headers  # JSON


@pytest.mark.parametrize(
    ("hsts_seconds", "expected"), [(31_536_000, "max-age=31536000"), (600, "max-age=600"), (0, None)]
)
async def test_https_public_url_adds_strict_transport_security(
    sqlite_url: str, hsts_seconds: int, expected: str | None
) -> None:
    settings = node_settings(sqlite_url, public_url="https://ticker.example", hsts_seconds=hsts_seconds)
    async with running_node(settings) as node, httpx.AsyncClient(base_url=node.url, timeout=30) as client:
        for path in ("/", "/api/incidents", "/static/live.js", "/ingenting"):
            response = await client.get(path)
            assert response.headers.get("strict-transport-security") == expected, path
        page = await client.get("/")
    # Behind https the live socket is wss: on our public host.
    assert directives(page.headers["content-security-policy"])["connect-src"] == "'self' wss://ticker.example"


def test_the_hsts_setting_is_read_from_the_environment() -> None:
    assert Settings.from_env({"TICKER_HSTS_SECONDS": "600"}).hsts_seconds == 600
    assert Settings().hsts_seconds == 365 * 24 * 3600
    with pytest.raises(ValueError, match="TICKER_HSTS_SECONDS"):
        Settings.from_env({"TICKER_HSTS_SECONDS": "a year"})
