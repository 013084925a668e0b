from __future__ import annotations

import logging
import socket
import sys
import textwrap
import urllib.parse
import urllib.request
from pathlib import Path

import asyncpg
import pytest
import redis
from playwright.async_api import Browser
from sqlalchemy.engine import make_url

from tests.support.services import (
    RedisServer,
    ServerProcess,
    asyncpg_dsn,
    free_port,
    postgres_database,
    require_binary,
)
from tests.support.tracebacks import TracebackCatcher, node_logs, tracebacks_in_node_logs

# A stand-in for `python -m ticker serve`: the same --host/--port flags, a /healthz, and a page that shows
# what the node was given (an extra flag and an environment variable).
STAND_IN = textwrap.dedent(
    """
    import argparse, http.server, os

    parser = argparse.ArgumentParser()
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--greeting", default="hello")
    options = parser.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            env = os.environ.get
            text = f"{options.greeting} {env('TICKER_SECRET')} {env('TICKER_SITE_NAME')}"
            body = f"<html><body><h1>{text}</h1></body></html>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    print("stand-in listening on", options.port)
    http.server.HTTPServer((options.host, options.port), Handler).serve_forever()
    """
)


@pytest.fixture
def stand_in(tmp_path: Path) -> tuple[str, ...]:
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)
    return (sys.executable, str(script))


def get(url: str) -> str:
    """GET without any proxy from the environment."""
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=5) as response:
        body: bytes = response.read()
    return body.decode()


