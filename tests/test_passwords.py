"""The password policy (ticker/passwords.py): long enough, not one of the commonest, not the user's own name; in
the desk's user form as in `ticker user add` (tests/test_cli.py), with TICKER_PASSWORD_MIN_CHARS as the length."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.support.cli import ticker
from tests.support.newsroom import PASSWORD, http_login, person
from tests.support.node import node_settings, running_node
from ticker.common_passwords import WORDS
from ticker.http.errors import status_of
from ticker.passwords import WeakPassword, check_password


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("kort", "short"),
        ("123456789", "short"),
        ("Password123", "common"),
        ("  qwertyuiop ", "common"),
        ("LÖSENORD123", "common"),
        ("Anna Svensson", "name"),
    ],
)
def test_a_weak_password_is_refused_and_says_why(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword) as refused:
        check_password(password, 10, "anna", "Anna Svensson")
    assert (refused.value.reason, refused.value.field, status_of(refused.value)) == (reason, "password", 422)


def test_a_good_password_passes_and_the_length_is_a_setting() -> None:
    check_password("korrekt hästbatteri", 10, "anna", "Anna Svensson")
    check_password("kort ok", 6)
    with pytest.raises(WeakPassword):
        check_password("korrekt hästbatteri", 20)
    assert all(word == word.casefold() for word in WORDS)  # compared after casefold(), so listed that way


async def test_the_desk_user_form_follows_the_policy(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url, password_min_chars=12)) as node:
        await person(node, "ada", role="admin")
        async with httpx.AsyncClient(base_url=node.url) as client:
            assert (await http_login(client, "ada", PASSWORD)).status_code == 303
            origin = {"Origin": node.url}
            page = await client.get("/desk/users")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf is not None

            async def add(name: str, password: str) -> httpx.Response:
                data = {"name": name, "display_name": "", "role": "reporter", "password": password}
                return await client.post("/desk/users", data={**data, "csrf": csrf.group(1)}, headers=origin)

            short = await add("bo", "elva tecken")  # 11 characters, TICKER_PASSWORD_MIN_CHARS is 12 here
            assert short.status_code == 422 and "password: at least 12 characters" in short.text
            common = await add("bo", "qwertyuiop123")
            assert common.status_code == 422 and "one of the commonest passwords" in common.text
            assert (await add("bo", "tolv tecken!")).status_code == 201


async def test_a_new_password_ends_the_persons_desk_sessions(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        await person(node, "anna", role="reporter")
        async with httpx.AsyncClient(base_url=node.url) as client:
            assert (await http_login(client, "anna", PASSWORD)).status_code == 303
            assert (await client.get("/desk")).status_code == 200
            changed = await asyncio.to_thread(
                ticker,
                "user",
                "passwd",
                "anna",
                "--password",
                "ett nytt långt lösenord",
                env={"TICKER_DATABASE_URL": sqlite_url},
            )
            assert changed.startswith("password of anna changed")
            after = await client.get("/desk")
            assert after.status_code == 303 and after.headers["location"].startswith("/login")
