"""The newsroom's defences: CSRF tokens and the Origin check, sockets from other origins, logout closing the
session's sockets, slowed-down password guessing, and the session cookie's flags and lifetime."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.support.newsroom import PASSWORD, at_desk, fetch, http_login, incident, new_page, person
from tests.support.node import Node, node_settings, running_node
from tests.support.partner_site import PartnerSite

EVIL = "http://evil.example"


def session_cookie(cookies: list[Any]) -> str:
    value: str = next(c["value"] for c in cookies if c["name"] == "ticker_session")
    return value


async def test_state_changing_requests_need_the_csrf_token_and_our_origin(browser: Browser, sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        tool, slug = await incident(node, "Vattenläcka på Avenyn")
        page = await at_desk(browser, node, "anna", slug)
        token = json.loads(await page.locator("#desk-state").text_content() or "{}")["csrf"]
        path = f"/api/incidents/{slug}/entries"

        missing = await fetch(page, "POST", path, {"body": "Utan token."}, csrf=None)
        assert missing["status"] == 403 and missing["body"]["error"] == "csrf", missing
        wrong = await fetch(page, "POST", path, {"body": "Fel token."}, csrf=token[::-1])
        assert wrong["status"] == 403 and wrong["body"]["field"] == "csrf", wrong

        # A page on another origin (same site: the browser sends the cookie) posts a form to us.
        with PartnerSite(host="127.0.0.1") as other:
            other.pages["/attack"] = (
                f'<form method="post" action="{node.url}{path}"><input name="body" value="Förfalskat."></form>'
                "<script>document.forms[0].submit()</script>"
            )
            attack = await page.context.new_page()
            async with attack.expect_response(f"{node.url}{path}") as answer:
                await attack.goto(other.url("/attack"))
            assert (await answer.value).status == 403

        # Even with the right token, a request from another origin is refused.
        cookie = {"ticker_session": session_cookie(await page.context.cookies())}
        async with httpx.AsyncClient(base_url=node.url, cookies=cookie) as client:
            foreign = await client.post(
                path, json={"body": "Från fel ursprung."}, headers={"X-CSRF-Token": token, "Origin": EVIL}
            )
            assert foreign.status_code == 403 and foreign.json()["field"] == "Origin", foreign.text
            own = await client.post(
                path, json={"body": "Rätt ursprung och token."}, headers={"X-CSRF-Token": token, "Origin": node.url}
            )
            assert own.status_code == 201, own.text
        bodies = [e["body"] for e in (await tool.state(slug))["entries"].values()]
        assert bodies == ["<p>Rätt ursprung och token.</p>"]  # nothing else was written

        # Tools with a bearer token need no CSRF token.
        assert (await tool.post(slug, "Från verktyget."))["entry"]["author"] == "Verktyg Svensson"


async def test_a_session_cookie_opens_no_reporter_socket_from_another_origin_and_logout_closes_ours(
    browser: Browser, sqlite_url: str
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        tool, slug = await incident(node, "Brand i Gamlestaden")
        desk = await at_desk(browser, node, "anna", slug)
        cookie = f"ticker_session={session_cookie(await desk.context.cookies())}"
        subscribe = json.dumps({"type": "subscribe", "incident": slug})

        ours = await connect(node.ws_url, additional_headers={"Cookie": cookie, "Origin": node.url})
        bare = await connect(node.ws_url, additional_headers={"Cookie": cookie})  # no Origin: not a browser
        for ws in (ours, bare):
            await ws.send(subscribe)
            assert json.loads(await ws.recv())["type"] == "subscribed"
        try:  # the origin policy may refuse a foreign origin outright; if it lets it in, it is a plain reader
            evil = await connect(node.ws_url, additional_headers={"Cookie": cookie, "Origin": EVIL})
        except InvalidStatus as refused:
            assert refused.response.status_code == 403
        else:
            await evil.close()

        # The same cookie in the same browser, from a page on another origin of the same site.
        with PartnerSite(host="127.0.0.1") as other:
            other.pages["/page"] = (
                "<script>window.closed = null; window.events = 0;"
                f"const ws = new WebSocket({json.dumps(node.ws_url)});"
                f"ws.onopen = () => ws.send({json.dumps(subscribe)});"
                "ws.onmessage = (m) => { if (JSON.parse(m.data).type === 'event') window.events++; };"
                "ws.onclose = (c) => { window.closed = c.code; };</script>"
            )
            elsewhere = await desk.context.new_page()
            await elsewhere.goto(other.url("/page"))
            await elsewhere.wait_for_function("window.closed !== null || ws.readyState === 1")

            token = json.loads(await desk.locator("#desk-state").text_content() or "{}")["csrf"]
            answer = await desk.request.post(
                f"{node.url}/logout",
                headers={"X-CSRF-Token": token, "Origin": node.url, "Accept": "application/json"},
            )
            assert answer.status == 200
            assert (await answer.json())["closed_sockets"] == 2  # the desk's socket and `ours`, no other

            logged_out = "Du har loggats ut. Logga in igen för att fortsätta."
            await expect(desk.locator(".desk-problem")).to_have_text(logged_out)
            await ours.wait_closed()
            assert ours.close_code == 4001
            await tool.post(slug, "Efter utloggningen.")
            event = json.loads(await asyncio.wait_for(bare.recv(), 10))  # an anonymous reader, still open
            assert event["type"] == "event" and event["event"] == "entry.posted"
            # The other page's socket was not the session's: refused by the origin policy, or still reading.
            await elsewhere.wait_for_function("window.closed !== null || window.events > 0")
            assert await elsewhere.evaluate("window.closed") != 4001
        await bare.close()


async def test_five_wrong_passwords_in_a_row_are_slowed_down_and_the_page_says_so(
    browser: Browser, sqlite_url: str
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        await person(node, "anna")
        await person(node, "bo")
        page = await new_page(browser)
        await page.goto(f"{node.url}/login")

        async def attempt(name: str, password: str) -> Any:
            await page.fill("input[name=name]", name)
            await page.fill("input[name=password]", password)
            async with page.expect_navigation() as navigation:
                await page.click("form.login-form button[type=submit]")
            return await navigation.value

        for _ in range(4):
            wrong = await attempt("anna", "fel lösenord")
            assert wrong.status == 401
            await expect(page.locator(".problem")).to_have_text("Fel användarnamn eller lösenord.")
            await expect(page.locator("input[name=name]")).to_have_value("anna")  # what was typed is kept
        fifth = await attempt("anna", "fel lösenord")
        assert fifth.status == 429 and fifth.headers["retry-after"] == "60"
        slowed = "För många felaktiga inloggningsförsök i rad. Vänta 60 sekunder och försök igen."
        await expect(page.locator(".problem")).to_have_text(slowed)
        right = await attempt("anna", PASSWORD)  # even the right password waits
        assert right.status == 429 and 0 < int(right.headers["retry-after"]) <= 60
        await expect(page.locator(".problem")).to_contain_text("För många felaktiga inloggningsförsök")
        assert not any(c["name"] == "ticker_session" for c in await page.context.cookies())

        other = await attempt("bo", PASSWORD)  # another name is not slowed down
        assert other.status == 200 and page.url == f"{node.url}/desk"
        cookie = next(c for c in await page.context.cookies() if c["name"] == "ticker_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]  # plain http here


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


async def test_login_limits_are_settings(database_url: str) -> None:
    settings = node_settings(database_url, login_max_failures=2, login_lockout_seconds=1)
    async with running_node(settings) as node, httpx.AsyncClient(base_url=node.url) as client:
        await person(node, "anna")
        assert (await http_login(client, "anna", "fel")).status_code == 401
        second = await http_login(client, "anna", "fel")
        assert second.status_code == 429 and second.headers["retry-after"] == "1"
        assert "Vänta 1 sekunder" in second.text
        statuses: list[int] = []
        async with asyncio.timeout(10):
            while not statuses or statuses[-1] == 429:  # the right password, until the lockout has passed
                statuses.append((await http_login(client, "anna", PASSWORD)).status_code)
        assert statuses[-1] == 303 and client.cookies.get("ticker_session")


async def test_the_session_cookie_is_secure_behind_https_and_ends_after_session_seconds(sqlite_url: str) -> None:
    settings = node_settings(sqlite_url, public_url="https://ticker.example", session_seconds=1)
    async with running_node(settings) as node, httpx.AsyncClient(base_url=node.url) as client:
        _tool, slug = await incident(node, "Kort session")
        await person(node, "anna")
        answer = await http_login(client, "anna", PASSWORD)
        assert answer.status_code == 303 and answer.headers["location"] == "/desk"
        set_cookie = answer.headers["set-cookie"].lower()
        for flag in ("httponly", "secure", "samesite=lax", "max-age=1", "path=/"):
            assert flag in set_cookie, set_cookie
        token = re.search(r"ticker_session=([^;]+)", answer.headers["set-cookie"])
        assert token
        headers = {"Cookie": f"ticker_session={token.group(1)}"}
        await wait_for_expiry(node, slug, headers)
        page = await client.get("/desk", headers=headers)
        assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fdesk&expired=1"
        form = await client.get(page.headers["location"], headers=headers)
        assert "Din session har gått ut. Logga in igen." in form.text
        # Newsroom pages are neither kept by shared caches nor framed by other sites.
        assert form.headers["cache-control"] == "no-store" and form.headers["x-frame-options"] == "DENY"
        assert form.headers["content-security-policy"].split("; ")[-1] == "frame-ancestors 'none'"  # the pages' policy


async def wait_for_expiry(node: Node, slug: str, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=node.url, headers=headers) as client, asyncio.timeout(10):
        while True:
            state = await client.get(f"/desk/i/{slug}/state")
            if state.status_code != 200:
                assert state.status_code == 401 and state.json()["error"] == "session_expired", state.text
                return
            await asyncio.sleep(0.05)
