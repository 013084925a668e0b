"""The newsroom in a real browser: people with passwords, logging in through the form, an incident's desk."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.async_api import Browser, Page, expect

from tests.support.node import Node, Reporter
from ticker.store.accounts import add_user

PASSWORD = "korrekt hästbatteri"

# Waits are for conditions, never fixed sleeps; on a loaded 2-core machine give each condition more than 5 s.
expect.set_options(timeout=15_000)


async def person(node: Node, name: str, role: str = "reporter") -> str:
    """A user who logs in with PASSWORD; returns the byline ("Anna Svensson" for "anna")."""
    display = f"{name.title()} Svensson"
    await add_user(node.services.store, name, display, role, PASSWORD)
    return display


async def new_page(browser: Browser) -> Page:
    """A page in a new browser context (its own cookies and storage) of a Swedish newsroom's browser."""
    context = await browser.new_context(locale="sv-SE", timezone_id="Europe/Stockholm")
    return await context.new_page()


async def login(browser: Browser, node: Node, name: str, password: str = PASSWORD) -> Page:
    """A new browser context, logged in through the login form."""
    return await login_in(await new_page(browser), node, name, password)


async def login_in(page: Page, node: Node, name: str, password: str = PASSWORD) -> Page:
    """Log in through the login form on this page (and so in its browser context)."""
    await page.goto(f"{node.url}/login")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", password)
    await page.click("form.login-form button[type=submit]")
    await page.wait_for_url(f"{node.url}/desk")
    return page


async def open_desk(page: Page, node: Node, slug: str) -> None:
    await page.goto(f"{node.url}/desk/i/{slug}")
    await expect(page.locator(".conn")).to_have_attribute("data-state", "live")


async def incident(node: Node, title: str) -> tuple[Reporter, str]:
    """An incident opened by a tool (an editor's bearer token); returns the tool's client and the slug."""
    tool = await node.reporter("verktyg", role="editor")
    return tool, await tool.incident(title)


async def at_desk(browser: Browser, node: Node, name: str, slug: str, role: str = "reporter") -> Page:
    """A new person, logged in, at the incident's desk with its live feed connected."""
    await person(node, name, role)
    page = await login(browser, node, name)
    await open_desk(page, node, slug)
    return page


async def compose(page: Page, text: str) -> None:
    """Write in the composer and post with Ctrl+Enter."""
    await page.fill("#composer-body", text)
    await page.press("#composer-body", "Control+Enter")


def entry(page: Page, text: str) -> Any:
    """A confirmed entry in the desk's live feed."""
    return page.locator(".desk-entries .entry", has_text=text)


async def fetch(page: Page, method: str, path: str, body: Any = None, csrf: str | None = "page") -> Any:
    """A fetch() from the page, with the page's own session cookie; ``csrf="page"`` sends the page's token."""
    return await page.evaluate(
        """async ([method, path, body, csrf]) => {
            const token = csrf === "page" ? JSON.parse(document.getElementById("desk-state").textContent).csrf : csrf;
            const headers = {"Content-Type": "application/json"};
            if (token !== null) headers["X-CSRF-Token"] = token;
            const init = {method, headers, body: body === null ? undefined : JSON.stringify(body)};
            const response = await fetch(path, init);
            return {status: response.status, body: await response.json()};
        }""",
        [method, path, body, csrf],
    )


async def http_login(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    """Log in through the form as a browser would: the form's token, its cookie, our Origin.

    The cookie is passed by hand: behind https it is Secure, and httpx keeps Secure cookies from plain http.
    """
    form = await client.get("/login")
    match = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert match, form.text
    return await client.post(
        "/login",
        data={"name": name, "password": password, "csrf": match.group(1)},
        headers={"Origin": str(client.base_url).rstrip("/"), "Cookie": f"ticker_login={match.group(1)}"},
    )
