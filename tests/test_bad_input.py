"""Bad input: a clear error naming the field, and nothing stored or emitted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.live import LiveReader
from tests.support.node import Node, Reporter, node_settings, running_node


@pytest.fixture
async def node(sqlite_url: str) -> AsyncIterator[Node]:
    async with running_node(node_settings(sqlite_url, max_body_bytes=4096, max_entry_chars=500)) as running:
        yield running


async def events_of(node: Node, slug: str) -> int:
    return await node.services.store.count_events(slug)


async def test_missing_or_wrong_token_is_401_and_writes_nothing(node: Node) -> None:
    reporter = await node.reporter()
    slug = await reporter.incident()
    before = await events_of(node, slug)
    for headers in ({}, {"Authorization": "Bearer tk_nope"}, {"Authorization": "Basic abc"}):
        async with httpx.AsyncClient(base_url=node.url, headers=headers) as anonymous:
            response = await anonymous.post(f"/api/incidents/{slug}/entries", json={"body": "Hej"})
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
    assert await events_of(node, slug) == before


async def test_unknown_incident_and_entry_are_404(node: Node) -> None:
    reporter = await node.reporter()
    body = await reporter.call("POST", "/api/incidents/finns-inte/entries", 404, json={"body": "Hej"})
    assert body == {"error": "not_found", "message": "incident not found"}
    await reporter.call("GET", "/api/incidents/finns-inte", 404)
    slug = await reporter.incident()
    await reporter.call("PATCH", f"/api/incidents/{slug}/entries/999", 404, json={"body": "x"})


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "<script>alert(1)</script>"}, "body"),  # nothing left after sanitising
        ({"body": "x" * 501}, "body"),
        ({"body": 42}, "body"),
        ({"body": "Hej", "key_event": "yes"}, "key_event"),
        ({"body": "Hej", "colour": "red"}, "colour"),
        ({}, "body"),
        ({"body": "Hej", "label": "x" * 17}, "label"),
    ],
)
async def test_invalid_entries_are_422_naming_the_field(node: Node, payload: dict[str, object], field: str) -> None:
    reporter = await node.reporter()
    slug = await reporter.incident()
    before = await events_of(node, slug)
    body = await reporter.call("POST", f"/api/incidents/{slug}/entries", 422, json=payload)
    assert body["error"] == "invalid"
    assert body["field"] == field
    assert field in body["message"]
    assert await events_of(node, slug) == before
    assert (await reporter.state(slug))["entries"] == {}


async def test_body_over_the_limit_is_413_and_not_json_is_422(node: Node) -> None:
    reporter = await node.reporter()
    slug = await reporter.incident()
    body = await reporter.call(
        "POST", f"/api/incidents/{slug}/entries", 413, content=b'{"body": "' + b"x" * 5000 + b'"}'
    )
    assert body["field"] == "body"
    json_type = {"Content-Type": "application/json"}
    body = await reporter.call("POST", f"/api/incidents/{slug}/entries", 422, content=b"{nope", headers=json_type)
    assert body["field"] == "body"
    assert await events_of(node, slug) == 1


async def test_script_and_event_handlers_never_reach_a_reader(node: Node) -> None:
    reporter = await node.reporter()
    slug = await reporter.incident()
    reader = await LiveReader.open(node.ws_url)
    await reader.subscribe(slug, since=1)
    hostile = (
        '<p onclick="x()">Hej<script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:x">l</a></p>'
    )
    await reporter.post(slug, hostile)
    entry = (await reader.follow(slug, upto=2)).events[0]["data"]["entry"]
    for bad in ("<script", "onerror", "onclick", "javascript:", "<img"):
        assert bad not in entry["body"]
    assert entry["body"].startswith("<p>Hej")
    await reader.close()


@pytest.mark.parametrize(
    ("message", "code", "field"),
    [
        ("not json", "bad_message", None),
        ("[1, 2]", "bad_message", None),
        ('{"type": "dance"}', "bad_message", "type"),
        ('{"type": "subscribe"}', "bad_message", "incident"),
        ('{"type": "subscribe", "incident": "Ogiltig Slug"}', "bad_message", "incident"),
        ('{"type": "subscribe", "incident": "a", "since": -1}', "bad_message", "since"),
        ('{"type": "subscribe", "incident": "a", "since": "5"}', "bad_message", "since"),
        ('{"type": "subscribe", "incident": "a", "extra": 1}', "bad_message", "extra"),
        ('{"type": "subscribe", "incident": "finns-inte"}', "unknown_incident", "incident"),
    ],
)
async def test_malformed_websocket_messages_get_a_documented_error(
    node: Node, message: str, code: str, field: str | None
) -> None:
    reader = await LiveReader.open(node.ws_url)
    await reader.send(message)
    reply = await reader.receive()
    assert reply["type"] == "error"
    assert reply["code"] == code
    assert reply.get("field") == field
    # The connection is still usable afterwards.
    reporter = await node.reporter()
    slug = await reporter.incident()
    assert (await reader.subscribe(slug))["incident"] == slug
    await reader.close()


async def test_an_oversized_websocket_message_closes_with_1009(node: Node) -> None:
    reader = await LiveReader.open(node.ws_url)
    await reader.send('{"type": "subscribe", "incident": "' + "a" * 5000 + '"}')
    await reader.ws.wait_closed()
    assert reader.ws.close_code == 1009


async def test_idempotent_post_returns_the_first_result_and_creates_no_twin(node: Node) -> None:
    reporter = await node.reporter()
    slug = await reporter.incident()
    headers = {"Idempotency-Key": "post-1"}
    first = await reporter.call(
        "POST", f"/api/incidents/{slug}/entries", 201, json={"body": "En gång"}, headers=headers
    )
    again = await reporter.call(
        "POST", f"/api/incidents/{slug}/entries", 201, json={"body": "En gång"}, headers=headers
    )
    assert again == first
    assert len((await reporter.state(slug))["entries"]) == 1
    other = await reporter.call("POST", f"/api/incidents/{slug}/entries", 422, json={"body": "Annat"}, headers=headers)
    assert other["field"] == "Idempotency-Key"
    assert await events_of(node, slug) == 2


async def test_writes_to_a_closed_incident_are_409(node: Node) -> None:
    reporter: Reporter = await node.reporter()
    slug = await reporter.incident()
    await reporter.call("POST", f"/api/incidents/{slug}/close")
    body = await reporter.call("POST", f"/api/incidents/{slug}/entries", 409, json={"body": "Sent"})
    assert body["error"] == "conflict"
    await reporter.call("POST", f"/api/incidents/{slug}/close", 409)
    await reporter.call("POST", f"/api/incidents/{slug}/reopen")
    await reporter.post(slug, "Öppen igen")


async def test_a_flood_of_messages_closes_with_1008(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url, ws_max_pending_messages=4)) as node:
        reporter = await node.reporter()
        slug = await reporter.incident()
        reader = await LiveReader.open(node.ws_url)
        message = f'{{"type": "subscribe", "incident": "{slug}", "since": 0}}'
        for _ in range(20):
            await reader.send(message)
        await reader.ws.wait_closed()
        assert reader.ws.close_code == 1008


async def test_binary_and_fragmented_messages(node: Node) -> None:
    reporter = await node.reporter()
    slug = await reporter.incident()
    reader = await LiveReader.open(node.ws_url)
    await reader.ws.send(b"\x00\x01")
    assert (await reader.receive())["code"] == "bad_message"
    fragments = ['{"type": "subscribe", ', f'"incident": "{slug}"', "}"]
    await reader.ws.send(iter(fragments))
    assert (await reader.receive())["type"] == "subscribed"
    await reader.close()


async def test_only_editors_open_close_change_and_pin_incidents(node: Node) -> None:
    editor = await node.reporter()
    slug = await editor.incident()
    entry = (await editor.post(slug, "Hej"))["entry"]["id"]
    reporter = await node.reporter("rita", role="reporter")
    for method, path, body in [
        ("POST", "/api/incidents", {"title": "Ny"}),
        ("PATCH", f"/api/incidents/{slug}", {"title": "Annan"}),
        ("POST", f"/api/incidents/{slug}/close", {}),
        ("POST", f"/api/incidents/{slug}/entries/{entry}/pin", {}),
    ]:
        refused = await reporter.call(method, path, 403, json=body)
        assert refused["error"] == "forbidden"
    assert await events_of(node, slug) == 2
    await reporter.post(slug, "Reportrar får posta.")
