"""The published API schema: /api/openapi.json documents every API route, and a real node answers as it says.

The fuzz test runs schemathesis against a running node: for each operation a bounded number of generated requests,
valid and invalid, anonymous and with an editor's (and, for the partner routes, an admin's) bearer token. Every
answer must be below 500, of a documented status and content type, with a body matching its schema.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.strategies import SearchStrategy
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Route

from tests.support.node import Node, Reporter, node_settings, running_node
from ticker.app import create_app
from ticker.http import api, csrf
from ticker.http.api_operations import EXAMPLE_PARTNER, EXAMPLE_SLUG
from ticker.http.openapi import document
from ticker.roles import DESCRIPTIONS, RULES, Action
from ticker.sources import store as sources
from ticker.sources.found import Found
from ticker.sources.store import SourceLimits
from ticker.tips.store import NewTip, secret_key, take

# Generated requests per operation, for each mode (valid, invalid) and credential that `plan` gives it: about 850
# requests over the 36 operations, some 15 seconds of CPU on two cores (generating them costs more than answering).
EXAMPLES = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Requests a browser or a client library cannot send (a header value with a line break) are generated too, and
# would fail in requests before reaching the node: those are skipped, not counted.
DAY = timedelta(days=1)
UNSENDABLE = (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeEncodeError)


def api_routes(app_routes: list[Any]) -> set[tuple[str, str]]:
    """(method, path) of every route the app registers under /api; HEAD comes with every GET (starlette)."""
    return {
        (method, route.path)
        for route in app_routes
        if isinstance(route, Route) and route.path.startswith("/api")
        for method in route.methods or ()
        if method != "HEAD"
    }


def documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, methods in doc["paths"].items() for method in methods}


def test_every_api_route_is_documented(sqlite_url: str) -> None:
    settings = node_settings(sqlite_url)
    app = create_app(settings)
    routes = api_routes(app.routes)
    assert len(routes) > 20  # the iteration found the API
    doc = document(settings)
    assert routes - documented(doc) == set(), "routes without an operation in ticker/http/openapi.py"
    probes = {("GET", "/healthz"), ("GET", "/livez"), ("GET", "/readyz")}  # not under /api, documented all the same
    assert documented(doc) - routes == probes, "operations without a route"


def test_the_document_is_valid_openapi_and_describes_the_rules(sqlite_url: str) -> None:
    doc = document(node_settings(sqlite_url, max_entry_chars=777))
    schemathesis.openapi.from_dict(doc).validate()  # against the OpenAPI 3.1 meta-schema
    assert doc["openapi"] == "3.1.0"
    components = doc["components"]
    assert components["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert components["securitySchemes"]["session"]["name"] == "ticker_session"
    assert components["securitySchemes"]["csrf"]["name"].lower() == csrf.HEADER
    error = components["schemas"]["Error"]
    assert error["required"] == ["error", "message"] and set(error["properties"]) == {"error", "message", "field"}
    schemas = components["schemas"]
    # The request bodies are the handlers' own models, and the limits that are settings carry their values.
    assert schemas["EntryIn"]["properties"]["body"]["maxLength"] == 777
    assert schemas["IncidentIn"]["required"] == ["title"]
    assert schemas["IncidentIn"]["additionalProperties"] is False
    slug = r"^[a-z0-9][a-z0-9-]{0,79}$"
    # Patterns of fields whose type also carries a validator (pydantic shows those in serialization mode only).
    assert {"type": "string", "pattern": slug} in schemas["IncidentIn"]["properties"]["slug"]["anyOf"]
    assert schemas["PartnerIn"]["properties"]["incidents"]["anyOf"][0]["items"]["pattern"] == slug
    assert schemas["IncidentIn"]["properties"]["photo_url"]["anyOf"][0]["maxLength"] == 500
    assert schemas["IncidentIn"]["properties"]["photo_url"]["anyOf"][0]["pattern"] == r"^https?://\S+$"
    post_entry = doc["paths"]["/api/incidents/{slug}/entries"]["post"]
    assert post_entry["parameters"][0]["schema"]["pattern"] == slug
    assert {"201", "202", "401", "403", "404", "408", "409", "413", "415", "422"} <= set(post_entry["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in post_entry["parameters"])
    assert post_entry["security"] == [{"bearer": []}, {"session": [], "csrf": []}]
    assert post_entry["x-ticker-roles"] == ["admin", "editor", "reporter", "contributor"]  # post or submit
    pin = doc["paths"]["/api/incidents/{slug}/entries/{entry_id}/pin"]["post"]
    assert pin["x-ticker-may"] == {"pin_entry": DESCRIPTIONS[Action.PIN_ENTRY]}
    assert set(pin["x-ticker-roles"]) == RULES[Action.PIN_ENTRY]  # from ticker.roles' table
    patch_entry = doc["paths"]["/api/incidents/{slug}/entries/{entry_id}"]["patch"]
    entry_id = next(p for p in patch_entry["parameters"] if p["name"] == "entry_id")
    assert entry_id["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
    assert "security" not in doc["paths"]["/api/incidents"]["get"]
    # A null is documented where the model takes one: ticker.http.json_body.parse_body refuses it for a field that is
    # not in the model's `nullable` (before that rule, every optional field took one).
    patch = schemas["IncidentPatch"]["properties"]
    nullable = getattr(api.IncidentPatch, "nullable", set(patch))
    for name, prop in patch.items():
        assert ({"type": "null"} in prop.get("anyOf", [])) == (name in nullable), name


async def test_the_node_serves_the_document_and_a_reference_page_from_its_own_origin(sqlite_url: str) -> None:
    settings = node_settings(sqlite_url)
    async with running_node(settings) as node:
        anyone = Reporter(node.url, None)
        try:
            served = await anyone.http.get("/api/openapi.json")
            page = await anyone.http.get("/api/docs")
            english = await anyone.http.get("/api/docs", params={"lang": "en"})
        finally:
            await anyone.aclose()
    assert served.status_code == 200 and served.headers["content-type"] == "application/json"
    assert served.json() == document(settings.replace(host="127.0.0.1", port=int(node.url.rsplit(":", 1)[1])))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "API-referens" in html and "API reference" in english.text
    for path, methods in served.json()["paths"].items():
        for method, op in methods.items():
            assert f'id="{op["operationId"]}"' in html, (method, path)
            assert f"<code>{path}</code>" in html
    for name in served.json()["components"]["schemas"]:
        assert f'id="schema-{name}"' in html
    # Nothing from elsewhere: every script, style and image is ours (no Swagger UI from a CDN).
    assert external_resources(html) == []


def external_resources(html: str) -> list[str]:
    found: list[str] = []

    class Resources(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            values = dict(attrs)
            url = values.get("src") if tag in ("script", "img", "iframe") else None
            if tag == "link" and values.get("rel") != "alternate":
                url = values.get("href")
            if url is not None and re.match(r"^(?:[a-z]+:)?//", url):
                found.append(url)

    Resources().feed(html)
    return found


async def test_a_number_in_other_digits_or_past_the_databases_integers_is_refused(postgres_url: str) -> None:
    """Found by fuzzing: numeric parameters were checked with str.isdigit(), which other scripts' digits pass ("²"
    then failed in int(): 500; "١٢" was taken as 12), and allowed 12 digits, past PostgreSQL's INTEGER (500)."""
    async with running_node(node_settings(postgres_url)) as node:
        editor = await node.reporter()
        slug = await editor.incident()
        entry = (await editor.post(slug, "Hej"))["entry"]["id"]
        for number in ("²", "١٢", "𝟙", "2147483648", "999999999999"):
            urls = [
                f"/api/incidents/{slug}/entries?before={number}",
                f"/api/incidents/{slug}/entries?limit={number}",
                f"/api/incidents/{slug}/entries/{number}/history",
                f"/api/sources/items/{number}/state",
                f"/api/embed/{slug}?entries={number}",
                f"/i/{slug}?before={number}",
                f"/sse/{slug}?since={number}",
                f"/sse?follow={slug}:{number}",
            ]
            if not number.isascii():  # a width past the databases' integers is only ever capped: 200
                urls.append(f"/oembed?url={node.url}/i/{slug}&maxwidth={number}")
            for url in urls:
                if url.endswith("/state"):
                    response = await editor.http.post(url, json={"state": "watched"})
                else:
                    response = await editor.http.get(url)
                assert response.status_code == 422, (url, response.status_code)
            patched = await editor.http.patch(f"/api/incidents/{slug}/entries/{number}", json={"body": "Nej"})
            assert patched.status_code == 422
        last = await editor.http.get(f"/api/incidents/{slug}/entries?before=2147483647")
        assert last.status_code == 200 and [e["id"] for e in last.json()["entries"]] == [entry]
        assert (await editor.state(slug))["entries"][entry]["body"] == "<p>Hej</p>"  # unchanged


