"""Running the ``ticker`` command as a user would, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any


def run_ticker(*args: str, env: Mapping[str, str], **options: Any) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ticker ARGS`` with only the given TICKER_* settings (and ``env``'s others, LANG say), whatever
    its exit status; ``options`` go to subprocess.run (``stdout=`` a file, say)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TICKER_")}
    if "stdout" not in options:
        options["capture_output"] = True
    return subprocess.run(
        [sys.executable, "-m", "ticker", *args],
        env={**clean, **env},
        text=True,
        timeout=120,
        check=False,
        **options,
    )


def ticker(*args: str, env: Mapping[str, str]) -> str:
    """Run ``python -m ticker ARGS`` with only the given TICKER_* settings; return its stdout."""
    done = run_ticker(*args, env=env)
    assert done.returncode == 0, f"ticker {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def reporter_token(env: Mapping[str, str], name: str = "anna", role: str = "editor") -> str:
    """An API token of a new user (an editor: may open, close and pin as well as post)."""
    ticker("user", "add", name, "--display-name", "Anna Svensson", "--role", role, env=env)
    return ticker("token", "create", "--user", name, env=env).strip().splitlines()[-1]
