"""Hostile input, by class (issue #11): JSON nested deeper than ``max_json_depth``, control and bidi characters
in any text that reaches SQL, bodies that are not ``application/json`` in UTF-8, and nulls that mean nothing.
Each is refused with a clear error naming the field and changes nothing, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.live import LiveReader
from tests.support.newsroom import PASSWORD, person
from tests.support.node import Node, Reporter, node_settings, running_node
from tests.test_newsroom_security import http_login

NUL, ESC, DEL, C1 = "\x00", "\x1b", "\x7f", "\x85"
RLO, RLI = "\u202e", "\u2067"  # right-to-left override, right-to-left isolate


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@dataclass
class Newsroom:
    """A node with one of everything a JSON write can change: an incident, an entry, a pending submission and a
    partner, and the people allowed to change them."""

    node: Node
    admin: Reporter  # may do anything: open, post, review, manage partners
    slug: str
    entry: int
    submission: int

    @property
    def paths(self) -> dict[str, str]:
        base = f"/api/incidents/{self.slug}"
        return {
            "incidents": "/api/incidents",
            "incident": base,
            "entries": f"{base}/entries",
            "entry": f"{base}/entries/{self.entry}",
            "submission": f"{base}/submissions/{self.submission}",
            "partners": "/api/partners",
            "partner": "/api/partners/gp",
        }

    async def state(self) -> tuple[int, Any, Any]:
        """What any write would change: the incidents' events, the review queue and the partners."""
        events = 0
        for incident in (await self.admin.call("GET", "/api/incidents"))["incidents"]:
            events += await self.node.services.store.count_events(incident["slug"])
        queue = await self.admin.call("GET", f"/api/incidents/{self.slug}/submissions")
        return events, queue, await self.admin.call("GET", "/api/partners")


async def newsroom(node: Node) -> Newsroom:
    admin = await node.reporter("ada", role="admin")
    slug = await admin.incident("Brand i hamnen")
    entry = (await admin.post(slug, "Räddningstjänsten är på plats."))["entry"]["id"]
    contributor = await node.reporter("cia", role="contributor")
    submitted = await contributor.call("POST", f"/api/incidents/{slug}/entries", 202, json={"body": "Rök syns."})
    await admin.call("POST", "/api/partners", 201, json={"name": "gp", "origins": ["https://gp.example"]})
    return Newsroom(node, admin, slug, entry, submitted["submission"]["id"])


@pytest.fixture
async def sqlite_newsroom(sqlite_url: str) -> AsyncIterator[Newsroom]:
    async with running_node(node_settings(sqlite_url)) as node:
        yield await newsroom(node)


@pytest.fixture
async def any_newsroom(database_url: str) -> AsyncIterator[Newsroom]:
    async with running_node(node_settings(database_url)) as node:
        yield await newsroom(node)


# Every JSON write, with a body it would accept (and act on).
JSON_WRITES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "incidents", {"title": "Storm"}),
    ("PATCH", "incident", {"title": "Storm"}),
    ("POST", "entries", {"body": "Hej"}),
    ("PATCH", "entry", {"body": "Hej"}),
    ("POST", "entry/retract", {"correction": "Fel adress."}),
    ("POST", "entry/pin", {}),
    ("POST", "incident/close", {}),
    ("POST", "submission/approve", {}),
    ("POST", "submission/reject", {"reason": "Reklam."}),
    ("POST", "partners", {"name": "ny", "origins": ["https://ny.example"]}),
    ("PATCH", "partner", {"origins": ["https://gp2.example"]}),
]


def path_of(room: Newsroom, where: str) -> str:
    name, _, rest = where.partition("/")
    return room.paths[name] + (f"/{rest}" if rest else "")


async def refused(room: Newsroom, method: str, where: str, status: int, **request: Any) -> dict[str, Any]:
    """Send a request that must be refused with ``status``; returns the error, having checked nothing changed."""
    before = await room.state()
    response = await room.admin.http.request(method, path_of(room, where), **request)
    assert response.status_code == status, (method, where, response.status_code, response.text)
    assert await room.state() == before, (method, where)
    error: dict[str, Any] = response.json()
    return error


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def with_extra(body: dict[str, Any], raw_value: str) -> bytes:
    """``body`` with one more field whose value is the raw JSON text ``raw_value``."""
    return json.dumps({**body, "extra": None}).replace("null", raw_value).encode()


JSON = {"Content-Type": "application/json"}


# 3. Deeply nested JSON.


async def test_a_body_nested_20000_deep_is_422_on_every_json_write(sqlite_newsroom: Newsroom) -> None:
    for method, where, body in JSON_WRITES:
        content = with_extra(body, nested(20_000))  # 40 KB: under the 64 KB body limit
        error = await refused(sqlite_newsroom, method, where, 422, content=content, headers=JSON)
        assert error["field"] == "body", error
        assert "nested more than 32 levels deep" in error["message"], error


