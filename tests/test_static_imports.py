"""What /static knows of the scripts' imports: the modules a page preloads (the desk's offline cache keeps what
the page names), and the files a script fetches, named by their hashed URLs and answered with CORS like scripts."""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from tests.support.node import node_settings
from ticker.http.static import Assets, Static


def files(tmp_path: Path) -> Assets:
    (tmp_path / "page.js").write_text('import { a } from "./a.js";\nimport "./b.js";\nconsole.log(a);\n')
    (tmp_path / "a.js").write_text('import { c } from "./c.js";\nexport const a = c;\n')
    (tmp_path / "b.js").write_text('import { c } from "./c.js";\nconsole.log(c);\n')
    (tmp_path / "c.js").write_text("export const c = 1;\n")
    (tmp_path / "embed.js").write_text('const BASE = "";\nfetch(`${BASE}/static/cards.css`);\n')
    (tmp_path / "cards.css").write_text(".link-card { margin: 0; }\n")
    (tmp_path / "page.css").write_text("body { margin: 0; }\n")
    return Assets(tmp_path)


def test_a_page_preloads_every_module_its_script_imports_once(tmp_path: Path) -> None:
    assets = files(tmp_path)
    assert assets.imported_urls("page.js") == [assets.url("a.js"), assets.url("b.js"), assets.url("c.js")]
    assert assets.imported_urls("c.js") == []
    assert assets.imported_urls("embed.js") == []  # a stylesheet it fetches is no module to preload


async def test_a_file_a_script_fetches_is_named_by_its_hash_and_served_with_cors(tmp_path: Path) -> None:
    assets = files(tmp_path)
    assert f"fetch(`${{BASE}}{assets.url('cards.css')}`)" in assets.files["embed.js"].body.decode()
    app = Starlette(routes=[Mount("/static", Static(node_settings("sqlite+aiosqlite://"), assets))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for name, cors in (("cards.css", True), ("c.js", True), ("page.css", False)):
            response = await client.get(assets.url(name))
            assert response.status_code == 200
            assert (response.headers.get("access-control-allow-origin") == "*") is cors, name
