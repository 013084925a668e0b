"""The load generator still speaks Ticker's protocol: a quick 50-reader run of each scenario (no timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import reporter_token
from tests.support.services import ServerProcess

LOADGEN = Path(__file__).parent.parent / "bench" / "loadgen.py"


@pytest.mark.parametrize("scenario", ["burst", "storm", "day"])
def test_fifty_readers_get_every_delivery_once_in_order(tmp_path: Path, scenario: str) -> None:
    env = {"TICKER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ticker.db"}
    token = reporter_token(env)
    with ServerProcess(tmp_path, env) as node:
        done = subprocess.run(
            [
                sys.executable,
                str(LOADGEN),
                "--target",
                "ticker",
                "--url",
                node.url,
                "--token",
                token,
                "--scenario",
                scenario,
                "--readers",
                "50",
                "--quick",
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["subscribed"] == 50
    assert result["expected"] > 0
    assert result["received"] == result["expected"]
    assert (result["missing"], result["duplicates"], result["out_of_order"]) == (0, 0, 0)
    if scenario == "storm":
        assert result["storm"]["all_resumed"] is True
