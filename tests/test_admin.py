"""Admin without SQL (issue #14, part C): the desk's users and partners pages and the ``ticker user`` commands.

Disabling someone shuts them out on every node at once; a reset link lets them choose a new password; a new role
shows in their desk; deleting keeps their entries and byline; the last admin cannot lock everyone out.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection

from tests.support.admin import Desk
from tests.support.cli import ticker
from tests.support.live import followers
from tests.support.newsroom import PASSWORD, http_login
from tests.support.node import Node, node_settings, running_node
from tests.support.services import RedisServer
from tests.support.waiting import eventually
from ticker.errors import CloseCode
from ticker.store.accounts import Account, add_user, create_token

SITE = "http://ticker.test"  # both nodes' public origin: the desk's pages and sockets come from it


async def closed_with(ws: ClientConnection) -> int | None:
    await asyncio.wait_for(ws.wait_closed(), 10)  # a notice takes milliseconds; none at all fails here
    return ws.close_code


async def listening(*nodes: Node) -> None:
    """Wait until the nodes read the notices stream (a node starts reading at its end)."""
    await eventually(lambda: all(node.notices.listening for node in nodes))


async def people(node: Node) -> tuple[Account, Account]:
    """An admin (ada) and a reporter (pia), both with PASSWORD."""
    store = node.services.store
    return (
        await add_user(store, "ada", "Ada Admin", "admin", PASSWORD),
        await add_user(store, "pia", "Pia Svensson", "reporter", PASSWORD),
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def posts(node: Node, token: str, slug: str) -> int:
    async with httpx.AsyncClient(base_url=node.url) as client:
        answer = await client.post(f"/api/incidents/{slug}/entries", json={"body": "Hej."}, headers=bearer(token))
    return answer.status_code


async def test_a_disabled_user_is_shut_out_on_both_nodes_at_once(postgres_url: str, redis_server: RedisServer) -> None:
    """Two nodes on one PostgreSQL and Redis. Pia has a desk open on each node and a token; an admin on A disables
    her: both desk sockets close (4001), and her token and sessions are refused by either node at the next
    request, with no wait (nothing is cached). Enabled again, her token works; her ended sessions stay ended."""
    settings = node_settings(postgres_url, redis_server.url, public_url=SITE)
    async with running_node(settings) as a, running_node(settings) as b:
        slug = await (await a.reporter("verktyg", role="editor")).incident()
        ada, pia = await people(a)
        token = await create_token(a.services.store, pia, "pia's tool")
        admin = await Desk.start(a, ada, SITE)
        desks = [await Desk.start(node, pia, SITE) for node in (a, b)]  # a session on each node, its desk's socket
        sockets = [await desk.socket(slug) for desk in desks]
        for desk in desks:
            node = desk.node
            assert await posts(node, token, slug) == 201
            assert (await desk.api("GET", f"/desk/i/{slug}/state")).status_code == 200
        await listening(a, b)

        answer = await admin.post(f"/desk/users/{pia.id}/disable")
        assert answer.status_code == 200 and "pia är avstängd" in answer.text
        for desk in desks:
            assert await posts(desk.node, token, slug) == 401
            assert (await desk.api("GET", f"/desk/i/{slug}/state")).status_code == 401
            assert (await desk.api("POST", f"/api/incidents/{slug}/entries", {"body": "Hej."})).status_code == 401
        for ws in sockets:
            assert await closed_with(ws) == CloseCode.SESSION_ENDED
        async with httpx.AsyncClient(base_url=b.url) as client:
            refused = await http_login(client, "pia", PASSWORD)
        assert refused.status_code == 403 and "Kontot är avstängt" in refused.text
        assert "ticker_session" not in refused.headers.get("set-cookie", "")
        listed = await admin.get("/desk/users")
        assert re.search(r'data-user="pia"[^>]*>.*?avstängd', listed.text, re.S)

        assert (await admin.post(f"/desk/users/{pia.id}/enable")).status_code == 200
        for desk in desks:
            assert await posts(desk.node, token, slug) == 201
            assert (await desk.api("GET", f"/desk/i/{slug}/state")).status_code == 401  # log in anew
        async with httpx.AsyncClient(base_url=b.url) as client:
            assert (await http_login(client, "pia", PASSWORD)).status_code == 303


async def test_a_reset_link_lets_the_user_choose_a_new_password_once(sqlite_url: str) -> None:
    """The admin makes a link (shown once); Pia opens it, is refused a weak or mistyped password, then sets one:
    the new password logs in, the old one does not, the link is spent, and her open desk is closed."""
    async with running_node(node_settings(sqlite_url)) as node:
        ada, pia = await people(node)
        slug = await (await node.reporter("verktyg", role="editor")).incident()
        admin, desk = await Desk.start(node, ada), await Desk.start(node, pia)
        socket = await desk.socket(slug)

        made = await admin.post(f"/desk/users/{pia.id}/reset")
        found = re.search(r'<code class="reset-link">http://127\.0\.0\.1:\d+(/reset/[^<]+)</code>', made.text)
        assert made.status_code == 200 and found, made.text
        link = found.group(1)
        async with httpx.AsyncClient(base_url=node.url, headers={"Origin": node.url}) as person:
            page = await person.get(link)
            assert page.status_code == 200 and "Välj ett nytt lösenord" in page.text and "För pia." in page.text
            mistyped = await person.post(link, data={"password": "ett nytt långt lösen", "again": "ett annat"})
            assert mistyped.status_code == 422 and "Lösenorden är inte lika." in mistyped.text
            weak = await person.post(link, data={"password": "Qwertyuiop", "again": "Qwertyuiop"})
            assert weak.status_code == 422 and "commonest" in weak.text
            elsewhere = await person.post(
                link, data={"password": "x" * 12, "again": "x" * 12}, headers={"Origin": "https://evil.example"}
            )
            assert elsewhere.status_code == 403
            done = await person.post(link, data={"password": "ett nytt långt lösen", "again": "ett nytt långt lösen"})
            assert done.status_code == 200 and "Lösenordet är bytt" in done.text
            assert (await person.get(link)).status_code == 404  # spent
            again = await person.post(link, data={"password": "ett tredje lösenord", "again": "ett tredje lösenord"})
            assert again.status_code == 404
        assert await closed_with(socket) == CloseCode.SESSION_ENDED
        assert (await desk.api("GET", f"/desk/i/{slug}/state")).status_code == 401
        async with httpx.AsyncClient(base_url=node.url) as client:
            assert (await http_login(client, "pia", PASSWORD)).status_code == 401
        async with httpx.AsyncClient(base_url=node.url) as client:
            assert (await http_login(client, "pia", "ett nytt långt lösen")).status_code == 303
        # A second link makes the first one stop working; an unknown one is no link at all.
        first = re.search(r"/reset/([^<]+)</code>", (await admin.post(f"/desk/users/{pia.id}/reset")).text)
        second = re.search(r"/reset/([^<]+)</code>", (await admin.post(f"/desk/users/{pia.id}/reset")).text)
        assert first and second
        async with httpx.AsyncClient(base_url=node.url) as person:
            assert (await person.get(f"/reset/{first.group(1)}")).status_code == 404
            assert (await person.get(f"/reset/{second.group(1)}")).status_code == 200
            assert (await person.get("/reset/ingen-sadan")).status_code == 404
            # Disabling voids the link for good: enabled again, the person needs a new one.
            for change in ("disable", "enable"):
                assert (await admin.post(f"/desk/users/{pia.id}/{change}")).status_code == 200
            assert (await person.get(f"/reset/{second.group(1)}")).status_code == 404


async def test_a_new_role_shows_in_the_persons_desk_at_their_next_page(sqlite_url: str) -> None:
    """Pia, a reporter, sees no "Ny händelse" form and may not open an incident; made an editor by the admin, her
    same session's next page has the form and the API lets her; made a contributor, her post waits for review."""
    async with running_node(node_settings(sqlite_url)) as node:
        ada, pia = await people(node)
        admin, desk = await Desk.start(node, ada), await Desk.start(node, pia)
        before = await desk.get("/desk")
        assert before.status_code == 200 and 'id="incident-form"' not in before.text
        assert (await desk.api("POST", "/api/incidents", {"title": "Brand"})).status_code == 403

        changed = await admin.post(f"/desk/users/{pia.id}/role", role="editor")
        assert changed.status_code == 200 and "pia är nu redaktör." in changed.text
        after = await desk.get("/desk")
        assert 'id="incident-form"' in after.text and "(redaktör)" in after.text
        opened = await desk.api("POST", "/api/incidents", {"title": "Brand"})
        assert opened.status_code == 201
        slug = opened.json()["incident"]["slug"]

        assert (await admin.post(f"/desk/users/{pia.id}/role", role="contributor")).status_code == 200
        page = await desk.get(f"/desk/i/{slug}")
        assert "Skicka för granskning" in page.text and 'id="incident-form"' not in (await desk.get("/desk")).text
        assert (await desk.api("POST", f"/api/incidents/{slug}/entries", {"body": "Rök."})).status_code == 202

        refused = await admin.post(f"/desk/users/{pia.id}/role", role="kung")
        assert refused.status_code == 422 and "role must be one of" in refused.text
        same = await admin.post(f"/desk/users/{pia.id}/role", role="contributor")
        assert same.status_code == 409 and "already contributor" in same.text


