"""The `ticker` command as a newcomer uses it: accounts, tokens, incidents and posts against a running node."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import select
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.support.cli import reporter_token, ticker
from tests.support.newsroom import http_login
from tests.support.node import node_settings, running_node
from tests.support.services import ServerProcess
from ticker.store.accounts import add_user, create_token


def test_create_an_incident_and_post_with_the_cli(tmp_path: Path) -> None:
    env = {"TICKER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ticker.db"}
    assert "latest schema" in ticker("db", "upgrade", env=env)
    token = reporter_token(env)
    with ServerProcess(tmp_path, env) as node:
        slug = ticker(
            "incident",
            "create",
            "Skogsbrand vid sjön",
            "--category",
            "Brand",
            "--url",
            node.url,
            "--token",
            token,
            env=env,
        ).strip()
        assert slug == "skogsbrand-vid-sjon"
        printed = ticker(
            "post",
            slug,
            "Räddningstjänsten är på plats.",
            "--label",
            "14:05",
            "--key-event",
            "--url",
            node.url,
            env={**env, "TICKER_TOKEN": token},
        )
        assert printed.startswith("posted entry 1 as seq 2")
        state = json.load(urllib.request.urlopen(f"{node.url}/api/incidents/{slug}", timeout=10))
        assert state["incident"]["category"] == "Brand"
        [entry] = state["entries"]
        assert (entry["label"], entry["key_event"], entry["author"]) == ("14:05", True, "Anna Svensson")
        assert entry["body"] == "<p>Räddningstjänsten är på plats.</p>"


def test_cli_errors_are_plain(tmp_path: Path) -> None:
    env = {"TICKER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ticker.db"}
    done = subprocess.run(
        [sys.executable, "-m", "ticker", "token", "create", "--user", "nobody"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    note, error = done.stderr.strip().splitlines()
    assert note.startswith(f"Note: no database at {tmp_path}/ticker.db yet; this command creates one")
    assert error == "Error: user not found"
    ticker("user", "add", "anna", env=env)
    done = subprocess.run(
        [sys.executable, "-m", "ticker", "user", "add", "anna"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr.strip()) == (1, "Error: user 'anna' exists")
    # The CLI writes through the same rules as the API and the desk: a name, a byline and a token label.
    new_user = ("user", "add", "--no-password")
    for args, problem in [
        ((*new_user, "Anna Berg"), "Error: name: 1–64 lower-case letters, digits, '.', '_' or '-'"),
        ((*new_user, "bo", "--display-name", "Bo \u202eBerg"), "Error: display_name: must not contain bidi"),
        ((*new_user, "bo", "--display-name", "Bo\x1bBerg"), "Error: display_name: must not contain control"),
        (("token", "create", "--user", "anna", "--label", "x" * 121), "Error: label: at most 120 characters"),
    ]:
        done = run(*args, env=env)
        assert done.returncode == 1 and done.stderr.strip().startswith(problem), (args, done.stderr)
    assert [line.split()[0] for line in ticker("user", "list", env=env).splitlines()[1:]] == ["anna"]


def run(*args: str, env: Mapping[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m ticker ARGS`` without a terminal, with only the given TICKER_* settings and locale."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TICKER_", "LC_", "LANG", "XDG_"))}
    return subprocess.run(
        [sys.executable, "-m", "ticker", *args],
        env={**clean, "LANG": "C.UTF-8", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def on_a_terminal(args: list[str], env: Mapping[str, str], answers: list[str]) -> tuple[int, str]:
    """Run ``python -m ticker ARGS`` with a pseudo-terminal as stdin, stdout and stderr, typing each answer after
    the next prompt (a line ending in ': '); returns the exit status and everything the terminal showed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TICKER_", "LC_", "LANG"))}
    controller, terminal = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "ticker", *args],
        env={**clean, "LANG": "C.UTF-8", **env},
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    shown, pending = b"", list(answers)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the child has closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if pending and shown.rstrip(b" ").endswith(b":"):
                os.write(controller, pending.pop(0).encode() + b"\n")
        elif child.poll() is not None:
            break
    os.close(controller)
    return child.wait(timeout=30), shown.decode(errors="replace")


async def logs_in(url: str, name: str, password: str) -> bool:
    async with httpx.AsyncClient(base_url=url) as client:
        return (await http_login(client, name, password)).status_code == 303


