"""Compression and caching (issue #14): brotli or gzip on every text type a client may ask for, never on SSE (an
event still arrives at once) or below the threshold; /static under content-hashed URLs kept for a year, their
module imports rewritten to hashed URLs too, and the pages naming them."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import brotli
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.support.node import Node, node_settings, running_node
from tests.support.services import free_port
from ticker.config import Settings
from ticker.config_check import SettingsError, check
from ticker.http.compression import Compression, negotiate
from ticker.http.static import IMMUTABLE, Assets

DECODE: dict[str, Callable[[bytes], bytes]] = {"br": brotli.decompress, "gzip": gzip.decompress}
ENTRY = "Polisen har spärrat av området kring centralstationen och leder om trafiken via Kungsgatan. " * 3


@asynccontextmanager
async def raw_client(url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client that leaves bodies as sent: what arrives on the wire is what the test reads."""
    async with httpx.AsyncClient(base_url=url, timeout=15, trust_env=False) as client:
        yield client


async def raw(client: httpx.AsyncClient, path: str, encoding: str, **headers: str) -> httpx.Response:
    """GET ``path`` accepting ``encoding``; the response's ``content`` is the body as it came over the wire."""
    request = client.build_request("GET", path, headers={"Accept-Encoding": encoding, **headers})
    response = await client.send(request, stream=True)
    response._content = b"".join([chunk async for chunk in response.aiter_raw()])
    await response.aclose()
    return response


@asynccontextmanager
async def incident_node(sqlite_url: str, **settings: Any) -> AsyncIterator[tuple[Node, str]]:
    async with running_node(node_settings(sqlite_url, **settings)) as node:
        editor = await node.reporter()
        slug = await editor.incident("Polisjakt genom centrum", summary="En bil flydde från en kontroll.")
        for n in range(8):
            await editor.post(slug, f"{n}: {ENTRY}")
        yield node, slug


@pytest.mark.parametrize("coding", ["br", "gzip"])
async def test_every_text_type_is_compressed_for_a_client_that_accepts_it(sqlite_url: str, coding: str) -> None:
    async with incident_node(sqlite_url) as (node, slug), raw_client(node.url) as client:
        page = (await raw(client, f"/i/{slug}", "identity")).text
        script, style = _static_url(page, "reader", "js"), _static_url(page, "ticker", "css")
        paths = {
            "text/html": f"/i/{slug}",
            "application/json": f"/api/incidents/{slug}",
            "text/javascript": script,
            "text/css": style,
            "application/atom+xml": f"/i/{slug}/feed.atom",
        }
        for media, path in paths.items():
            plain = await raw(client, path, "identity")
            squeezed = await raw(client, path, f"{coding}, deflate;q=0.5")
            assert plain.headers["content-type"].startswith(media), (path, plain.headers["content-type"])
            assert "content-encoding" not in plain.headers, path
            assert squeezed.headers["content-encoding"] == coding, path
            assert "Accept-Encoding" in squeezed.headers["vary"], path
            assert DECODE[coding](squeezed.content) == plain.content, path
            assert len(squeezed.content) < len(plain.content) / 2, (path, len(squeezed.content), len(plain.content))


async def test_the_reader_page_of_fifty_entries_is_a_tenth_of_its_size_in_brotli(sqlite_url: str) -> None:
    """The issue's measure: a 50-entry reader page (~70 KB) under 10 KB as it travels (docs/benchmarks.md)."""
    async with running_node(node_settings(sqlite_url)) as node, raw_client(node.url) as client:
        editor = await node.reporter()
        slug = await editor.incident("Polisjakt genom centrum")
        for n in range(50):
            await editor.post(slug, f"Uppdatering {n}: " + ENTRY[: 150 + n])
        plain = await raw(client, f"/i/{slug}", "identity")
        squeezed = await raw(client, f"/i/{slug}", "br, gzip")
    assert len(plain.content) > 60_000
    assert squeezed.headers["content-encoding"] == "br"
    assert len(squeezed.content) < 10_000, len(squeezed.content)