async def test_a_deleted_users_entries_stay_with_their_byline(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        store = node.services.store
        ada, pia = await people(node)
        tool = await node.reporter("verktyg", role="editor")
        slug = await tool.incident()
        token = await create_token(store, pia, "pia's tool")
        async with httpx.AsyncClient(base_url=node.url, headers=bearer(token)) as pia_tool:
            posted = await pia_tool.post(f"/api/incidents/{slug}/entries", json={"body": "Pia rapporterar."})
        assert posted.status_code == 201
        entry = posted.json()["entry"]
        admin, desk = await Desk.start(node, ada), await Desk.start(node, pia)
        socket = await desk.socket(slug)

        unconfirmed = await admin.post(f"/desk/users/{pia.id}/delete")
        assert unconfirmed.status_code == 422 and "confirm" in unconfirmed.text
        deleted = await admin.post(f"/desk/users/{pia.id}/delete", confirm="yes")
        assert deleted.status_code == 200 and "Inläggen finns kvar med bylinen Pia Svensson" in deleted.text
        assert 'data-user="pia"' not in deleted.text
        assert await closed_with(socket) == CloseCode.SESSION_ENDED
        assert await posts(node, token, slug) == 401
        state = await tool.state(slug)
        assert state["entries"][entry["id"]]["author"] == "Pia Svensson"
        assert "Pia rapporterar." in (await tool.http.get(f"/i/{slug}")).text
        async with httpx.AsyncClient(base_url=node.url) as client:
            assert (await http_login(client, "pia", PASSWORD)).status_code == 401
        # The name is free for someone new; the old account is gone from every list.
        form = {"name": "pia", "display_name": "Pia Nilsson", "role": "reporter", "password": "ett långt lösenord"}
        again = await admin.post("/desk/users", **form)
        assert again.status_code == 201
        assert (await admin.post(f"/desk/users/{pia.id}/enable")).status_code == 404


async def test_the_last_admin_cannot_shut_everyone_out(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        ada, pia = await people(node)
        admin = await Desk.start(node, ada)
        for path, form in (("disable", {}), ("delete", {"confirm": "yes"}), ("role", {"role": "editor"})):
            refused = await admin.post(f"/desk/users/{ada.id}/{path}", **form)
            assert refused.status_code == 409 and "the last admin who can log in" in refused.text, path
        # With a second admin, the first may step down.
        assert (await admin.post(f"/desk/users/{pia.id}/role", role="admin")).status_code == 200
        assert (await admin.post(f"/desk/users/{ada.id}/role", role="editor")).status_code == 200
        assert (await admin.get("/desk/users")).status_code == 403  # ada is an editor now


async def test_admin_pages_and_forms_refuse_what_they_should(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        ada, pia = await people(node)
        admin, desk = await Desk.start(node, ada), await Desk.start(node, pia)
        for path in ("/desk/users", "/desk/partners", "/desk/audit", "/desk/audit/export"):
            page = await desk.get(path)
            assert page.status_code == 403 and "bara för administratörer" in page.text, path
            assert "a reporter may not" in page.text
        for path in ("disable", "enable", "delete", "reset", "revoke-tokens", "role"):
            assert (await desk.post(f"/desk/users/{ada.id}/{path}", role="reporter")).status_code == 403, path
        assert (await desk.post("/desk/partners/gp/remove", confirm="yes")).status_code == 403
        # An admin's form without the CSRF token, from another origin, or about nobody.
        no_token = await admin.http.post(f"/desk/users/{pia.id}/disable", data={})
        assert no_token.status_code == 403 and no_token.json()["field"] == "csrf"
        elsewhere = await admin.http.post(
            f"/desk/users/{pia.id}/disable", data={"csrf": admin.csrf}, headers={"Origin": "https://evil.example"}
        )
        assert elsewhere.status_code == 403 and elsewhere.json()["field"] == "Origin"
        for user_id in ("999999", "99999999999", "x"):
            assert (await admin.post(f"/desk/users/{user_id}/disable")).status_code == 404
        assert (await admin.post(f"/desk/users/{pia.id}/enable")).status_code == 409  # not disabled
        async with httpx.AsyncClient(base_url=node.url) as nobody:
            logged_out = await nobody.get("/desk/users")
        assert logged_out.status_code == 303 and logged_out.headers["location"].startswith("/login")


async def test_revoking_a_users_tokens_and_removing_a_partner_from_the_desk(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        store = node.services.store
        ada, pia = await people(node)
        admin = await Desk.start(node, ada)
        slug = await (await node.reporter("verktyg", role="editor")).incident()
        tokens = [await create_token(store, pia, label) for label in ("ett", "två")]
        listed = await admin.get("/desk/users")
        assert re.search(r'data-user="pia".*?API-nycklar: 2', listed.text, re.S)
        revoked = await admin.post(f"/desk/users/{pia.id}/revoke-tokens")
        assert revoked.status_code == 200 and "Återkallade nycklar för pia: 2." in revoked.text
        for token in tokens:
            assert await posts(node, token, slug) == 401

        gp = "http://127.0.0.2:8081"
        added = await admin.api("POST", "/api/partners", {"name": "gp", "origins": [gp]})
        assert added.status_code == 201
        embed = (await followers([node.ws_url], slug, gp))[0]
        page = await admin.get("/desk/partners")
        assert page.status_code == 200 and 'data-partner="gp"' in page.text and gp in page.text
        removed = await admin.post("/desk/partners/gp/remove", confirm="yes")
        assert removed.status_code == 200 and "gp är borttagen" in removed.text
        assert 'data-partner="gp"' not in removed.text
        assert await closed_with(embed) == CloseCode.ORIGIN_NOT_ALLOWED
        assert (await admin.api("GET", "/api/partners/gp")).status_code == 404
        assert (await admin.post("/desk/partners/gp/remove", confirm="yes")).status_code == 404


async def test_the_user_commands(tmp_path: Path, sqlite_url: str, redis_server: RedisServer) -> None:
    """``ticker user role/disable/enable/delete/reset/revoke-tokens`` on the database a node with Redis runs on:
    a disabled user's open desk closes there too (the command tells the nodes through Redis)."""
    env = {"TICKER_DATABASE_URL": sqlite_url, "TICKER_REDIS_URL": redis_server.url, "TICKER_PUBLIC_URL": SITE}
    settings = node_settings(sqlite_url, redis_server.url, public_url=SITE)
    async with running_node(settings) as node:
        _ada, pia = await people(node)
        slug = await (await node.reporter("verktyg", role="editor")).incident()
        token = await create_token(node.services.store, pia, "pia's tool")
        socket = await (await Desk.start(node, pia, SITE)).socket(slug)
        await listening(node)

        def run(*args: str) -> str:
            return ticker("user", *args, env=env)

        assert await asyncio.to_thread(run, "role", "pia", "editor") == "pia is now editor\n"
        assert "pia\teditor\tyes\tPia Svensson" in await asyncio.to_thread(run, "list")
        assert "disabled" in await asyncio.to_thread(run, "disable", "pia")
        assert await closed_with(socket) == CloseCode.SESSION_ENDED
        assert await posts(node, token, slug) == 401
        assert "pia\teditor\tdisabled\tPia Svensson" in await asyncio.to_thread(run, "list")
        await asyncio.to_thread(run, "enable", "pia")
        assert await posts(node, token, slug) == 201
        assert "1 token(s) of pia revoked" in await asyncio.to_thread(run, "revoke-tokens", "pia")
        assert await posts(node, token, slug) == 401
        link = (await asyncio.to_thread(run, "reset", "pia")).strip()
        assert link.startswith(f"{SITE}/reset/")
        async with httpx.AsyncClient(base_url=node.url) as person:
            assert (await person.get(link.removeprefix(SITE))).status_code == 200
        deleted = await asyncio.to_thread(run, "delete", "pia", "--yes")
        assert deleted == "pia is deleted; their entries stay, with the byline Pia Svensson\n"
        assert "pia\t" not in await asyncio.to_thread(run, "list")
        missing = await asyncio.to_thread(_fails, env, "user", "disable", "pia")
        assert "user not found" in missing
        # The audit log has each, by the command line's actor (the system user who ran it).
        exported = await asyncio.to_thread(ticker, "audit", "export", "--kind", "user", env=env)
        rows = [json.loads(line) for line in exported.splitlines() if '"subject":"pia"' in line]
        assert [r["kind"] for r in rows if r["actor"].startswith("cli:")] == [
            "user.role_changed",
            "user.disabled",
            "user.enabled",
            "user.password_reset",
            "user.deleted",
        ]


def _fails(env: dict[str, str], *args: str) -> str:
    """Run a ticker command that must fail (exit 1); its stderr."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TICKER_")}
    done = subprocess.run(
        [sys.executable, "-m", "ticker", *args], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done
    return done.stderr
