from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser

from tests.support.browser import launch_chromium
from tests.support.services import RedisServer, postgres_database, require_binary, unavailable
from tests.support.tracebacks import TracebackCatcher, node_logs, tracebacks_in_node_logs

# A test that uses one of these fixtures gets the marker of the same name, so `-m "not browser"` works.
MARKED_FIXTURES = {
    "redis_server": "redis",
    "postgres_admin_url": "postgres",
    "postgres_url": "postgres",
    "browser": "browser",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in set(MARKED_FIXTURES) & set(getattr(item, "fixturenames", ())):
            item.add_marker(MARKED_FIXTURES[fixture])


@pytest.fixture(autouse=True)
def no_tracebacks() -> Iterator[None]:
    """Fails a test during which any node logged a Python traceback, in this process or as a child process."""
    catcher = TracebackCatcher()
    root = logging.getLogger()
    root.addHandler(catcher)
    node_logs.clear()
    try:
        yield
    finally:
        root.removeHandler(catcher)
    found = catcher.caught + tracebacks_in_node_logs()
    node_logs.clear()
    if found:
        pytest.fail("a node logged a traceback:\n" + "\n\n".join(found), pytrace=False)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private, empty redis-server on a free port; `.kill()` and `.start()` it to test outages."""
    require_binary("redis-server")
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def postgres_admin_url() -> str:
    """TICKER_TEST_POSTGRES_URL, where tests may create databases (`postgres_url`, `postgres_database()`)."""
    url = os.environ.get("TICKER_TEST_POSTGRES_URL")
    if not url:
        unavailable("TICKER_TEST_POSTGRES_URL is not set (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres)")
    return url


@pytest.fixture
async def postgres_url(postgres_admin_url: str) -> AsyncIterator[str]:
    """The SQLAlchemy URL of a new, empty PostgreSQL database, dropped after the test."""
    async with postgres_database(postgres_admin_url) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/ticker.db"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Debian chromium, new for each test; open pages with `await browser.new_page()`."""
    async with launch_chromium() as chromium:
        yield chromium