async def test_user_add_asks_for_a_good_password_on_a_terminal_and_passwd_sets_one_later(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/ticker.db"
    env = {"TICKER_DATABASE_URL": database_url}
    typed = ["kort", "kort", "ett långt lösenord", "ett annat lösenord", "ett långt lösenord", "ett långt lösenord"]
    status, shown = await asyncio.to_thread(on_a_terminal, ["user", "add", "anna", "--role", "editor"], env, typed)
    assert status == 0, shown
    assert "kort" not in shown and "ett långt" not in shown  # hidden as typed
    assert "too short: at least 10 characters" in shown
    assert "The two passwords differ" in shown
    assert "user anna (editor) created" in shown
    common = await asyncio.to_thread(
        run, "user", "add", "cia", "--password", "Qwertyuiop", env={**env, "LANG": "sv_SE"}
    )
    assert common.stderr.strip() == "Fel: Det är ett av de vanligaste lösenorden; välj ett annat."

    # Without a terminal and without --password: a user for API tokens, and a note saying how to add a password.
    made = await asyncio.to_thread(run, "user", "add", "bo", env=env)
    assert made.returncode == 0 and "bo has no password" in made.stderr and "ticker user passwd bo" in made.stderr
    listed = (await asyncio.to_thread(run, "user", "list", env=env)).stdout.splitlines()
    assert listed[1:] == ["anna\teditor\tyes\tanna", "bo\treporter\tno\tbo"], listed
    refused = await asyncio.to_thread(run, "user", "passwd", "bo", env=env)
    assert (refused.returncode, refused.stderr.strip()) == (
        1,
        "Error: Give --password, or run the command on a terminal to be asked for one.",
    )
    short = await asyncio.to_thread(run, "user", "passwd", "bo", "--password", "x", env=env)
    assert short.returncode == 1 and "too short" in short.stderr
    own_name = await asyncio.to_thread(run, "user", "add", "ceciliasson", "--password", "CeciliaSson", env=env)
    assert own_name.returncode == 1 and "the user's own name" in own_name.stderr
    assert (
        await asyncio.to_thread(run, "user", "passwd", "bo", "--password", "bo har ett lösen", env=env)
    ).returncode == 0

    async with running_node(node_settings(database_url)) as node:
        assert await logs_in(node.url, "anna", "ett långt lösenord")
        assert await logs_in(node.url, "bo", "bo har ett lösen")
        assert not await logs_in(node.url, "anna", "fel lösenord")


def test_every_command_finds_the_same_database_wherever_it_runs(tmp_path: Path) -> None:
    home, here, there = tmp_path / "home", tmp_path / "here", tmp_path / "there"
    for directory in (home, here, there):
        directory.mkdir()
    env = {"HOME": str(home)}
    made = run("user", "add", "anna", "--no-password", env=env, cwd=here)
    database = home / ".local" / "share" / "ticker" / "ticker.db"
    assert made.returncode == 0 and f"no database at {database} yet" in made.stderr, made.stderr
    listed = run("user", "list", env=env, cwd=there)
    assert listed.returncode == 0 and "anna\treporter" in listed.stdout and "no database" not in listed.stderr
    assert not (here / "ticker.db").exists() and not (there / "ticker.db").exists()
    other = run("user", "list", env={**env, "TICKER_DATA_DIR": str(tmp_path / "other")}, cwd=here)
    assert "no database at" in other.stderr and "No users yet" in other.stdout


async def test_http_commands_say_what_went_wrong_in_the_persons_language(tmp_path: Path, sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter("eva", role="editor")
        slug = await editor.incident("Brand i hamnen")
        store = node.services.store
        reporter_token = await create_token(store, await add_user(store, "rut", "Rut Svensson", "reporter"), "cli")
        editor_token = await create_token(store, await add_user(store, "ebba", "Ebba Svensson", "editor"), "cli")
        swedish, english = {"LANG": "sv_SE.UTF-8"}, {"LC_ALL": "en_GB.UTF-8", "LANG": "sv_SE.UTF-8"}

        async def ticker_(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
            return await asyncio.to_thread(run, *args, "--url", node.url, env=env)

        wrong = await ticker_("post", slug, "Hej.", "--token", "tk_wrong", env=swedish)
        assert wrong.returncode == 1
        assert wrong.stderr.startswith("Fel: token saknas, är okänd eller återkallad"), wrong.stderr
        wrong = await ticker_("post", slug, "Hej.", "--token", "tk_wrong", env=english)
        assert wrong.stderr.startswith("Error: the token is missing, unknown or revoked"), wrong.stderr
        pinned = await ticker_("post", slug, "Fäst mig.", "--pin", "--token", reporter_token, env=swedish)
        assert pinned.stderr.strip() == (
            "Fel: ditt konto får inte göra det: a reporter may not pin and unpin entries, also by posting one pinned"
        )
        missing = await ticker_("post", "finns-inte", "Hej.", "--token", reporter_token, env=english)
        assert missing.stderr.strip() == "Error: not found: incident not found"
        for answer in (wrong, pinned, missing):
            assert "{" not in answer.stderr  # never a raw JSON body

        posted = await ticker_("post", slug, "Rökutveckling.", "--token", reporter_token, env=swedish)
        assert posted.stdout.startswith("inlägg 1 publicerat som seq 2"), posted.stdout
        closed = await ticker_("incident", "close", slug, "--token", reporter_token, env=english)
        assert closed.returncode == 1 and "Error: your account may not do that" in closed.stderr
        closed = await ticker_("incident", "close", slug, "--token", editor_token, env=english)
        assert closed.stdout.strip() == f"{slug} closed (seq 3)"
        late = await ticker_("post", slug, "För sent.", "--token", reporter_token, env=english)
        assert late.stderr.startswith("Error: not possible now: "), late.stderr
        reopened = await ticker_("incident", "reopen", slug, "--token", editor_token, env=swedish)
        assert reopened.stdout.strip() == f"{slug} är öppnad igen (seq 4)"
        assert (await editor.state(slug))["incident"]["status"] == "live"

        gone = await asyncio.to_thread(
            run, "post", slug, "Hej.", "--url", "http://127.0.0.1:9", "--token", "tk_x", env={}
        )
        assert gone.stderr.startswith("Error: cannot reach http://127.0.0.1:9: "), gone.stderr


async def test_partners_are_listed_and_removed_with_the_cli(sqlite_url: str) -> None:
    env = {"TICKER_DATABASE_URL": sqlite_url}
    async with running_node(node_settings(sqlite_url)) as node:
        admin = await create_token(
            node.services.store, await add_user(node.services.store, "ada", "Ada Admin", "admin"), "cli"
        )
        added = await asyncio.to_thread(run, "partner", "add", "gp", "--origin", "https://www.gp.se", env=env)
        assert added.returncode == 0, added.stderr
        listed = await asyncio.to_thread(run, "partner", "list", env=env)
        assert listed.stdout.strip() == "partner gp: https://www.gp.se; incidents: all"
        removed = await asyncio.to_thread(run, "partner", "remove", "gp", "--url", node.url, "--token", admin, env=env)
        assert removed.stdout.strip() == "partner gp removed; its embeds are closed", removed.stderr
        listed = await asyncio.to_thread(run, "partner", "list", env={**env, "LANG": "sv_SE.UTF-8"})
        assert listed.stdout.startswith("Inga partner än.")
        tokens = await asyncio.to_thread(run, "token", "list", "--user", "ada", env=env)
        assert tokens.stdout.splitlines()[1].split("\t")[1:2] == ["ada"] and "tk_" not in tokens.stdout


NOWHERE = ("--url", "http://127.0.0.1:9")  # the discard port: nothing listens there


def test_http_commands_load_no_database_or_server_library(tmp_path: Path) -> None:
    """`ticker post` only speaks HTTP: it must not import SQLAlchemy, Alembic, uvicorn, starlette or argon2 (what
    made it take seconds; docs/benchmarks.md). Checked on a refused post, which runs the whole command."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ticker", *("post", "x", "Hej.", "--token", "tk_x"), *NOWHERE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and "cannot reach" in done.stderr
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    heavy = {"sqlalchemy", "alembic", "uvicorn", "starlette", "argon2", "pydantic", "jinja2", "ticker.store.sql"}
    assert imported & heavy == set()
    assert "ticker.api_client" in imported  # the count is of a real run
