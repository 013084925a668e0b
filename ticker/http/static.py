"""/static: our scripts, styles and images, under content-hashed URLs a browser or CDN keeps for a year.

Templates name a file through one helper, ``static("reader.js")``, which gives ``/static/reader.<hash>.js``; that
URL is answered with ``Cache-Control: public, max-age=31536000, immutable``, since a changed file gets another
hash. The hash is of the file as served, and JavaScript modules are served with their import specifiers
rewritten to their imports' hashed URLs (``from "./live.js"`` becomes ``from "./live.<hash>.js"``, and embed.js's
``import(`${BASE}/static/live.js`)`` likewise), so a module's hash covers everything it imports: a page never
runs a new reader.js against an old live.js or the other way round, and no module needs a revalidation round
trip. Only import specifiers are rewritten (``from "./x"``, ``import "./x"``, ``import(… "/static/x")``), and a
fetch of one of our files (embed.js's ``fetch(`${BASE}/static/cards.css`)``); a file that names another in any
other way (newsroom.js's offline cache reads the page's own <script> and <link>s) does not depend on it.

A file's plain URL (``/static/embed.js``: what partners paste, and must keep working across releases) is served
too, with the pages' short ``cache_max_age`` and an ETag. A hashed URL this node does not know (a page rendered
by a node of another release, during a rolling deploy) is answered with the current file and ``no-cache``, so
nothing breaks and nothing wrong is kept for a year.

Text files are also kept compressed (brotli quality 11 and gzip level 9, made once per file and encoding, off
the event loop, the first time a client asks) and answered as such to clients that accept it.

Scripts, and the files a script fetches, may be fetched from any origin with CORS: embed.js, on a partner's page,
imports live.js as a module and fetches cards.css for its shadow root, and a module or a fetch from another origin
loads only with CORS. They are the same public files for everyone; who may read an incident is decided by
/api/embed and /live.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
import brotli
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ticker.assets import STATIC
from ticker.config import Settings
from ticker.http.compression import compressible, negotiate

PREFIX = "/static/"
HASH_CHARS = 10
HASHED = re.compile(rf"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{{{HASH_CHARS}}})(?P<suffix>\.[A-Za-z0-9]+)$")
IMMUTABLE = "public, max-age=31536000, immutable"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
# An import specifier naming a file of ours: `from "./x.js"`, `import "./x.js"`, `import("./x.js")`, or a dynamic
# import (or a fetch) of an address ending in /static/x.js (embed.js builds it from its own origin).
IMPORT = re.compile(
    r"""(?P<head>\bfrom\s*|\bimport\s*\(?\s*|\bfetch\(\s*)(?P<quote>["'`])(?P<base>[^"'`\n]*?/static/|\./)(?P<name>[\w.-]+)(?P=quote)"""
)
ENCODINGS = {"br": "br", "gzip": "gz"}  # coding → the suffix of its ETag


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    digest: str
    content_type: str
    imports: tuple[str, ...] = ()  # the files of ours it imports or fetches (a script), each by name

    @property
    def url(self) -> str:
        stem, dot, suffix = self.name.rpartition(".")
        return f"{PREFIX}{stem}.{self.digest}{dot}{suffix}" if dot else f"{PREFIX}{self.name}.{self.digest}"

    @property
    def text(self) -> bool:
        return compressible(self.content_type)


class Assets:
    """The files of a static directory as served: bodies (imports rewritten), hashes and hashed URLs."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        sources = {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file() and p.name[0] != "."}
        self.files: dict[str, Asset] = {}
        for name in sources:
            self._build(name, sources, ())
        # What scripts load: with CORS, as the scripts themselves (embed.js loads them on partners' pages).
        self.loaded_by_scripts = frozenset(n for a in self.files.values() for n in a.imports)
        self.version = hashlib.blake2b(
            "".join(f"{a.name}:{a.digest}\n" for a in self.files.values()).encode(), digest_size=8
        ).hexdigest()

    def _build(self, name: str, sources: dict[str, bytes], importing: tuple[str, ...]) -> Asset:
        if name in self.files:
            return self.files[name]
        if name in importing:
            cycle = " → ".join((*importing[importing.index(name) :], name))
            raise ValueError(f"static modules import each other in a cycle ({cycle}): hashed URLs need none")
        body = sources[name]
        suffix = Path(name).suffix
        imports: list[str] = []
        if suffix in (".js", ".mjs"):

            def hashed(match: re.Match[str]) -> str:
                imported = match["name"]
                if imported not in sources or imported == name:
                    return match[0]
                imports.append(imported)
                url = self._build(imported, sources, (*importing, name)).url
                target = url.removeprefix(PREFIX)
                return f"{match['head']}{match['quote']}{match['base']}{target}{match['quote']}"

            body = IMPORT.sub(hashed, body.decode()).encode()
        digest = hashlib.sha256(body).hexdigest()[:HASH_CHARS]
        content_type = TYPES.get(suffix, "application/octet-stream")
        found = self.files[name] = Asset(name, body, digest, content_type, tuple(dict.fromkeys(imports)))
        return found

    def url(self, name: str) -> str:
        """The hashed URL of a file; a name that is not a file of ours is a mistake in a template."""
        try:
            return self.files[name].url
        except KeyError:
            raise LookupError(f"no static file {name!r} in {self.directory}") from None

    def imported_urls(self, name: str) -> list[str]:
        """The hashed URLs of every module a module imports, directly or not, each once: what a page preloads
        (the desk's offline cache keeps what the page names)."""
        seen: dict[str, None] = {}
        waiting = list(self.files[name].imports)
        while waiting:
            imported = waiting.pop(0)
            if imported not in seen:
                seen[imported] = None
                waiting.extend(self.files[imported].imports)
        return [self.files[n].url for n in seen if n.endswith((".js", ".mjs"))]

    def find(self, requested: str) -> tuple[Asset, bool | None] | None:
        """The file a request names, and whether by its current hash (True), another hash (False), or by its
        plain name (None)."""
        if requested in self.files:
            return self.files[requested], None
        match = HASHED.match(requested)
        if match is None:
            return None
        found = self.files.get(match["stem"] + match["suffix"])
        if found is None:
            return None
        return found, match["digest"] == found.digest


@functools.cache
def assets() -> Assets:
    """The installation's static files, read once per process (a new release is a new process)."""
    return Assets(STATIC)


def static_url(name: str) -> str:
    """``static("reader.js")`` in a template: the file's hashed, immutable URL."""
    return assets().url(name)


def static_imports(name: str) -> list[str]:
    """``static_imports("newsroom.js")`` in a template: the hashed URLs of the modules it imports, to preload."""
    return assets().imported_urls(name)


def _compress(body: bytes, coding: str) -> bytes:
    if coding == "br":
        squeezed: bytes = brotli.compress(body, mode=brotli.MODE_TEXT, quality=11)
        return squeezed
    return gzip.compress(body, 9, mtime=0)


class Static:
    """The ASGI app mounted at /static (GET and HEAD)."""

    def __init__(self, settings: Settings, files: Assets | None = None) -> None:
        self.settings = settings
        self._files = files
        self._compressed: dict[tuple[str, str], asyncio.Future[bytes]] = {}

    @property
    def files(self) -> Assets:
        return self._files or assets()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # a websocket to /static/…
            raise HTTPException(404)
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        found = self.files.find(_mounted_path(scope).lstrip("/"))
        if found is None:
            raise HTTPException(404)
        asset, current = found
        request_headers = Headers(scope=scope)
        coding = negotiate(request_headers.get("accept-encoding", "")) if asset.text else None
        if coding is not None and len(asset.body) < self.settings.compress_min_bytes:
            coding = None
        tag = f'"{asset.digest}-{ENCODINGS[coding]}"' if coding else f'"{asset.digest}"'
        if current is None:  # its plain name: what a partner's page loads, kept as briefly as a page
            caching = f"public, max-age={self.settings.cache_max_age}"
        else:  # a hash of another release is not this file: revalidated each time, never kept for a year
            caching = IMMUTABLE if current else "no-cache"
        headers = {"ETag": tag, "Cache-Control": caching}
        if asset.text:
            headers["Vary"] = "Accept-Encoding"
        if asset.name.endswith((".js", ".mjs")) or asset.name in self.files.loaded_by_scripts:
            headers["Access-Control-Allow-Origin"] = "*"
        if _matches(request_headers.get("if-none-match"), tag):
            await Response(status_code=304, headers=headers)(scope, receive, send)
            return
        body = asset.body if coding is None else await self._encoded(asset, coding)
        if coding is not None:
            headers["Content-Encoding"] = coding
        response = Response(body, headers=headers, media_type=asset.content_type)
        if scope["method"] == "HEAD":
            response.body = b""  # Content-Length stays that of the body a GET gets
        await response(scope, receive, send)

    async def _encoded(self, asset: Asset, coding: str) -> bytes:
        """The file compressed, made once (in a thread: brotli's best quality takes a while) and then kept."""
        key = (asset.name, coding)
        made = self._compressed.get(key)
        if made is None:
            made = self._compressed[key] = asyncio.ensure_future(
                anyio.to_thread.run_sync(_compress, asset.body, coding)
            )
        try:
            return await asyncio.shield(made)
        except Exception:
            if self._compressed.get(key) is made:
                del self._compressed[key]  # the next request tries again
            raise


def _mounted_path(scope: Scope) -> str:
    """The request's path below the mount point (starlette leaves ``path`` whole and extends ``root_path``)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _matches(if_none_match: str | None, tag: str) -> bool:
    if if_none_match is None:
        return False
    theirs = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in theirs or tag in theirs