async def test_small_answers_and_refused_codings_go_as_they_are(sqlite_url: str) -> None:
    async with incident_node(sqlite_url, compress_min_bytes=100_000) as (node, slug), raw_client(node.url) as client:
        small = await raw(client, f"/i/{slug}", "br, gzip")  # ~20 KB: below this node's threshold
        assert "content-encoding" not in small.headers and b"<html" in small.content
    async with incident_node(sqlite_url.replace(".db", "-2.db")) as (node, slug), raw_client(node.url) as client:
        viewers = await raw(client, f"/i/{slug}/viewers", "br, gzip")  # a few bytes of JSON
        assert "content-encoding" not in viewers.headers and json.loads(viewers.content)["viewers"] == 0
        refused = await raw(client, f"/i/{slug}", "br;q=0, gzip;q=0")
        assert "content-encoding" not in refused.headers and b"<html" in refused.content
        logo = await raw(client, "/static/logo.png", "br, gzip")  # a PNG is compressed already
        assert "content-encoding" not in logo.headers and logo.content.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("compress_brotli_quality", 12),
        ("compress_gzip_level", 0),
        ("compress_gzip_level", 10),
        ("compress_min_bytes", -1),
    ],
)
def test_compression_settings_outside_their_range_are_refused(name: str, value: int) -> None:
    with pytest.raises(SettingsError, match=f"TICKER_{name.upper()}"):
        check(Settings(**{name: value}))
    assert Settings.from_env({"TICKER_COMPRESS_MIN_BYTES": "2048"}).compress_min_bytes == 2048


def test_accept_encoding_is_read_with_its_weights() -> None:
    assert negotiate("gzip, deflate, br") == "br"
    assert negotiate("gzip") == "gzip"
    assert negotiate("br;q=0, gzip") == "gzip"
    assert negotiate("br;q=0.2, gzip;q=0.8") == "gzip"
    assert negotiate("*") == "br"
    assert negotiate("*;q=0.5, br;q=0") == "gzip"
    assert negotiate("identity") is None
    assert negotiate("") is None
    assert negotiate("gzip;q=nonsense") is None


async def test_an_sse_event_arrives_at_once_and_uncompressed(sqlite_url: str) -> None:
    """Through the middleware, with a client that accepts both codings: the stream is left as it is, so an event
    posted while it is open is read before the stream ends (a buffering middleware would hold it back)."""
    async with incident_node(sqlite_url) as (node, slug), raw_client(node.url) as client:
        editor = node.clients[0]
        headers = {"Accept-Encoding": "br, gzip", "Accept": "text/event-stream"}
        async with client.stream("GET", f"/sse/{slug}", headers=headers) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert "content-encoding" not in stream.headers
            chunks = stream.aiter_raw()
            seen = b""
            while b"retry:" not in seen:
                seen += await anext(chunks)
            posted = await editor.post(slug, "Nu släpps trafiken på igen.")

            async def event() -> bytes:
                found = b""
                while b"Nu sl\xc3\xa4pps trafiken" not in found:
                    found += await anext(chunks)
                return found

            data = await asyncio.wait_for(event(), 20)
        assert f'"id":{posted["entry"]["id"]}'.encode() in data


async def test_a_streamed_answer_is_compressed_chunk_by_chunk() -> None:
    """A compressible stream is not held back: each chunk is flushed, so the first decodes before the second is
    even produced."""
    second = asyncio.Event()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first chunk " * 200
        await second.wait()
        yield b"second chunk " * 200

    async def streamed(_request: Request) -> Response:
        return StreamingResponse(chunks(), media_type="text/plain")

    async def svg(_request: Request) -> Response:
        return Response(
            "<svg xmlns='http://www.w3.org/2000/svg'>" + "<g/>" * 500 + "</svg>", media_type="image/svg+xml"
        )

    async def tagged(_request: Request) -> Response:
        return Response("x" * 5000, media_type="text/plain", headers={"ETag": '"strong"'})

    middleware = [Middleware(Compression, minimum_size=1024, brotli_quality=5, gzip_level=6)]
    routes = [Route("/stream", streamed), Route("/image.svg", svg), Route("/tagged", tagged)]
    async with serving(Starlette(routes=routes, middleware=middleware)) as url, raw_client(url) as client:
        for coding in ("br", "gzip"):
            second.clear()
            async with client.stream("GET", "/stream", headers={"Accept-Encoding": coding}) as stream:
                assert stream.headers["content-encoding"] == coding
                decoder = brotli.Decompressor() if coding == "br" else _GzipStream()
                got = b""
                async for chunk in stream.aiter_raw():
                    got += decoder.process(chunk)
                    if got == b"first chunk " * 200:
                        second.set()  # only now is the second chunk made
                    if got.endswith(b"second chunk " * 200):
                        break
            assert got == b"first chunk " * 200 + b"second chunk " * 200
            image = await raw(client, "/image.svg", coding)
            assert image.headers["content-encoding"] == coding and DECODE[coding](image.content).startswith(b"<svg")
            strong = await raw(client, "/tagged", coding)
            assert strong.headers["etag"] == 'W/"strong"'  # another representation: no longer byte-for-byte
        assert (await raw(client, "/tagged", "identity")).headers["etag"] == '"strong"'


