"""Roles, submissions and history through the API with bearer tokens (what tools see)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.node import node_settings, running_node


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


async def test_roles_submissions_and_history_over_the_api(database_url: str) -> None:
    async with running_node(node_settings(database_url)) as node:
        editor = await node.reporter("eva", role="editor")
        reporter = await node.reporter("anna", role="reporter")
        contributor = await node.reporter("cia", role="contributor")
        slug = await editor.incident("Skogsbrand i Bohuslän")
        base = f"/api/incidents/{slug}"

        # A contributor only posts, and the post waits: 202, no event, nothing on the incident.
        for method, path in [("POST", "/api/incidents"), ("POST", f"{base}/close"), ("PATCH", base)]:
            refused = await contributor.call(method, path, 403, json={"title": "x"} if method != "POST" else {})
            assert refused["error"] == "forbidden"
        await contributor.call("POST", f"{base}/entries", 403, json={"body": "Fäst mig.", "pinned": True})
        key = {"Idempotency-Key": "cia-1"}
        submitted = await contributor.call(
            "POST", f"{base}/entries", 202, json={"body": "Rök syns från E6."}, headers=key
        )
        again = await contributor.call("POST", f"{base}/entries", 202, json={"body": "Rök syns från E6."}, headers=key)
        assert again == submitted and submitted["submission"]["status"] == "pending"
        second = await contributor.call("POST", f"{base}/entries", 202, json={"body": "Reklam för min blogg."})
        assert (await editor.state(slug))["seq"] == 1 and (await editor.state(slug))["entries"] == {}

        queue = await editor.call("GET", f"{base}/submissions")
        assert [s["body"] for s in queue["submissions"]] == ["<p>Rök syns från E6.</p>", "<p>Reklam för min blogg.</p>"]
        assert (await reporter.call("GET", f"{base}/submissions"))["submissions"] == []  # only their own
        sid, other = submitted["submission"]["id"], second["submission"]["id"]
        assert (await reporter.call("POST", f"{base}/submissions/{sid}/approve", 403))["error"] == "forbidden"
        await editor.call("POST", f"{base}/submissions/abc/approve", 422)
        await editor.call("POST", f"{base}/submissions/9999/approve", 404)

        approved = await editor.call("POST", f"{base}/submissions/{sid}/approve")
        assert approved["seq"] == 2 and approved["entry"]["author"] == "Cia Svensson"
        await editor.call("POST", f"{base}/submissions/{sid}/approve", 409)  # decided already
        await editor.call("POST", f"{base}/submissions/{other}/reject", json={"reason": "Inte en nyhet."})
        own = (await contributor.call("GET", f"{base}/submissions"))["submissions"]
        assert [(s["status"], s["reason"]) for s in own] == [("approved", None), ("rejected", "Inte en nyhet.")]
        assert (await editor.call("GET", f"{base}/submissions"))["submissions"] == []
        assert (await editor.state(slug))["seq"] == 2  # the rejection emitted nothing

        # Reporters change their own entries only; editors any; contributors none.
        annas = (await reporter.post(slug, "Brandkåren är på plats."))["entry"]["id"]
        entry = f"{base}/entries/{annas}"
        await reporter.call("PATCH", f"{base}/entries/{approved['entry']['id']}", 403, json={"body": "Ändrat."})
        await contributor.call("PATCH", f"{base}/entries/{approved['entry']['id']}", 403, json={"body": "Ändrat."})
        await contributor.call("POST", f"{entry}/retract", 403, json={})
        await reporter.call("PATCH", entry, json={"body": "Brandkåren är på plats med fyra enheter."})
        await editor.call("PATCH", entry, json={"label": "14:05", "key_event": True})
        await editor.call("POST", f"{entry}/pin")
        await editor.call("POST", f"{entry}/retract", json={"correction": "Dubblett."})

        history = (await contributor.call("GET", f"{entry}/history"))["history"]
        assert [(h["action"], h["by"]) for h in history] == [
            ("posted", "Anna Svensson"),
            ("edited", "Anna Svensson"),
            ("edited", "Eva Svensson"),
            ("pinned", "Eva Svensson"),
            ("retracted", "Eva Svensson"),
        ]
        assert history[1]["body"] == "<p>Brandkåren är på plats med fyra enheter.</p>"
        assert (history[2]["label"], history[2]["key_event"]) == ("14:05", True)
        assert history[4]["correction"] == "Dubblett." and all(h["at"].endswith("Z") for h in history)
        await editor.call("GET", f"{base}/entries/9999/history", 404)
        async with httpx.AsyncClient(base_url=node.url) as anonymous:
            assert (await anonymous.get(f"{entry}/history")).status_code == 401
            assert (await anonymous.get(f"{base}/submissions")).status_code == 401