async def test_the_nesting_bound_is_a_setting(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url, max_json_depth=2)) as node:
        room = await newsroom(node)  # a partner's origins nest 2 deep: still accepted
        error = await refused(room, "POST", "incidents", 422, content=with_extra({"title": "x"}, "[[1]]"), headers=JSON)
        assert error["field"] == "body" and "nested more than 2 levels deep" in error["message"], error
        # Brackets inside strings are text, not nesting.
        created = await room.admin.call("POST", "/api/incidents", 201, json={"title": "[[[{{{ Storm"})
        assert created["incident"]["title"] == "[[[{{{ Storm"
        # The live socket keeps the same bound: a subscribe is 1 level deep, [[1]] 2, [[[1]]] 3.
        reader = await LiveReader.open(node.ws_url)
        await reader.send("[[[1]]]")
        reply = await reader.receive()
        assert reply["code"] == "bad_message" and "nested more than 2 levels deep" in reply["message"], reply
        assert (await reader.subscribe(room.slug))["type"] == "subscribed"
        await reader.close()


async def test_up_to_the_bound_a_body_is_parsed_and_then_validated(sqlite_newsroom: Newsroom) -> None:
    content = with_extra({"title": "x"}, nested(31))  # in the body's object: 32 levels
    error = await refused(sqlite_newsroom, "POST", "incidents", 422, content=content, headers=JSON)
    assert error["field"] == "extra"  # parsed: the unknown field is what is wrong
    content = with_extra({"title": "x"}, nested(32))
    error = await refused(sqlite_newsroom, "POST", "incidents", 422, content=content, headers=JSON)
    assert error["field"] == "body"


async def test_a_nested_live_frame_gets_an_error_and_the_socket_stays_open(sqlite_newsroom: Newsroom) -> None:
    reader = await LiveReader.open(sqlite_newsroom.node.ws_url)
    for frame in (nested(2000), "[" * 4000, '{"type": "subscribe", "incident": ' + nested(1500) + "}"):
        assert len(frame.encode()) <= 4096  # under TICKER_WS_MAX_MESSAGE_BYTES: the frame is read and parsed
        await reader.send(frame)
        reply = await reader.receive()
        assert reply["type"] == "error" and reply["code"] == "bad_message", reply
        assert "nested more than 32 levels deep" in reply["message"], reply
    assert (await reader.subscribe(sqlite_newsroom.slug))["type"] == "subscribed"
    await reader.close()


# 4. Control and bidi characters, on both databases.

# (method, where, body with {} where the character goes, the field named)
TEXTS: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "incidents", {"title": "Bra{}nd"}, "title"),
    ("POST", "incidents", {"title": "Storm", "summary": "Kraftig{}vind"}, "summary"),
    ("POST", "incidents", {"title": "Storm", "category": "Vä{}der"}, "category"),
    ("POST", "incidents", {"title": "Storm", "location": "Mal{}mö"}, "location"),
    ("POST", "incidents", {"title": "Storm", "photo_url": "https://bild.example/{}.jpg"}, "photo_url"),
    ("POST", "incidents", {"title": "Storm", "photo_credit": "Foto: {}Eva"}, "photo_credit"),
    ("PATCH", "incident", {"title": "Bra{}nd"}, "title"),
    ("PATCH", "incident", {"summary": "Kraftig{}vind"}, "summary"),
    ("PATCH", "incident", {"photo_credit": "Foto: {}Eva"}, "photo_credit"),
    ("POST", "entries", {"body": "Hej{}då"}, "body"),
    ("POST", "entries", {"body": "Hej", "label": "23{}40"}, "label"),
    ("PATCH", "entry", {"body": "Hej{}då"}, "body"),
    ("PATCH", "entry", {"label": "23{}40"}, "label"),
    ("POST", "entry/retract", {"correction": "Fel{}adress"}, "correction"),
    ("POST", "submission/reject", {"reason": "Rek{}lam"}, "reason"),
    ("POST", "partners", {"name": "n{}y", "origins": ["https://ny.example"]}, "name"),
    ("POST", "partners", {"name": "ny", "origins": ["https://ny{}.example"]}, "origins.0"),
]


def filled(body: dict[str, Any], char: str) -> dict[str, Any]:
    return json.loads(json.dumps(body).replace("{}", json.dumps(char)[1:-1]))


async def test_control_characters_in_json_text_are_422_naming_the_field(any_newsroom: Newsroom) -> None:
    for method, where, body, field in TEXTS:
        for char in (NUL, ESC, DEL, C1):
            error = await refused(any_newsroom, method, where, 422, json=filled(body, char))
            assert error["field"] == field, (where, error)
            assert "control characters" in error["message"] and f"U+{ord(char):04X}" in error["message"], error