# The fuzz test.


async def seed(node: Node, editor: Reporter) -> dict[str, Any]:
    """An incident with entries, contributors' submissions, a partner, and a source with an item, for the path
    parameters: generated slugs and ids almost never exist, so half of the requests name these instead."""
    slug = await editor.incident("Brand i hamnen", slug=EXAMPLE_SLUG)
    entries = [(await editor.post(slug, f"Uppdatering {n}"))["entry"]["id"] for n in range(3)]
    contributor = await node.reporter("lisa", role="contributor")
    submitted = [
        (await contributor.call("POST", f"/api/incidents/{slug}/entries", 202, json={"body": text}))["submission"]
        for text in ("Tips", "Ett tips till")
    ]
    admin = await node.reporter("ada", role="admin")
    await admin.call("POST", "/api/partners", 201, json={"name": EXAMPLE_PARTNER, "origins": ["https://www.gp.se"]})
    source_id, item_id = await seed_source(node)
    tips = [await seed_tip(node, slug, text, n) for n, text in enumerate(("Är vägen öppen?", "Brinner det än?"))]
    return {
        "slug": slug,
        "entry_id": entries[0],
        "retracted_id": entries[1],
        "submission_id": submitted[0]["id"],
        "rejected_id": submitted[1]["id"],
        "name": EXAMPLE_PARTNER,
        "source_id": source_id,
        "item_id": item_id,
        "tip_id": tips[0],
        "discarded_tip_id": tips[1],
        "token": "ps_" + "A" * 32,  # a push subscription's shape, followed by no one: its operations answer 404
    }


