"""Accounts from the newsroom's pages and the command line: API tokens created and revoked by their owner,
users added by an admin, a password asked for by `ticker user add --ask-password`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
from playwright.async_api import Browser, expect

from tests.support.newsroom import login, person
from tests.support.node import node_settings, running_node


async def test_tokens_are_created_and_revoked_from_the_page_and_an_admin_adds_users(
    browser: Browser, sqlite_url: str
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        await person(node, "ada", role="admin")
        page = await login(browser, node, "ada")

        await page.goto(f"{node.url}/desk/tokens")
        await page.fill("input[name=label]", "Larmrobot")
        await page.click("form.token-form button[type=submit]")
        token = await page.locator(".new-token").text_content()
        assert token and token.startswith("tk_")
        api = httpx.AsyncClient(base_url=node.url, headers={"Authorization": f"Bearer {token}"})
        async with api:
            created = await api.post("/api/incidents", json={"title": "Larm från roboten"})
            assert created.status_code == 201, created.text
            await page.goto(f"{node.url}/desk/tokens")  # the token is shown once, never again
            await expect(page.locator(".new-token")).to_have_count(0)
            await page.locator(".tokens li", has_text="Larmrobot").locator("button").click()
            await expect(page.locator(".tokens li", has_text="Larmrobot")).to_contain_text("återkallad")
            refused = await api.post("/api/incidents", json={"title": "Efter återkallandet"})
            assert refused.status_code == 401, refused.text

        await page.goto(f"{node.url}/desk/users")
        form = page.locator("form.user-form")
        await form.locator("input[name=name]").fill("dan")
        await form.locator("input[name=display_name]").fill("Dan Fältreporter")
        await form.locator("select[name=role]").select_option("contributor")
        await form.locator("input[name=password]").fill("ett långt lösenord")
        await form.locator("button[type=submit]").click()
        await expect(page.locator(".notice")).to_have_text("Användaren är skapad.")
        await expect(page.locator(".users")).to_contain_text("Dan Fältreporter (dan) · medarbetare")
        await form.locator("input[name=name]").fill("dan")
        await form.locator("input[name=password]").fill("ett annat lösenord")
        await form.locator("button[type=submit]").click()
        await expect(page.locator(".problem")).to_contain_text("user 'dan' exists")
        await expect(form.locator("input[name=name]")).to_have_value("dan")  # kept for correcting

        dan = await login(browser, node, "dan", "ett långt lösenord")
        await expect(dan.locator(".me")).to_contain_text("Dan Fältreporter (medarbetare)")
        await dan.goto(f"{node.url}/desk/users")  # not for contributors
        await expect(dan.locator("h1")).not_to_have_text("Användare")


async def test_user_add_asks_for_the_password(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKER_")}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "ticker", "user", "add", "eva", "--role", "editor", "--ask-password"],
        input="hemligt lösen\nhemligt lösen\n",
        env={**env, "TICKER_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "hemligt" not in done.stdout
    async with running_node(node_settings(database_url)) as node, httpx.AsyncClient(base_url=node.url) as client:
        form = await client.get("/login")
        token = client.cookies["ticker_login"]
        assert token in form.text
        answer = await client.post(
            "/login", data={"name": "eva", "password": "hemligt lösen", "csrf": token}, headers={"Origin": node.url}
        )
        assert answer.status_code == 303 and "ticker_session" in answer.cookies