async def test_tabs_and_line_breaks_only_in_multi_line_text(any_newsroom: Newsroom) -> None:
    room, slug = any_newsroom, any_newsroom.slug
    for method, where, body, field in TEXTS:
        multi_line = field in {"summary", "body", "correction", "reason"}
        for char in ("\t", "\n", "\r\n"):
            if not multi_line:
                error = await refused(room, method, where, 422, json=filled(body, char))
                assert error["field"] == field, (where, error)
    posted = await room.admin.post(slug, "Rad ett\n\tRad två")
    assert posted["entry"]["body"] == "<p>Rad ett<br>\tRad två</p>"
    changed = await room.admin.call("PATCH", f"/api/incidents/{slug}", json={"summary": "Rad 1\r\nRad 2"})
    assert changed["incident"]["summary"] == "Rad 1\r\nRad 2"
    path = room.paths["submission"] + "/reject"
    assert (await room.admin.call("POST", path, json={"reason": "Reklam\n\nför en blogg"}))["submission"]


async def test_bidi_controls_are_refused_in_titles_labels_and_names(any_newsroom: Newsroom) -> None:
    names = [t for t in TEXTS if t[3] in {"title", "label", "photo_credit", "name"}]
    for method, where, body, field in names:
        for char in (RLO, RLI):
            error = await refused(any_newsroom, method, where, 422, json=filled(body, char))
            assert error["field"] == field and "bidirectional" in error["message"], error
    # Prose may quote right-to-left text: the rule is for what names something.
    posted = await any_newsroom.admin.post(any_newsroom.slug, f"Skylten säger {RLI}שלום{chr(0x2069)}.")
    assert RLI in posted["entry"]["body"]


# Every kind of URL text that reaches SQL (or could): path parameters and query parameters.
URLS: list[tuple[str, str]] = [
    ("/search?q=%00", "q"),
    ("/search?q=brand%1Bhamn", "q"),
    ("/api/incidents/%00", "path"),
    ("/api/incidents/brand%00/entries?limit=5", "path"),
    ("/api/incidents/{slug}/entries?before=%00", "before"),
    ("/i/brand%00", "path"),
    ("/i/brand%00/feed.atom", "path"),
    ("/i/brand%00/viewers", "path"),
    ("/sse/brand%00", "path"),
    ("/sse?follow=brand%00", "follow"),
    ("/api/embed/brand%00", "path"),
    ("/embed/{slug}?lang=sv%00", "lang"),
    ("/oembed?url=http%3A%2F%2F127.0.0.1%2Fi%2Fa%00", "url"),
    ("/api/partners/gp%00", "path"),
    ("/api/partners/gp/snippet?incident=brand%00", "incident"),
    ("/desk/i/brand%00", "path"),
    ("/login?next=/desk%0A", "next"),
    ("/search?q%00=1", "query"),
    ("/search?q=%C2%85", "q"),  # U+0085, a C1 control
]


async def test_control_characters_in_urls_are_422_naming_the_parameter(any_newsroom: Newsroom) -> None:
    for url, field in URLS:
        response = await any_newsroom.admin.http.get(url.replace("{slug}", any_newsroom.slug))
        assert response.status_code == 422, (url, response.status_code, response.text[:300])
        assert response.json()["field"] == field, (url, response.text)
    before = await any_newsroom.state()
    response = await any_newsroom.admin.http.patch("/api/partners/gp%00", json={"origins": ["https://x.example"]})
    assert response.status_code == 422 and response.json()["field"] == "path"
    assert await any_newsroom.state() == before


async def test_a_stored_header_with_a_control_character_is_422(any_newsroom: Newsroom) -> None:
    # httptools refuses C0 controls in headers (400); a C1 control arrives as Latin-1 and would be stored.
    error = await refused(
        any_newsroom, "POST", "entries", 422, json={"body": "Hej"}, headers={"Idempotency-Key": b"post\x851"}
    )
    assert error["field"] == "Idempotency-Key" and "U+0085" in error["message"], error


async def test_forms_refuse_control_characters_cleanly(database_url: str) -> None:
    async with running_node(node_settings(database_url)) as node, httpx.AsyncClient(base_url=node.url) as client:
        await person(node, "anna", "admin")
        for name, password, field in [(f"an{NUL}na", PASSWORD, "name"), ("anna", f"{PASSWORD}{NUL}", "password")]:
            answer = await http_login(client, name, password)
            assert answer.status_code == 422 and answer.json()["field"] == field, answer.text
        assert (await http_login(client, "anna", PASSWORD)).status_code == 303
        cookie = {"Cookie": f"ticker_session={client.cookies['ticker_session']}"}
        page = await client.get("/desk/tokens", headers=cookie)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf, page.text
        for label in (f"bot{NUL}", f"bot{RLO}"):
            answer = await client.post("/desk/tokens", data={"csrf": csrf[1], "label": label}, headers=cookie)
            assert answer.status_code == 422 and answer.json()["field"] == "label", answer.text
        form = {"csrf": csrf[1], "name": "bo", "role": "reporter", "password": PASSWORD}
        for display_name in (f"Bo{NUL}", f"Bo {RLO}nossvenS"):
            answer = await client.post("/desk/users", data={**form, "display_name": display_name}, headers=cookie)
            assert answer.status_code == 422 and "display_name: must not contain" in answer.text, answer.text
        users = await client.get("/desk/users", headers=cookie)
        assert 'value="bo"' not in users.text and ">bo<" not in users.text  # nobody was added
        assert "tk_" not in (await client.get("/desk/tokens", headers=cookie)).text  # no token was made


