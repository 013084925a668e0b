"""The README's two commands, as written, are the ones that work."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, expect

from tests.support.newsroom import new_page
from tests.support.services import ServerProcess

ROOT = Path(__file__).parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", text, flags=re.DOTALL)[:2]


def test_the_two_commands_open_the_readme() -> None:
    run, test = readme_commands()
    assert run.startswith("python3 -m venv .venv && .venv/bin/pip install -e . && ")
    assert test == "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -q -e '.[test]'" in ci
    assert '.venv/bin/python -m pytest "$@"' in ci


def demo_node(tmp_path: Path) -> ServerProcess:
    """README's `ticker serve --demo`, in a fresh home directory, on a free port instead of 8000."""
    run, _test = readme_commands()
    serve_args = run.split(".venv/bin/ticker serve", 1)[1].split()
    assert serve_args == ["--demo"]
    node = ServerProcess(tmp_path, env={"HOME": str(tmp_path / "home"), "LANG": "C.UTF-8"}, args=serve_args)
    node.env["XDG_DATA_HOME"] = ""  # the default data directory under HOME, as on a fresh machine
    return node


@dataclass(frozen=True)
class Printed:
    """What `ticker serve --demo` printed, read as a person reads it."""

    reader_url: str
    desk_url: str
    login: str
    password: str
    token: str
    post_command: str
    database: str


def printed_lines(node: ServerProcess) -> Printed:
    """Wait for the lines the demo prints once it listens, and read them."""
    deadline = time.monotonic() + 30
    while f"--url {node.url}\n" not in (text := node.log_text()):  # the end of the last line: all are there
        assert time.monotonic() < deadline, text
        time.sleep(0.05)
    found = {
        "reader_url": r"^Reader page:\s+(\S+)$",
        "desk_url": r"^Newsroom desk:\s+(\S+)\s",
        "login": r"^Newsroom desk:.*log in as (\S+), password",
        "password": r"^Newsroom desk:.*password (\S+)\)$",
        "token": r"^Reporter token \(shown once; reporter demo-reporter\): (tk_\S+)$",
        "post_command": r"^Post an update as the reporter, from another terminal:\n  (.+)$",
        "database": r"^Database: (.+)$",
    }
    values = {}
    for name, pattern in found.items():
        match = re.search(pattern, text, flags=re.MULTILINE)
        assert match is not None, f"{name} not printed:\n{text}"
        values[name] = match.group(1)
    return Printed(**values)


def test_the_run_command_serves_a_demo_on_embedded_defaults(tmp_path: Path) -> None:
    # Same command in a fresh directory, on a free port instead of 8000: SQLite file, in-process broker.
    with demo_node(tmp_path) as node:
        printed = printed_lines(node)
        assert printed.database == f"{tmp_path}/home/.local/share/ticker/ticker.db"
        # Printed once it listens: after uvicorn's own line saying so.
        log = node.log_text()
        assert log.index("Uvicorn running on") < log.index("Reader page:")
        page = urllib.request.urlopen(printed.reader_url, timeout=10)
        assert "Polisjakt genom centrum" in page.read().decode()
        health = urllib.request.urlopen(f"{node.url}/healthz", timeout=10).read().decode()
        assert '"broker":"memory"' in health


def trying_it() -> list[str]:
    """The `sh` blocks of README's "Trying it" section."""
    section = (ROOT / "README.md").read_text().split("## Trying it", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section, flags=re.DOTALL)


def incident_state(url: str, slug: str) -> dict[str, Any]:
    state: dict[str, Any] = json.load(urllib.request.urlopen(f"{url}/api/incidents/{slug}", timeout=10))
    return state


def minutes_ago(label: str, now: datetime) -> int:
    """How long before ``now`` a "HH:MM" label is, in minutes (across midnight too)."""
    hours, minutes = map(int, label.split(":"))
    return (now.hour * 60 + now.minute - hours * 60 - minutes) % (24 * 60)