async def seed_tip(node: Node, slug: str, text: str, n: int) -> int:
    """A reader's question, as the form stores one (ticker.tips.store.take)."""
    store = node.services.store
    tip = NewTip(slug, "question", text, "Anna", True, "070-123 45 67", None)
    taken = await take(store, tip, key=await secret_key(store), address=f"192.0.2.{n}", per_client=5, window_seconds=60)
    assert taken.id is not None
    return taken.id


async def seed_source(node: Node) -> tuple[int, int]:
    """A source that is never polled (disabled, and the fuzz never sends an admin's token to /api/sources, so it
    adds none: a source's address would be fetched), with an item stored as a poll would store it."""
    store, limits = node.services.store, SourceLimits.of(node.services.settings)
    fields = {"name": "Polisen", "kind": "polisen", "url": "http://127.0.0.1:9/events", "enabled": False}
    view = await sources.add_source(store, {**fields, "interval_seconds": 3600, "places": [], "types": []}, limits)
    found = Found(
        "1", "Brand, Göteborg", "Brand i ett lagerhus.", "https://polisen.se/", "Brand", "Göteborg", 57.7, 12.0
    )
    at = datetime.now(UTC)
    (item_id,) = await sources.store_found(store, await sources.source_by_name(store, "Polisen"), [found], at, DAY)
    return view["id"], item_id


@dataclass
class Fuzzed:
    failures: list[str] = field(default_factory=list)
    answered: Counter[tuple[str, int]] = field(default_factory=Counter)  # (operation, status): how often