class _GzipStream:
    def __init__(self) -> None:
        import zlib

        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def process(self, chunk: bytes) -> bytes:
        return self._inflate.decompress(chunk)


@asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


# Static files under hashed URLs.


def _static_url(page: str, stem: str, suffix: str) -> str:
    found = re.search(rf'"(/static/{stem}\.[0-9a-f]{{10}}\.{suffix})"', page)
    assert found is not None, f"no hashed {stem}.{suffix} in the page"
    return found.group(1)


async def test_pages_name_hashed_static_files_kept_for_a_year(sqlite_url: str) -> None:
    async with incident_node(sqlite_url) as (node, slug), raw_client(node.url) as client:
        for path in ("/", f"/i/{slug}", f"/embed/{slug}"):
            page = (await client.get(path)).text
            named = re.findall(r'(?:src|href)="(/static/[^"]*)"', page)
            assert named and all(re.fullmatch(r"/static/[\w-]+\.[0-9a-f]{10}\.\w+", n) for n in named), (path, named)
        page = (await client.get(f"/i/{slug}")).text
        script = await client.get(_static_url(page, "reader", "js"))
        style = await client.get(_static_url(page, "ticker", "css"))
        for answer in (script, style):
            assert answer.status_code == 200 and answer.headers["cache-control"] == IMMUTABLE
        # reader.js imports live.js by its hashed URL, itself kept for a year.
        imported = re.search(r'from "\./(live\.[0-9a-f]{10}\.js)"', script.text)
        assert imported is not None and 'from "./live.js"' not in script.text
        live = await client.get(f"/static/{imported.group(1)}")
        assert live.headers["cache-control"] == IMMUTABLE and "export function follow" in live.text
        assert live.headers["access-control-allow-origin"] == "*"  # embed.js imports it from partners' pages

        # The plain name partners paste: the pages' short cache, and live.js by its hashed URL inside.
        embed = await client.get("/static/embed.js")
        assert embed.headers["cache-control"] == "public, max-age=5"
        assert f"/static/{imported.group(1)}`" in embed.text

        # A copy of the client's current: 304. A hash of another release: the current file, not kept.
        again = await client.get(str(live.url), headers={"If-None-Match": live.headers["etag"]})
        assert again.status_code == 304 and again.headers["cache-control"] == IMMUTABLE
        other = await client.get("/static/live.0123456789.js")
        assert other.status_code == 200 and other.headers["cache-control"] == "no-cache" and other.text == live.text
        assert (await client.get("/static/nothing.0123456789.js")).status_code == 404
        assert (await client.get("/static/../ticker/app.py")).status_code == 404
        head = await client.head(str(script.url))
        assert head.headers["content-length"] == script.headers["content-length"] and head.content == b""

        # The desk names its files the same way, and preloads live.js for its offline cache (newsroom.js).
        desk_page = (await client.get("/login")).text
        assert _static_url(desk_page, "ticker", "css")


def test_a_module_hash_covers_the_modules_it_imports(tmp_path: Path) -> None:
    """Changing live.js changes reader.js's URL too: no page can pair a new reader.js with an old live.js."""
    (tmp_path / "live.js").write_text("export const version = 1;\n")
    (tmp_path / "reader.js").write_text('import { version } from "./live.js";\nconsole.log(version);\n')
    (tmp_path / "site.css").write_text("body { color: black; }\n")
    before = Assets(tmp_path)
    (tmp_path / "live.js").write_text("export const version = 2;\n")
    after = Assets(tmp_path)
    assert after.url("live.js") != before.url("live.js")
    assert after.url("reader.js") != before.url("reader.js")
    assert after.url("site.css") == before.url("site.css")
    assert after.version != before.version
    assert after.files["reader.js"].body.decode().startswith(f'import {{ version }} from ".{after.url("live.js")[7:]}"')

    (tmp_path / "live.js").write_text('import "./reader.js";\n')
    with pytest.raises(ValueError, match="cycle"):
        Assets(tmp_path)


async def test_a_page_etag_names_the_static_files_release(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A browser holding a page from before a release must not be told 304: its copy names the old files."""
    from ticker.http import render, static

    async with incident_node(sqlite_url) as (node, slug), raw_client(node.url) as client:
        first = await client.get(f"/i/{slug}")
        assert (await client.get(f"/i/{slug}", headers={"If-None-Match": first.headers["etag"]})).status_code == 304
        release = Assets(static.assets().directory)
        monkeypatch.setattr(release, "version", "another-release")
        monkeypatch.setattr(render, "assets", lambda: release)
        after = await client.get(f"/i/{slug}", headers={"If-None-Match": first.headers["etag"]})
        assert after.status_code == 200 and after.headers["etag"] != first.headers["etag"]
