"""Settings checked at a node's start (issue #14): a bad one is one line and an exit status, never a traceback.

`python -m ticker serve` is run as a person or a supervisor would run it; `ticker config` shows what a node would
use, with its secrets masked.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import typing
from dataclasses import fields
from pathlib import Path

import pytest

from tests.support.services import free_port
from ticker.config import Settings
from ticker.config_check import SettingsError, check, masked_url, unknown_names

EX_UNAVAILABLE, EX_CONFIG = 69, 78


def ticker(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m ticker ARGS` in a fresh home, with no TICKER_ variable but those given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TICKER_")}
    home = {"HOME": str(tmp_path / "home"), "XDG_DATA_HOME": "", "LANG": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "-m", "ticker", *args],
        env={**clean, **home, **(env or {})},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def unreachable_database() -> str:
    return f"postgresql+asyncpg://ticker:s3cret@127.0.0.1:{free_port()}/ticker"  # nothing listens there


BAD_STARTS = {
    "negative max connections": ({"TICKER_MAX_CONNECTIONS": "-1"}, (), EX_CONFIG, "TICKER_MAX_CONNECTIONS=-1"),
    "no connections at all": ({"TICKER_MAX_CONNECTIONS": "0"}, (), EX_CONFIG, "TICKER_MAX_CONNECTIONS=0"),
    "port 70000 in the environment": ({"TICKER_PORT": "70000"}, (), EX_CONFIG, "TICKER_PORT=70000"),
    "port 70000 as a flag": ({}, ("--port", "70000"), EX_CONFIG, "TICKER_PORT=70000"),
    "a port that is no number": ({"TICKER_PORT": "http"}, (), EX_CONFIG, "TICKER_PORT"),
    "a malformed database URL": (
        {"TICKER_DATABASE_URL": "postgres://ticker:s3cret@db:port/ticker"},
        (),
        EX_CONFIG,
        "TICKER_DATABASE_URL=postgresql+asyncpg://ticker:***@db:port/ticker",
    ),
    "a database URL of another driver": (
        {"TICKER_DATABASE_URL": "mysql://ticker@db/ticker"},
        (),
        EX_CONFIG,
        "mysql:// is not supported",
    ),
    "a Redis URL that is not one": ({"TICKER_REDIS_URL": "http://redis:6379"}, (), EX_CONFIG, "TICKER_REDIS_URL"),
    "a public URL with a path": (
        {"TICKER_PUBLIC_URL": "https://live.example.se/ticker"},
        (),
        EX_CONFIG,
        "TICKER_PUBLIC_URL",
    ),
    "an unknown log level": ({"TICKER_LOG_LEVEL": "loud"}, (), EX_CONFIG, "TICKER_LOG_LEVEL=loud"),
    "an unreachable database": (
        {"TICKER_DATABASE_URL": "UNREACHABLE"},
        (),
        EX_UNAVAILABLE,
        "cannot reach the database postgresql+asyncpg://ticker:***@127.0.0.1:",
    ),
}


@pytest.mark.parametrize("case", BAD_STARTS.keys())
def test_a_bad_setting_stops_serve_with_one_line(tmp_path: Path, case: str) -> None:
    env, args, status, named = BAD_STARTS[case]
    env = {k: unreachable_database() if v == "UNREACHABLE" else v for k, v in env.items()}
    port = () if "TICKER_PORT" in env or "--port" in args else ("--port", str(free_port()))  # never 8000
    done = ticker(tmp_path, "serve", *port, *args, env=env)
    assert done.returncode == status, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ") and named in lines[0], lines[0]
    assert "Traceback" not in done.stderr and "s3cret" not in done.stderr + done.stdout


def test_config_prints_the_settings_with_secrets_masked(tmp_path: Path) -> None:
    env = {
        "TICKER_DATABASE_URL": "postgres://ticker:s3cret@db.example:5432/ticker?sslmode=require&password=pw2",
        "TICKER_REDIS_URL": "rediss://default:r3dis@redis.example:6380/0",
        "TICKER_MAX_CONNECTIONS": "20000",
        "TICKER_MAX_CONECTIONS": "30000",  # a typo: warned about, one line
        "TICKER_SERVE_WORKERS": "2",  # click's own variable for `serve --workers`: no setting, but no typo either
    }
    secret_settings = [f.name for f in fields(Settings) if f.name.endswith(("_token", "_secret", "_password"))]
    env.update({f"TICKER_{name.upper()}": "t0ken-value" for name in secret_settings})  # shown as *** by their name
    done = ticker(tmp_path, "--redis-url", "redis://:flagpw@127.0.0.1:6379/1", "config", env=env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for secret in ("s3cret", "pw2", "r3dis", "flagpw", "t0ken-value"):
        assert secret not in out + done.stderr
    rows = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in out.splitlines()}
    assert rows["TICKER_DATABASE_URL"].split()[0] == (
        "postgresql+asyncpg://ticker:***@db.example:5432/ticker?sslmode=require&password=***"
    )  # postgres:// is taken as PostgreSQL through asyncpg
    assert rows["TICKER_DATABASE_URL"].endswith("# environment")
    assert rows["TICKER_REDIS_URL"].split() == ["redis://:***@127.0.0.1:6379/1", "#", "flag"]
    assert rows["TICKER_MAX_CONNECTIONS"].split() == ["20000", "#", "environment"]
    assert rows["TICKER_PORT"].split() == ["8000", "#", "default"]
    assert set(rows) == {f"TICKER_{f.name.upper()}" for f in fields(Settings)}  # every setting, once
    assert all(rows[f"TICKER_{name.upper()}"].split()[0] == "***" for name in secret_settings)
    assert done.stderr.splitlines() == [
        "warning: unknown setting TICKER_MAX_CONECTIONS (did you mean TICKER_MAX_CONNECTIONS?)"
    ]


def test_config_says_what_is_wrong(tmp_path: Path) -> None:
    done = ticker(tmp_path, "config", env={"TICKER_MAX_CONNECTIONS": "-1", "TICKER_PING_INTERVAL": "nan"})
    assert done.returncode == EX_CONFIG
    (line,) = done.stderr.splitlines()  # each wrong setting named, on one line
    assert "TICKER_PING_INTERVAL=nan: Input should be a finite number" in line
    assert "TICKER_MAX_CONNECTIONS=-1: Input should be greater than or equal to 1" in line
    done = ticker(tmp_path, "config", env={"TICKER_EMBED_ENTRIES": "60"})
    assert done.returncode == EX_CONFIG and "TICKER_EMBED_ENTRIES must not exceed" in done.stderr


def test_an_unknown_name_is_one_warning_line_when_a_node_starts(tmp_path: Path) -> None:
    """Checked before the port is bound: a port that is taken ends the run right after the warning."""
    with __import__("socket").socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"TICKER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/t.db", "TICKER_LOGLEVEL": "debug"}
        done = ticker(tmp_path, "serve", "--port", str(port), env=env)
    assert done.returncode != 0
    warned = [line for line in done.stderr.splitlines() if "setting_unknown" in line]
    assert len(warned) == 1 and "TICKER_LOGLEVEL (did you mean TICKER_LOG_LEVEL?)" in warned[0]
    assert '"level": "WARNING"' in warned[0]


# Every field, whoever added it, has a rule: for its type at least, and its own bounds where it needs them.
WRONG_BY_TYPE: dict[object, list[object]] = {
    int: [-1],
    float: [0.0, -1.0, math.nan, math.inf],
    str: ["a\nb"],
    str | None: ["a\x00b"],
}


@pytest.mark.parametrize("name", [f.name for f in fields(Settings)])
def test_every_setting_is_checked(name: str) -> None:
    kind = typing.get_type_hints(Settings)[name]
    check(Settings())  # the defaults pass
    wrong = WRONG_BY_TYPE.get(kind, [])
    if kind is bool:
        return  # a bool read from the environment is true or false, or refused by ticker.config
    assert wrong, f"{name}: no rule checked for its type {kind}"
    for value in wrong:
        with pytest.raises(SettingsError, match=f"TICKER_{name.upper()}"):
            check(Settings(**{name: value}))


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"port": 0}, "TICKER_PORT"),
        ({"ws_max_message_bytes": 10}, "TICKER_WS_MAX_MESSAGE_BYTES"),
        ({"front_incidents": 21}, "TICKER_FRONT_INCIDENTS must not exceed TICKER_MAX_SUBSCRIPTIONS"),
        ({"host": "two words"}, "TICKER_HOST"),
        ({"redis_url": "redis://redis:6379/zero"}, "TICKER_REDIS_URL"),
        ({"database_url": "postgres:///ticker"}, "needs a host"),
        ({"request_id_max_chars": 5000}, "TICKER_REQUEST_ID_MAX_CHARS"),
    ],
)
def test_explicit_bounds(changes: dict[str, object], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        check(Settings(**changes))  # type: ignore[arg-type]


def test_what_is_accepted() -> None:
    accepted = Settings(
        database_url="postgresql://ticker@db/ticker",
        redis_url="unix:///run/redis.sock",
        public_url="https://live.example.se/",
        host="::",
        hsts_seconds=0,
        cache_max_age=0,
    )
    assert check(accepted).database_url == "postgresql+asyncpg://ticker@db/ticker"
    assert Settings(database_url="postgres://u@h/d").database_url == "postgresql+asyncpg://u@h/d"
    assert Settings(database_url="sqlite:///x.db").database_url == "sqlite+aiosqlite:///x.db"
    assert Settings.from_env({"TICKER_DATABASE_URL": "postgres://u:p@h:5/d"}).database_url.startswith("postgresql+")


def test_unknown_names_and_masks() -> None:
    found = unknown_names({"TICKER_PRT": "1", "TICKER_URL": "x", "TICKER_TEST_STRICT": "1", "TICKER_XYZZY": "1"})
    assert found == ["TICKER_PRT (did you mean TICKER_PORT?)", "TICKER_XYZZY"]
    assert masked_url("redis://u:p@h:1/0") == "redis://u:***@h:1/0"
    assert masked_url("postgresql+asyncpg://u@h/d?token=abc&x=1") == "postgresql+asyncpg://u@h/d?token=***&x=1"
    assert masked_url("redis://u:p@h:port/0") == "redis://u:***@h:port/0"