def fuzz(raw: dict[str, Any], base_url: str, known: dict[str, Any], credentials: dict[str, dict[str, str]]) -> Fuzzed:
    """Run schemathesis over every operation; the failures (each with a curl command that repeats it) and the
    statuses the node answered with."""
    schema = schemathesis.openapi.from_dict(raw)
    found = Fuzzed()
    with requests.Session() as session:
        operations = [result.ok() for result in schema.get_all_operations()]
        for operation in sorted(operations, key=lambda op: op.method.upper() == "DELETE"):  # removals last
            documented = raw["paths"][operation.path][operation.method.lower()]
            fixed = {p.name: known[p.name] for p in operation.path_parameters}
            # Each undoing operation has an item of its own, so the others still find theirs as it was.
            if operation.path.endswith("/retract"):
                fixed["entry_id"] = known["retracted_id"]
            if operation.path.endswith("/reject"):
                fixed["submission_id"] = known["rejected_id"]
            if operation.path.endswith("/discard"):
                fixed["tip_id"] = known["discarded_tip_id"]
            for who, mode in plan(documented):
                if who == "admin" and not operation.path.startswith("/api/partners"):
                    continue  # elsewhere an admin does what an editor does, or adds sources to be fetched
                strategy = operation.as_strategy(mode)
                if fixed:
                    strategy = strategy | operation.as_strategy(mode, path_parameters=fixed)
                try:
                    send(strategy, base_url, session, credentials[who], found)
                except (Exception, BaseExceptionGroup) as failure:  # schemathesis's FailureGroup is the latter
                    found.failures.append(f"--- {operation.label}, {mode.value} data, {who}:\n{failure}")
    return found


def plan(documented: dict[str, Any]) -> list[tuple[str, GenerationMode]]:
    """Who sends what to an operation. Invalid data only where there is something to make invalid (a body, a
    path or query parameter), and anonymously only to public operations: others answer 401 before reading it."""
    negatable = "requestBody" in documented or any(
        p["in"] in ("path", "query") for p in documented.get("parameters", [])
    )
    public = "security" not in documented
    modes = list(GenerationMode) if negatable else [GenerationMode.POSITIVE]
    anonymous = modes if public else [GenerationMode.POSITIVE]
    return [("anonymous", mode) for mode in anonymous] + [(who, m) for who in ("editor", "admin") for m in modes]


def send(
    strategy: SearchStrategy[schemathesis.Case],
    base_url: str,
    session: requests.Session,
    headers: dict[str, str],
    found: Fuzzed,
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests each run: a failure here is the code's, not chance's
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        try:
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        except UNSENDABLE:
            return
        found.answered[case.operation.label, response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


async def test_a_running_node_answers_every_operation_as_documented(postgres_url: str) -> None:
    # On PostgreSQL, which refuses more than SQLite does (NUL in text, numbers past its INTEGER): both were 500s.
    async with running_node(node_settings(postgres_url)) as node:
        editor = await node.reporter()
        admin = await node.reporter("ada", role="admin")
        known = await seed(node, editor)
        raw = (await editor.http.get("/api/openapi.json")).json()
        credentials = {
            "anonymous": {},
            "editor": {"Authorization": editor.http.headers["Authorization"]},
            "admin": {"Authorization": admin.http.headers["Authorization"]},
        }
        found = await asyncio.to_thread(fuzz, raw, node.url, known, credentials)
    assert not found.failures, "\n\n".join(found.failures)
    # It reached the handlers: most operations answered a success at least once, not only 401, 404 or 422. Some
    # cannot by design (admin-only ones are fuzzed as an editor; the seeded push token follows nothing): 40 of 51
    # succeeded in a full CI run, 41 alone, so the bound leaves room for that spread.
    succeeded = {label for label, status in found.answered if status < 300}
    assert len(succeeded) >= 0.7 * len(documented(raw)), sorted(succeeded)
    assert sum(found.answered.values()) >= EXAMPLES * len(documented(raw))