# 5. Content types, and nulls.


async def test_json_writes_take_only_application_json_in_utf8(sqlite_newsroom: Newsroom) -> None:
    room = sqlite_newsroom
    for method, where, body in JSON_WRITES:
        content = json.dumps(body or {"x": 1}).encode()
        for content_type in (
            "text/plain",
            None,
            "application/x-www-form-urlencoded",
            "application/json; charset=latin-1",
        ):
            headers = {"Content-Type": content_type} if content_type else {}
            error = await refused(room, method, where, 415, content=content, headers=headers)
            assert error["error"] == "unsupported_media_type" and error["field"] == "Content-Type", error
        for encoded in (
            json.dumps(body).encode("utf-16"),
            json.dumps({"x": "å"}, ensure_ascii=False).encode("latin-1"),
        ):
            error = await refused(room, method, where, 415, content=encoded, headers=JSON)
            assert error["field"] == "body" and "UTF-8" in error["message"], error
    for content_type in ("application/json; charset=utf-8", 'Application/JSON;charset="UTF-8"'):
        await room.admin.call(
            "POST", "/api/incidents", 201, content=b'{"title": "Storm"}', headers={"Content-Type": content_type}
        )


async def test_a_post_without_a_body_needs_no_content_type(sqlite_newsroom: Newsroom) -> None:
    room = sqlite_newsroom
    for where in ("entry/pin", "entry/unpin", "incident/close", "incident/reopen", "submission/approve"):
        response = await room.admin.http.post(path_of(room, where))
        assert "content-type" not in response.request.headers
        assert response.status_code == 200, (where, response.text)


NULLS_REFUSED: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "incidents", {"title": None}, "title"),
    ("POST", "incidents", {"title": "Storm", "summary": None}, "summary"),
    ("PATCH", "incident", {"title": None}, "title"),
    ("POST", "entries", {"body": None}, "body"),
    ("POST", "entries", {"body": "Hej", "key_event": None}, "key_event"),
    ("PATCH", "entry", {"body": None}, "body"),
    ("PATCH", "entry", {"label": None}, "label"),
    ("PATCH", "entry", {"key_event": None}, "key_event"),
    ("POST", "partners", {"name": "ny", "origins": None}, "origins"),
    ("PATCH", "partner", {"origins": None}, "origins"),
    ("PATCH", "partner", {"incidents": ["brand-i-hamnen"], "allow_subdomains": None}, "allow_subdomains"),
]


async def test_null_is_refused_where_it_means_nothing(sqlite_newsroom: Newsroom) -> None:
    for method, where, body, field in NULLS_REFUSED:
        error = await refused(sqlite_newsroom, method, where, 422, json=body)
        assert error == {"error": "invalid", "message": f"{field}: must not be null", "field": field}


async def test_null_means_what_the_readme_says_where_it_means_something(sqlite_newsroom: Newsroom) -> None:
    room, slug = sqlite_newsroom, sqlite_newsroom.slug
    created = await room.admin.call("POST", "/api/incidents", 201, json={"title": "Storm", "slug": None})
    assert created["incident"]["slug"] == "storm"  # made from the title
    photo = {"photo_url": "https://bild.example/a.jpg", "photo_credit": "Eva", "summary": "Vind", "category": "Väder"}
    await room.admin.call("PATCH", f"/api/incidents/{slug}", json=photo)
    emptied = await room.admin.call("PATCH", f"/api/incidents/{slug}", json=dict.fromkeys(photo))
    assert {k: emptied["incident"][k] for k in photo} == {
        "photo_url": None,
        "photo_credit": None,
        "summary": "",
        "category": "",
    }
    entry = await room.admin.post(slug, "Hej", label=None)
    assert re.fullmatch(r"\d\d:\d\d", entry["entry"]["label"])  # the time it was posted
    await room.admin.call("PATCH", "/api/partners/gp", json={"incidents": [slug]})
    everything = await room.admin.call("PATCH", "/api/partners/gp", json={"incidents": None})
    assert everything["partner"]["incidents"] is None
