"""The audit log (issue #14, part C): every change, who made it, when and what changed; the admins' page, its
filters and pages, the export (CSV and JSON lines, the desk's link and ``ticker audit export``); rows commit with
their change or not at all, and on PostgreSQL a post's row costs no round trip of its own."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from tests.support.admin import Desk
from tests.support.cli import ticker
from tests.support.newsroom import PASSWORD, http_login
from tests.support.node import Node, node_settings, running_node
from ticker.errors import Refused
from ticker.store import audit
from ticker.store.accounts import add_user, user_by_name
from ticker.store.admin import user_id_of
from ticker.store.audit import Actor, AuditKind
from ticker.store.migrate import upgrade
from ticker.store.sql import Store, Tx
from ticker.store.writes import Author, create_incident, post_entry

PAGE = 5  # TICKER_AUDIT_PAGE_SIZE here, so that the page has older pages to go to
EVA, CIA = "eva0", "cia1"  # Node.reporter's users are named in the order they are made


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


async def every_kind_of_change(node: Node) -> dict[str, Any]:
    """One change of every kind, each by a known actor; what the assertions need to know about them."""
    store = node.services.store
    ada = await add_user(store, "ada", "Ada Admin", "admin", PASSWORD)
    async with httpx.AsyncClient(base_url=node.url) as client:
        assert (await http_login(client, "ada", "fel lösenord")).status_code == 401
        assert (await http_login(client, "ada", PASSWORD)).status_code == 303
    eva, cia = await node.reporter("eva", role="editor"), await node.reporter("cia", role="contributor")
    admin = await Desk.start(node, ada)

    slug = await eva.incident("Brand i hamnen")
    base = f"/api/incidents/{slug}"
    await eva.call("PATCH", base, json={"summary": "Rök över hamnen."})
    entry = (await eva.post(slug, "Brandkåren är på plats."))["entry"]["id"]
    await eva.call("PATCH", f"{base}/entries/{entry}", json={"body": "Brandkåren och polisen är på plats."})
    await eva.call("POST", f"{base}/entries/{entry}/pin")
    await eva.call("POST", f"{base}/entries/{entry}/unpin")
    await eva.call("POST", f"{base}/entries/{entry}/retract", json={"correction": "Fel hamn."})
    kept, dropped = [
        (await cia.call("POST", f"{base}/entries", 202, json={"body": text}))["submission"]["id"]
        for text in ("Rök syns från E6.", "Reklam.")
    ]
    approved = (await eva.call("POST", f"{base}/submissions/{kept}/approve"))["entry"]["id"]
    await eva.call("POST", f"{base}/submissions/{dropped}/reject", json={"reason": "Inte en nyhet."})
    await eva.call("POST", f"{base}/close")
    await eva.call("POST", f"{base}/reopen")

    made = await admin.post("/desk/tokens", label="verktyg")
    token_id = re.search(r'data-id="(\d+)"', made.text)
    assert made.status_code == 201 and token_id
    assert (await admin.post(f"/desk/tokens/{token_id.group(1)}/revoke")).status_code in (200, 303)
    form = {"name": "pia", "display_name": "Pia Svensson", "role": "reporter", "password": "ett långt lösenord"}
    assert (await admin.post("/desk/users", **form)).status_code == 201
    pia_id = await user_id_of(store, "pia")
    for path, fields in (("role", {"role": "editor"}), ("disable", {}), ("enable", {})):
        assert (await admin.post(f"/desk/users/{pia_id}/{path}", **fields)).status_code == 200, path
    reset = re.search(r"/reset/[^<]+(?=</code>)", (await admin.post(f"/desk/users/{pia_id}/reset")).text)
    assert reset and "/reset/" not in (await admin.get("/desk/users")).text  # a link is shown once
    async with httpx.AsyncClient(base_url=node.url) as person:
        chosen = {"password": "pias nya lösenord", "again": "pias nya lösenord"}
        assert (await person.post(reset.group(0), data=chosen)).status_code == 200
    assert (await admin.post(f"/desk/users/{pia_id}/delete", confirm="yes")).status_code == 200

    gp = {"name": "gp", "origins": ["https://www.gp.se"]}
    assert (await admin.api("POST", "/api/partners", gp)).status_code == 201
    assert (await admin.api("PATCH", "/api/partners/gp", {"incidents": [slug]})).status_code == 200
    assert (await admin.post("/desk/partners/gp/remove", confirm="yes")).status_code == 200
    return {"slug": slug, "entry": entry, "approved": approved, "admin": admin, "tool": eva}


async def test_every_change_is_recorded_with_its_actor_and_shown_to_admins(database_url: str, tmp_path: Any) -> None:
    async with running_node(node_settings(database_url, audit_page_size=PAGE)) as node:
        done = await every_kind_of_change(node)
        slug, eva, admin = done["slug"], EVA, done["admin"]
        rows = await audit.page(node.services.store, audit.Filter(), limit=1000)
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_kind.setdefault(row["kind"], []).append(row)

        # Every kind is there, with its actor (but an incident's deletion and import: their own tests have them).
        assert set(by_kind) == {k.value for k in AuditKind} - {"incident.deleted", "incident.imported"}
        actors = {kind: {r["actor"] for r in found} for kind, found in by_kind.items()}
        for kind in ("incident.opened", "incident.updated", "incident.closed", "incident.reopened"):
            assert actors[kind] == {eva} and by_kind[kind][0]["incident"] == slug
        for kind in ("entry.edited", "entry.pinned", "entry.unpinned", "entry.retracted"):
            assert actors[kind] == {eva} and by_kind[kind][0]["subject"] == str(done["entry"])
        assert actors["entry.posted"] == {eva}  # an approved post is the approver's act, the byline the author's
        approval = next(r for r in by_kind["entry.posted"] if r["subject"] == str(done["approved"]))
        assert approval["changes"]["author_name"] == [None, "Cia Svensson"]
        assert actors["submission.submitted"] == {CIA} and actors["submission.rejected"] == {eva}
        # The tools' users and tokens were made by the tests (the system) and by themselves; the rest by ada.
        assert actors["user.added"] == {"system", "ada"} and actors["token.created"] == {"ada", EVA, CIA}
        assert {r["subject"] for r in by_kind["user.added"] if r["actor"] == "ada"} == {"pia"}
        for kind in ("token.revoked", "user.role_changed", "user.disabled", "user.enabled", "user.password_reset"):
            assert actors[kind] == {"ada"}, kind
        for kind in ("user.deleted", "partner.added", "partner.changed", "partner.removed"):
            assert actors[kind] == {"ada"}, kind
        assert actors["user.password_changed"] == {"pia"}
        assert "ada" in actors["login.succeeded"] and actors["login.failed"] == {"ada"}

        # What changed, as a compact diff.
        assert by_kind["entry.edited"][0]["changes"] == {
            "body": ["<p>Brandkåren är på plats.</p>", "<p>Brandkåren och polisen är på plats.</p>"]
        }
        assert by_kind["entry.retracted"][0]["changes"] == {
            "correction": [None, "Fel hamn."],
            "retracted": [False, True],
        }
        assert by_kind["incident.updated"][0]["changes"] == {"summary": ["", "Rök över hamnen."]}
        assert by_kind["incident.closed"][0]["changes"] == {"status": ["live", "closed"]}
        assert by_kind["user.role_changed"][0]["changes"] == {"role": ["reporter", "editor"]}
        assert by_kind["login.failed"][0]["changes"] == {"in_a_row": 1, "reason": "wrong_password"}
        assert by_kind["partner.changed"][0]["changes"] == {"incidents": [None, [slug]]}
        assert by_kind["user.deleted"][0]["subject"] == "pia"
        seqs = sorted(r["seq"] for r in rows if r["incident"] == slug and r["seq"] is not None)
        assert seqs == list(range(1, len(seqs) + 1))  # one row per event, each with its seq

        # The admin's page: newest first, PAGE rows a page, older pages to the end; every row once.
        seen: list[int] = []
        page = await admin.get("/desk/audit")
        while True:
            assert page.status_code == 200
            ids = [int(i) for i in re.findall(r'<tr data-id="(\d+)"', page.text)]
            assert 0 < len(ids) <= PAGE
            seen += ids
            older = re.search(r'href="(/desk/audit\?[^"]*before=\d+)" rel="next"', page.text)
            if older is None:
                break
            page = await admin.http.get(older.group(1).replace("&amp;", "&"))
        assert seen == [r["id"] for r in rows]
        filtered = await admin.get("/desk/audit", actor=eva, kind="entry")
        kinds = re.findall(r'<tr data-id="\d+" data-kind="([^"]+)"', filtered.text)
        assert kinds and all(k.startswith("entry.") for k in kinds)
        assert all(actor == eva for actor in re.findall(r'<td class="audit-actor">([^<]+)</td>', filtered.text))
        by_incident = await admin.get("/desk/audit", incident=slug, kind="incident.closed")
        assert re.findall(r'data-kind="([^"]+)"', by_incident.text) == ["incident.closed"]
        for name, value in (("kind", "entry.exploded"), ("before", "abc"), ("actor", "a\x07b"), ("incident", "x" * 81)):
            refused = await admin.http.get("/desk/audit", params={name: value})
            assert refused.status_code == 422 and refused.json()["field"] == name, name

        # The export: every row, oldest first, in both formats; the filters apply.
        lines = (await admin.get("/desk/audit/export", format="jsonl")).text.splitlines()
        assert [json.loads(line) for line in lines] == list(reversed(rows))
        answer = await admin.get("/desk/audit/export", format="csv", kind="login")
        assert (
            answer.headers["content-type"].startswith("text/csv")
            and "attachment" in answer.headers["content-disposition"]
        )
        table = list(csv.reader(io.StringIO(answer.text)))
        assert table[0] == list(audit.CSV_COLUMNS)
        assert {r[4] for r in table[1:]} == {"login.succeeded", "login.failed"}
        assert len(table) - 1 == len(by_kind["login.succeeded"]) + len(by_kind["login.failed"])
        assert (await admin.get("/desk/audit/export", format="xml")).status_code == 422
        page = (await admin.get("/desk/audit", kind="user")).text
        assert 'href="/desk/audit/export?kind=user&amp;format=csv"' in page

        # The command line's export is the same rows.
        env = {"TICKER_DATABASE_URL": database_url}
        exported = ticker("audit", "export", "--kind", "user", env=env).splitlines()
        assert [json.loads(line)["kind"] for line in exported] == [
            r["kind"] for r in reversed(rows) if r["kind"].startswith("user.")
        ]
        out = tmp_path / "audit.csv"
        ticker("audit", "export", "--format", "csv", "--actor", eva, "-o", str(out), env=env)
        with out.open(encoding="utf-8", newline="") as file:
            written = list(csv.reader(file))
        assert len(written) - 1 == sum(1 for r in rows if r["actor"] == eva)

        # Nobody else sees it.
        eva_desk = await Desk.start(node, await user_by_name(node.services.store, eva))
        for path in ("/desk/audit", "/desk/audit/export"):
            assert (await eva_desk.get(path)).status_code == 403
        assert (await done["tool"].http.get("/desk/audit/export")).status_code == 303  # a token is no login


async def test_a_row_commits_with_its_change_or_not_at_all(database_url: str) -> None:
    """A refused change leaves no row; a write that fails after its event rolls its row back with it."""
    await upgrade(database_url)
    store = Store(database_url)
    try:
        anna = Actor.of(await add_user(store, "anna", "Anna", "editor"))
        await store.write(create_incident("brand", {"title": "Brand"}), actor=anna)

        async def fails_late(tx: Tx) -> dict[str, Any]:
            await post_entry("brand", Author(1, "Anna"), "<p>Hej.</p>", "12:00", False, False)(tx)
            raise Refused.conflict("changed my mind")

        with pytest.raises(Refused) as refused:
            await store.write(fails_late, actor=anna)
        assert refused.value.code == "conflict"
        rows = await audit.page(store, audit.Filter())
        assert [r["kind"] for r in rows] == ["incident.opened", "user.added"] and rows[0]["actor"] == "anna"
        assert await store.count_events("brand") == 1
    finally:
        await store.close()


async def test_on_postgresql_a_posts_audit_row_goes_in_its_events_statement(postgres_url: str) -> None:
    """The post path's statements: the audit row's INSERT is part of the event's (a data-modifying WITH), never
    a statement, and so a round trip, of its own."""
    await upgrade(postgres_url)
    store = Store(postgres_url)
    try:
        await add_user(store, "anna", "Anna", "editor")
        await store.write(create_incident("brand", {"title": "Brand"}))
        statements: list[str] = []
        event.listen(store.write_engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        await store.write(post_entry("brand", Author(1, "Anna"), "<p>Hej.</p>", "12:00", False, False))
        writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "WITH"))]
        auditing = [s for s in writes if "audit_log" in s]
        assert len(auditing) == 1 and "INSERT INTO events" in auditing[0] and auditing[0].startswith("WITH")
        assert not any(s.startswith("INSERT INTO audit_log") for s in writes)
        rows = await audit.page(store, audit.Filter())
        assert [r["kind"] for r in rows] == ["entry.posted", "incident.opened", "user.added"]
        assert rows[0]["actor"] == "system"  # no actor given
    finally:
        await store.close()