async def test_a_newcomer_follows_the_readme_and_the_printed_lines_into_the_desk(
    browser: Browser, tmp_path: Path
) -> None:
    readme = (ROOT / "README.md").read_text()
    assert "open the printed `Newsroom desk` address and log in\nwith the user and password printed beside it" in readme
    with demo_node(tmp_path) as node:
        printed = printed_lines(node)
        slug = printed.reader_url.rsplit("/", 1)[1]

        # The story so far is labelled before now, oldest first, so the next post (labelled now) goes on top.
        state = await asyncio.to_thread(incident_state, node.url, slug)
        now = datetime.now(ZoneInfo("Europe/Stockholm"))
        ages = [minutes_ago(e["label"], now) for e in state["entries"]]  # newest first
        assert ages == sorted(ages) and len(ages) == 3 and ages[0] > 0 and ages[-1] < 60, ages

        reader = await new_page(browser)
        await reader.goto(printed.reader_url)
        await expect(reader.locator(".conn")).to_have_attribute("data-state", "live")

        # The desk, with the printed login.
        desk = await new_page(browser)
        await desk.goto(printed.desk_url)
        await desk.fill("input[name=name]", printed.login)
        await desk.fill("input[name=password]", printed.password)
        await desk.click("form.login-form button[type=submit]")
        await desk.wait_for_url(printed.desk_url)
        await desk.click("a.open-desk:text('Polisjakt genom centrum')")
        await expect(desk.locator(".conn")).to_have_attribute("data-state", "live")
        await desk.fill("#composer-body", "Räddningstjänsten är på plats vid Södra vägen.")
        await desk.press("#composer-body", "Control+Enter")
        first = reader.locator(".entries .entry").first
        await expect(first).to_contain_text("Räddningstjänsten är på plats vid Södra vägen.")
        await expect(first).to_contain_text("Demo Redaktör")

        # The printed command, run as it is printed, posts as the reporter.
        command = ["bash", "-c", printed.post_command]
        done = await asyncio.to_thread(
            subprocess.run, command, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0 and done.stdout.startswith("posted entry "), (done.stdout, done.stderr)
        await expect(first).to_contain_text("Polisen har stoppat bilen.")
        await expect(first).to_contain_text("Demo Reporter")


def test_the_readme_curl_posts_once_on_a_machine_with_only_python3_and_curl(tmp_path: Path) -> None:
    blocks = trying_it()
    [curl_block] = [b for b in blocks if "curl " in b]
    key_line, curl = curl_block.split("\n", 1)
    assert key_line.startswith("key=$(")
    # A machine with nothing but bash, python3 and curl on its PATH (no uuidgen, for one).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("python3", "curl"):
        found = shutil.which(program, path="/usr/bin:/bin")
        assert found is not None, f"{program} is not installed"
        os.symlink(found, bin_dir / program)
    with demo_node(tmp_path) as node:
        printed = printed_lines(node)
        curl = curl.replace("tk_…", printed.token).replace("http://127.0.0.1:8000", node.url)
        # Post, then send the very same request again, as after a lost answer.
        script = f"{key_line}\n{curl} -sS\necho\n{curl} -sS\n"
        done = subprocess.run(
            ["/bin/bash", "-c", script], env={"PATH": str(bin_dir)}, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0 and done.stderr == "", done.stderr
        first, again = (json.loads(line) for line in done.stdout.splitlines())
        assert first == again and first["entry"]["author"] == "Demo Reporter"
        state = incident_state(node.url, printed.reader_url.rsplit("/", 1)[1])
        assert [e["body"] for e in state["entries"]].count("<p>Vägen är öppen igen.</p>") == 1  # no twin


def test_a_demo_whose_port_is_taken_prints_no_login_or_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TICKER_", "XDG_"))}
    env |= {"HOME": str(tmp_path), "LANG": "C.UTF-8"}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = subprocess.run(
            [sys.executable, "-m", "ticker", "serve", "--demo", "--port", port],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode != 0
    assert "address already in use" in done.stderr
    printed = done.stdout + done.stderr  # the migrations' lines may name tables such as password_resets
    assert "tk_" not in printed and "Newsroom desk:" not in printed and "log in as" not in printed
    users = subprocess.run(
        [sys.executable, "-m", "ticker", "user", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert users.stdout.startswith("No users yet")  # no demo account or token was made either
