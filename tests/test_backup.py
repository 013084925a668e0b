"""`ticker db backup PATH`: SQLite's online backup of a running node's database, a file that opens and holds the
incidents (issue #14, part D). PostgreSQL is backed up with pg_dump (docs/deploy.md, "Backups")."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from pathlib import Path

from tests.support.cli import reporter_token, run_ticker, ticker
from tests.support.node import Reporter
from tests.support.services import ServerProcess


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_ticker(*args, env={**env, "LANG": "C"})


async def test_a_backup_taken_while_the_node_writes_opens_and_holds_the_incidents(tmp_path: Path) -> None:
    database = tmp_path / "ticker.db"
    env = {"TICKER_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    ticker("db", "upgrade", env=env)
    token = reporter_token(env)
    with ServerProcess(tmp_path, env) as node:
        reporter = Reporter(node.url, token)
        slugs = [await reporter.incident(f"Händelse {n}") for n in range(3)]
        for slug in slugs:
            for n in range(20):
                await reporter.post(slug, f"Uppdatering {n}: " + "text " * 200)
        posted = 60
        writing = True

        async def keep_posting() -> None:  # the node writes all through the backup
            nonlocal posted
            while writing:
                await reporter.post(slugs[0], "Under säkerhetskopieringen.")
                posted += 1

        writer = asyncio.create_task(keep_posting())
        target = tmp_path / "backup" / "ticker-copy.db"
        target.parent.mkdir()
        backup = await asyncio.to_thread(run, "db", "backup", str(target), env=env)
        writing = False
        await writer
        await reporter.aclose()
    assert backup.returncode == 0, backup.stderr
    assert f"{target} written" in backup.stdout and "3 incidents" in backup.stdout
    assert "backup: " in backup.stderr and " pages" in backup.stderr  # its progress
    assert not target.with_name(target.name + ".partial").exists()
    copy = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        titles = [t for (t,) in copy.execute("SELECT title FROM incidents ORDER BY id")]
        assert titles == ["Händelse 0", "Händelse 1", "Händelse 2"]
        (entries,) = copy.execute("SELECT count(*) FROM entries").fetchone()
        assert 60 <= entries <= posted  # whatever was committed when the copy's snapshot was taken
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file, no -wal beside it
    finally:
        copy.close()
    # The copy is a database Ticker runs on.
    copied = {"TICKER_DATABASE_URL": f"sqlite+aiosqlite:///{target}"}
    assert "Händelse 1" in ticker("incident", "export", slugs[1], env=copied)


def test_a_backup_never_overwrites_and_says_what_to_use_instead(tmp_path: Path) -> None:
    env = {"TICKER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ticker.db"}
    ticker("db", "upgrade", env=env)
    taken = tmp_path / "taken.db"
    taken.write_text("keep me")
    refused = run("db", "backup", str(taken), env=env)
    assert refused.returncode == 1 and "exists" in refused.stderr and taken.read_text() == "keep me"
    missing = run("db", "backup", str(tmp_path / "x.db"), env={"TICKER_DATABASE_URL": f"sqlite:///{tmp_path}/none.db"})
    assert missing.returncode == 1 and "no database" in missing.stderr
    postgres = run("db", "backup", str(tmp_path / "x.db"), env={"TICKER_DATABASE_URL": "postgresql://u@db/ticker"})
    assert postgres.returncode == 1 and "pg_dump" in postgres.stderr
