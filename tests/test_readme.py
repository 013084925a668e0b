"""The README's two commands, as written, are the ones that work."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

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


def test_the_run_command_serves_a_demo_on_embedded_defaults(tmp_path: Path) -> None:
    run, _test = readme_commands()
    serve_args = run.split(".venv/bin/ticker serve", 1)[1].split()
    assert serve_args == ["--demo"]
    # Same command in a fresh directory, on a free port instead of 8000: SQLite file, in-process broker.
    node = ServerProcess(tmp_path, env={}, args=serve_args)
    node.env["HOME"] = str(tmp_path)
    with node:
        printed = node.log_text()
        reader_url = re.search(r"Reader page:\s+(\S+)", printed)
        assert reader_url is not None, printed
        assert re.search(r"token \(shown once\): tk_\S+", printed)
        page = urllib.request.urlopen(f"{node.url}/i/{reader_url.group(1).rsplit('/', 1)[1]}", timeout=10)
        assert "Polisjakt genom centrum" in page.read().decode()
        health = urllib.request.urlopen(f"{node.url}/healthz", timeout=10).read().decode()
        assert '"broker":"memory"' in health