def test_free_port_is_free() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_redis_kill_loses_data_and_restart_keeps_the_port(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.set("k", "v")
    assert client.get("k") == b"v"
    port = redis_server.port

    redis_server.kill()
    assert not redis_server.running
    assert redis_server.returncode == -9
    with pytest.raises(redis.ConnectionError):
        client.ping()

    redis_server.start()
    assert redis_server.port == port
    assert redis_server.url == f"redis://127.0.0.1:{port}/0"
    assert client.get("k") is None
    assert "Ready to accept connections" in redis_server.log_text()
    client.close()


def test_redis_flushall_and_stop(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.set("k", "v")
    redis_server.flushall()
    assert client.dbsize() == 0
    client.close()
    assert redis_server.stop() == 0
    assert not redis_server.running


@pytest.mark.redis
def test_redis_with_aof_keeps_data_across_a_kill(tmp_path: Path) -> None:
    require_binary("redis-server")
    with RedisServer(tmp_path / "aof", "--appendonly", "yes", "--appendfsync", "always") as server:
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        server.kill()
        server.start()
        assert client.get("k") == b"v"
        client.close()
    assert not server.running


def test_redis_start_twice_is_refused(redis_server: RedisServer) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        redis_server.start()


async def test_postgres_url_is_a_fresh_empty_database(postgres_url: str) -> None:
    url = make_url(postgres_url)
    assert url.drivername == "postgresql+asyncpg"
    assert url.database is not None and url.database.startswith("ticker_test_")
    connection = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        assert await connection.fetchval("SELECT current_database()") == url.database
        tables = await connection.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables == 0
        await connection.execute("CREATE TABLE t (x int)")
        await connection.execute("INSERT INTO t VALUES (41), (1)")
        assert await connection.fetchval("SELECT sum(x) FROM t") == 42
    finally:
        await connection.close()


async def test_postgres_database_is_dropped_even_while_connections_are_open(postgres_admin_url: str) -> None:
    async with postgres_database(postgres_admin_url) as url:
        left_open = await asyncpg.connect(asyncpg_dsn(url))
        assert await left_open.fetchval("SELECT 1") == 1
    left_open.terminate()
    admin = await asyncpg.connect(asyncpg_dsn(postgres_admin_url))
    try:
        name = make_url(url).database
        assert await admin.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name) == 0
    finally:
        await admin.close()


def test_sqlite_url(sqlite_url: str, tmp_path: Path) -> None:
    assert sqlite_url == f"sqlite+aiosqlite:///{tmp_path}/ticker.db"
    assert make_url(sqlite_url).database == f"{tmp_path}/ticker.db"


def test_server_process_starts_stops_and_restarts_on_the_same_port(tmp_path: Path, stand_in: tuple[str, ...]) -> None:
    env = {"TICKER_SECRET": "s3cret"}
    with ServerProcess(tmp_path, env, ["--greeting", "hej"], program=stand_in) as server:
        port = server.port
        assert server.url == f"http://127.0.0.1:{port}"
        assert server.ws_url == f"ws://127.0.0.1:{port}/live"
        assert "hej s3cret None" in get(server.url)

        server.kill()
        assert server.returncode == -9
        with pytest.raises(OSError):
            get(server.url)

        server.start()
        assert server.port == port
        assert "hej s3cret" in get(server.url + "/healthz")
    assert not server.running
    assert server.log_text().count(f"stand-in listening on {port}") == 2


def test_server_process_does_not_inherit_ticker_settings(
    tmp_path: Path, stand_in: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKER_SITE_NAME", "from the shell")
    with ServerProcess(tmp_path, program=stand_in) as server:
        assert "hello None None" in get(server.url)


def test_server_process_that_exits_early_reports_its_log(tmp_path: Path) -> None:
    crash = (sys.executable, "-c", "import sys; print('no such database'); sys.exit(3)")
    server = ServerProcess(tmp_path, program=crash)
    with pytest.raises(RuntimeError, match=r"(?s)exited with status 3 .*no such database"):
        server.start()
    assert not server.running


def test_server_process_that_never_gets_ready_is_killed(tmp_path: Path) -> None:
    hang = (sys.executable, "-c", "import time; print('stuck'); time.sleep(60)")
    server = ServerProcess(tmp_path, program=hang, ready_timeout=0.5)
    with pytest.raises(RuntimeError, match=r"(?s)was not ready within 0.5 s.*stuck"):
        server.start()
    assert server.returncode == -9


async def test_browser_reads_a_data_url(browser: Browser) -> None:
    page = await browser.new_page()
    html = "<html><body><p id='x'>Polisjakt i centrum</p></body></html>"
    await page.goto("data:text/html;charset=utf-8," + urllib.parse.quote(html))
    assert await page.text_content("#x") == "Polisjakt i centrum"


async def test_browser_reads_a_page_from_a_local_server(
    browser: Browser, tmp_path: Path, stand_in: tuple[str, ...]
) -> None:
    env = {"TICKER_SECRET": "abc"}
    with ServerProcess(tmp_path, env, ["--greeting", "Göteborg"], program=stand_in) as server:
        page = await browser.new_page()
        response = await page.goto(server.url)
        assert response is not None and response.status == 200
        assert await page.text_content("h1") == "Göteborg abc None"


def test_traceback_catcher_keeps_records_with_a_traceback_only() -> None:
    catcher = TracebackCatcher()
    log = logging.getLogger("ticker.test_support")
    log.addHandler(catcher)
    log.propagate = False  # this test's own traceback is not a node's: keep it from the autouse fixture
    try:
        log.warning("event=listener_failed error=ConnectionError()")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("Exception in ASGI application")
    finally:
        log.removeHandler(catcher)
        log.propagate = True
    assert len(catcher.caught) == 1
    assert "Exception in ASGI application" in catcher.caught[0] and "ValueError: boom" in catcher.caught[0]


def test_tracebacks_in_node_logs_reads_each_child_nodes_log(tmp_path: Path) -> None:
    clean, broken = tmp_path / "ticker-1.log", tmp_path / "ticker-2.log"
    clean.write_text("event=node_started broker=memory\n")
    broken.write_text('event=node_started\nTraceback (most recent call last):\n  File "x.py", line 1\nKeyError: 1\n')
    node_logs[:] = [clean, broken, tmp_path / "never-started.log"]
    try:
        found = tracebacks_in_node_logs()
    finally:
        node_logs.clear()
    assert len(found) == 1 and str(broken) in found[0] and "KeyError: 1" in found[0]


def test_server_process_registers_real_nodes_logs_only(tmp_path: Path, stand_in: tuple[str, ...]) -> None:
    node_logs.clear()
    real = ServerProcess(tmp_path)
    ServerProcess(tmp_path, program=stand_in)
    assert node_logs == [real.log_path]
    node_logs.clear()
