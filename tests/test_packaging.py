"""A wheel carries the pages, scripts and styles, and an installed Ticker finds them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def run(*args: str, **kwargs: object) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=300, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, done.stdout + done.stderr
    return str(done.stdout)


def test_an_installed_wheel_serves_its_templates_and_static_files(tmp_path: Path) -> None:
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT))
    [wheel] = tmp_path.glob("ticker-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = venv / "bin" / "python"
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "-q",
        "--no-deps",
        "--no-index",
        "--ignore-installed",
        str(wheel),
        env=clean,
    )
    # Dependencies come from this environment; Ticker itself only from the new one.
    deps = os.pathsep.join(p for p in sys.path if p.endswith("site-packages"))
    env = {**os.environ, "PYTHONPATH": deps}
    found = run(
        str(python),
        "-c",
        "import ticker.assets as a, ticker; print(a.WEB); print(ticker.__file__)",
        env=env,
        cwd=tmp_path,
    ).split()
    assert found[0] == str(venv / "share" / "ticker" / "web")
    assert found[1].startswith(str(venv))
    for name in (
        "templates/incident.html",
        "templates/desk/login.html",
        "static/reader.js",
        "static/live.js",
        "static/embed.js",
    ):
        assert (venv / "share" / "ticker" / "web" / name).is_file(), name
