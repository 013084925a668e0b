"""A node's log in production (issue #14): JSON lines through a Redis outage, request ids, the probes, levels.

A real node (`python -m ticker serve`) with a private redis-server that is killed and started again: every line
it writes to standard error is one JSON object with timestamp, level, event and node; the outage is a WARNING;
/livez answers 200 throughout while /readyz says 503 and names the broker, and both answer 200 once it is back.
"""

from __future__ import annotations

import ast
import json
import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_correlation_id import CorrelationIdFilter
from websockets.asyncio.client import connect

from tests.support.balancer import Balancer
from tests.support.node import node_settings, running_node
from tests.support.services import RedisServer, ServerProcess
from tests.support.waiting import eventually
from ticker.log_format import JsonLines, TextLines, logging_config
from ticker.logs import log_event

ROOT = Path(__file__).resolve().parent.parent
FAILURE_LEVELS = ("logging.WARNING", "logging.ERROR")


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a node's standard error, each of which must be one JSON object with the line's own keys."""
    found = []
    for number, text in enumerate(path.read_text().splitlines(), 1):
        try:
            line = json.loads(text)
        except json.JSONDecodeError:
            pytest.fail(f"{path}:{number} is not JSON: {text!r}")
        assert isinstance(line, dict), text
        assert {"timestamp", "level", "event", "node"} <= line.keys(), text
        assert datetime.fromisoformat(line["timestamp"]).tzinfo is not None, text
        assert line["level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}, text
        found.append(line)
    return found


async def status(client: httpx.AsyncClient, path: str) -> tuple[int, dict[str, Any]]:
    answer = await client.get(path)
    body: dict[str, Any] = answer.json()
    return answer.status_code, body


async def test_json_lines_request_ids_and_probes_through_a_redis_outage(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    stderr = tmp_path / "node-stderr.log"
    env = {
        "TICKER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ticker.db",
        "TICKER_REDIS_URL": redis_server.url,
        "TICKER_ACCESS_LOG": "true",
        "TICKER_LOG_LEVEL": "debug",  # the line per closed reader
        "TICKER_NODE_NAME": "node-a",
        "TICKER_REDIS_TIMEOUT_SECONDS": "1",
        "TICKER_READY_TIMEOUT_SECONDS": "1",
    }
    node = ServerProcess(tmp_path, env, stderr_path=stderr)
    with node:
        async with httpx.AsyncClient(base_url=node.url, timeout=10) as client:
            assert await status(client, "/livez") == (200, {"status": "ok"})
            ready = await status(client, "/readyz")
            assert ready == (200, {"status": "ready", "checks": {"database": {"ok": True}, "broker": {"ok": True}}})

            # A request id given is returned and is in the request's lines; a bad one or none is replaced.
            form = await client.get("/login", headers={"X-Request-ID": "req-form-1"})
            assert form.headers["x-request-id"] == "req-form-1"
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert token is not None
            refused = await client.post(
                "/login",
                data={"name": "nobody", "password": "wrong-password-1", "csrf": token.group(1)},
                headers={
                    "Origin": node.url,
                    "Cookie": f"ticker_login={token.group(1)}",
                    "X-Request-ID": "req-login-2",
                },
            )
            assert refused.status_code == 401 and refused.headers["x-request-id"] == "req-login-2"
            for bad in ("x" * 129, "two words", "semi;colon", 'quote"d'):
                made = (await client.get("/livez", headers={"X-Request-ID": bad})).headers["x-request-id"]
                assert made != bad and re.fullmatch(r"[0-9a-f]{32}", made)
            made = (await client.get("/livez")).headers["x-request-id"]
            assert re.fullmatch(r"[0-9a-f]{32}", made)

            # A reader's session, opened and closed: one DEBUG line.
            async with connect(node.ws_url, open_timeout=10) as reader:
                await reader.send(json.dumps({"type": "subscribe", "incident": "nothing-here"}))
                await reader.recv()

            redis_server.kill()
            await eventually(lambda: _unready(client, "broker"))
            assert (await status(client, "/livez")) == (200, {"status": "ok"})  # never depends on Redis
            await eventually(lambda: '"event": "listener_failed"' in stderr.read_text())

            redis_server.start()
            await eventually(lambda: _ready(client))
            assert (await status(client, "/livez"))[0] == 200
            await eventually(lambda: '"event": "broker_listening"' in stderr.read_text().split("listener_failed")[-1])

    lines = json_lines(stderr)
    assert {line["node"] for line in lines} == {"node-a"}
    events = [line["event"] for line in lines]
    assert "node_started" in events and "node_stopped" in events
    assert any(line["event"] == "log" and line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's too
    failed = [line for line in lines if line["event"] == "listener_failed"]
    assert failed and all(line["level"] == "WARNING" for line in failed)
    assert all(line["level"] in ("DEBUG", "INFO") for line in lines if not line["event"].endswith("_failed"))

    login = [line for line in lines if line["event"] == "login_failed"]
    assert len(login) == 1 and login[0]["request_id"] == "req-login-2" and login[0]["user"] == "nobody"
    access = {line["request_id"]: line for line in lines if line["event"] == "http_request"}
    assert access["req-form-1"]["path"] == "/login" and access["req-form-1"]["status"] == 200
    assert access["req-login-2"]["method"] == "POST" and access["req-login-2"]["status"] == 401
    assert not [line for line in lines if line["event"] != "http_request" and line.get("request_id") == "req-form-1"]

    closed = [line for line in lines if line["event"] == "reader_closed"]
    assert len(closed) == 1 and closed[0]["level"] == "DEBUG"
    assert closed[0]["way"] == "direct" and closed[0]["code"] == 1000 and closed[0]["seconds"] >= 0

    assert node.log_text().startswith("Database: ")  # stdout: what the command says to a person, not the log
    assert '"event"' not in node.log_text()


async def _unready(client: httpx.AsyncClient, failing: str) -> bool:
    code, body = await status(client, "/readyz")
    if code != 503:
        return False
    assert body["status"] == "unready" and body["checks"]["database"] == {"ok": True}, body
    return body["checks"][failing]["ok"] is False and bool(body["checks"][failing]["error"])


async def _ready(client: httpx.AsyncClient) -> bool:
    code, body = await status(client, "/readyz")
    return code == 200 and body["status"] == "ready"


async def test_without_redis_the_probes_ask_only_sql(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node, httpx.AsyncClient(base_url=node.url) as client:
        assert await status(client, "/readyz") == (200, {"status": "ready", "checks": {"database": {"ok": True}}})
        assert (await client.get("/readyz")).headers["cache-control"] == "no-store"


async def test_readyz_says_503_while_the_database_is_away(tmp_path: Path) -> None:
    database = tmp_path / "ticker.db"
    settings = node_settings(f"sqlite+aiosqlite:///{database}")
    async with running_node(settings) as node, httpx.AsyncClient(base_url=node.url) as client:
        await node.services.store.close()  # its pooled connections go; the next one opens the path anew
        database.rename(tmp_path / "moved.db")
        database.mkdir()  # what the store would open is now a directory: SQLite cannot open it
        code, body = await status(client, "/readyz")
        assert code == 503 and body["checks"]["database"]["ok"] is False, body
        assert await status(client, "/livez") == (200, {"status": "ok"})
        database.rmdir()
        (tmp_path / "moved.db").rename(database)
        await eventually(lambda: _ready(client))


async def test_the_access_log_is_off_unless_asked_for(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ticker")
    async with running_node(node_settings(sqlite_url)) as node, httpx.AsyncClient(base_url=node.url) as client:
        assert (await client.get("/livez", headers={"X-Request-ID": "abc.DEF_1-2:3"})).headers[
            "x-request-id"
        ] == "abc.DEF_1-2:3"
    assert not [r for r in caplog.records if getattr(r, "event", None) == "http_request"]


def test_a_line_in_each_format() -> None:
    record = logging.LogRecord("ticker", logging.WARNING, __file__, 1, "event=x", None, None)
    record.event, record.fields = "listener_failed", {"error": 'Refused("a b")', "node": "other", "retry_in": 0.5}
    line = json.loads(JsonLines(node="n1").format(record))
    assert line == {
        "timestamp": line["timestamp"],
        "level": "WARNING",
        "event": "listener_failed",
        "node": "n1",
        "error": 'Refused("a b")',
        "event_node": "other",  # an event's own field does not take the line's key
        "retry_in": 0.5,
    }
    assert line["timestamp"].endswith("Z")
    text = TextLines(node="n1").format(record)
    assert text.endswith(
        ' WARNING event=listener_failed node=n1 error="Refused(\\"a b\\")" event_node=other retry_in=0.5'
    )
    uvicorn = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "Exception in %s", ("app",), None)
    line = json.loads(JsonLines(node="n1").format(uvicorn))
    assert line["event"] == "log" and line["logger"] == "uvicorn.error" and line["message"] == "Exception in app"


def test_the_log_level_and_format_are_settings() -> None:
    config = logging_config("warning", "text", "n1")
    assert config["loggers"]["ticker"]["level"] == "WARNING"
    assert config["formatters"]["lines"] == {"()": "ticker.log_format.TextLines", "node": "n1"}
    assert logging_config()["formatters"]["lines"]["()"] == "ticker.log_format.JsonLines"  # the default


def test_log_event_keeps_its_message_and_skips_what_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ticker")
    log_event("reader_closed", logging.DEBUG, way="direct")
    log_event("janitor_failed", logging.WARNING, error="x y")
    assert [r.getMessage() for r in caplog.records] == ['event=janitor_failed error="x y"']


def _log_events() -> list[tuple[str, str, str | None]]:
    """(file:line, event name, level argument) of every log_event call in the package."""
    found = []
    for path in sorted((ROOT / "ticker").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "log_event" and node.args:
                name = node.args[0]
                event = name.value if isinstance(name, ast.Constant) else ast.unparse(name)
                level = ast.unparse(node.args[1]) if len(node.args) > 1 else None
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", str(event), level))
    return found


# Failures a node recovers from without the word "failed" in their name; WARNING like the rest.
FAILURES = {"broker_gap", "notice_unreadable", "login_slowed", "setting_unknown"}


def test_every_failure_is_logged_at_warning_or_above() -> None:
    calls = _log_events()
    assert len(calls) > 30  # the walk found them
    wrong = [
        (where, event, level)
        for where, event, level in calls
        if (event.endswith("_failed") or event in FAILURES) and level not in FAILURE_LEVELS
    ]
    assert wrong == []
    assert all(level in (None, "logging.DEBUG", *FAILURE_LEVELS) for _, _, level in calls)
    assert {event for _, event, level in calls if level == "logging.DEBUG"} == {"reader_closed"}


async def test_a_closed_reader_is_a_debug_line_that_costs_nothing_when_off(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Off (INFO), a session keeps no start time, so its close computes and logs nothing; at DEBUG, one line."""
    async with running_node(node_settings(sqlite_url)) as node:
        for level, lines in ((logging.INFO, 0), (logging.DEBUG, 1)):
            caplog.set_level(level, logger="ticker")
            caplog.clear()
            async with connect(node.ws_url, open_timeout=10):
                await eventually(lambda: len(node.services.hub.readers) == 1)
                (reader,) = node.services.hub.readers
                session = reader.sink._on_lost.__self__  # type: ignore[attr-defined]  # the LiveSession
                assert (session.since > 0) == (level == logging.DEBUG)
            await eventually(lambda: not node.services.hub.readers)
            closed = [r for r in caplog.records if getattr(r, "event", None) == "reader_closed"]
            assert len(closed) == lines
        assert closed[0].fields == {
            "way": "direct",
            "seconds": closed[0].fields["seconds"],
            "code": 1000,
            "partner": None,
        }  # type: ignore[attr-defined]

        # An SSE reader's too, with the request id of the request that opened its stream.
        caplog.handler.addFilter(CorrelationIdFilter())  # as a node's handler has it (ticker.log_format)
        slug = await (await node.reporter()).incident()
        headers = {"X-Request-ID": "sse-reader-1"}
        async with (
            httpx.AsyncClient(base_url=node.url, timeout=10) as client,
            client.stream("GET", f"/sse/{slug}", headers=headers) as stream,
        ):
            await anext(stream.aiter_bytes())  # the stream is open
        await eventually(lambda: any(getattr(r, "event", None) == "reader_closed" for r in caplog.records[1:]))
    (sse,) = [r for r in caplog.records[1:] if getattr(r, "event", None) == "reader_closed"]
    assert sse.fields["way"] == "sse" and sse.fields["code"] is None  # type: ignore[attr-defined]  # it left
    assert sse.correlation_id == "sse-reader-1"  # type: ignore[attr-defined]


async def test_nginx_hands_the_node_its_request_id_and_logs_it_as_json(tmp_path: Path, sqlite_url: str) -> None:
    """deploy/nginx.conf passes the client's X-Request-ID, or its own id, to the node, and logs it in one JSON
    line per request, so a line of the balancer and the lines of the node it reached share the id."""
    async with running_node(node_settings(sqlite_url)) as node, httpx.AsyncClient(timeout=10) as client:
        with Balancer(tmp_path / "nginx", [node.url.removeprefix("http://")]) as nginx:
            given = await client.get(f"{nginx.url}/livez", headers={"X-Request-ID": "from-the-client-1"})
            made = await client.get(f"{nginx.url}/readyz")
            await eventually(lambda: nginx.log_text().count('"event":"http_request"') >= 2)
    assert given.headers["x-request-id"] == "from-the-client-1"
    made_id = made.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made_id)  # nginx's $request_id, which the node took
    lines = [json.loads(line) for line in nginx.log_text().splitlines() if line.startswith("{")]
    assert {(line["path"], line["request_id"], line["status"]) for line in lines} >= {
        ("/livez", "from-the-client-1", 200),
        ("/readyz", made_id, 200),
    }
