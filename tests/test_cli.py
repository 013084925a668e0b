"""The `ticker` command as a newcomer uses it: accounts, tokens, incidents and posts against a running node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support.cli import reporter_token, ticker
from tests.support.services import ServerProcess


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
    assert done.stderr.strip() == "Error: user not found"
    ticker("user", "add", "anna", env=env)
    done = subprocess.run(
        [sys.executable, "-m", "ticker", "user", "add", "anna"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr.strip()) == (1, "Error: user 'anna' exists")
