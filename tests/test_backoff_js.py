"""The clients' reconnect backoff (web/static/backoff.js) is ticker/backoff.py's formula: the same delays for the
same failures and the same draw of the jitter, with the clients' base (0.5 s) and cap (30 s)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from ticker.backoff import backoff_delay

BACKOFF_JS = Path(__file__).resolve().parent.parent / "web" / "static" / "backoff.js"
FAILURES = [0, 1, 2, 3, 5, 6, 7, 10, 40, 2000]
DRAWS = [0.0, 0.3, 0.999]  # what Math.random() and the jitter's random.random() give


def js_delays() -> list[list[float]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node to run backoff.js with")
    script = (
        f"const {{ backoffDelay }} = await import({json.dumps(BACKOFF_JS.as_uri())});"
        f"const out = [];"
        f"for (const draw of {json.dumps(DRAWS)}) {{"
        f"  Math.random = () => draw;"
        f"  out.push({json.dumps(FAILURES)}.map((n) => backoffDelay(n)));"
        f"}}"
        f"console.log(JSON.stringify(out));"
    )
    run = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, check=True)
    delays: list[list[float]] = json.loads(run.stdout)
    return delays


def test_the_clients_backoff_is_the_servers_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    delays = js_delays()
    for draw, js in zip(DRAWS, delays, strict=True):
        monkeypatch.setattr(random, "uniform", lambda low, high, draw=draw: low + (high - low) * draw)
        python = [backoff_delay(n, base=0.5, cap=30.0) * 1000 for n in FAILURES]
        assert js == pytest.approx(python)
