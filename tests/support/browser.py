"""Debian's chromium driven through Playwright's async API; Playwright never downloads a browser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Browser, async_playwright

from .services import require_binary

# As root, without a screen, and quiet on a machine whose only network is loopback.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@asynccontextmanager
async def launch_chromium() -> AsyncIterator[Browser]:
    """Launch /usr/bin/chromium (whatever `chromium` is on PATH); skip the test where there is none."""
    executable = require_binary("chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            await browser.close()
