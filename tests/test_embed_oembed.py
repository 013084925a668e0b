"""oEmbed: a CMS pastes an incident's URL and gets the iframe embed; the incident page announces the endpoint."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.node import Node, node_settings, running_node


@pytest.fixture
async def node(sqlite_url: str) -> AsyncIterator[Node]:
    async with running_node(node_settings(sqlite_url, site_name="Nyheterna")) as running:
        yield running


async def test_oembed_answers_for_our_incident_urls_and_404_for_any_other(node: Node) -> None:
    reporter = await node.reporter()
    slug = await reporter.incident("Brand i hamnen")
    async with httpx.AsyncClient(base_url=node.url, trust_env=False) as http:
        for url in (f"{node.url}/i/{slug}", f"{node.url}/i/{slug}/?lang=en#entry-3", f"{node.url}/embed/{slug}"):
            response = await http.get("/oembed", params={"url": url, "format": "json"})
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "application/json"
            body = response.json()
            assert body["version"] == "1.0" and body["type"] == "rich"
            assert body["title"] == "Brand i hamnen" and body["provider_name"] == "Nyheterna"
            assert body["provider_url"] == node.url + "/"
            assert (body["width"], body["height"]) == (600, 600)
            assert f'<iframe src="{node.url}/embed/{slug}" width="600" height="600"' in body["html"]

        small = (await http.get("/oembed", params={"url": f"{node.url}/i/{slug}", "maxwidth": 320})).json()
        assert small["width"] == 320 and 'width="320"' in small["html"]

        foreign = [
            f"https://news.example/i/{slug}",
            f"http://127.0.0.2:{node.url.rsplit(':', 1)[1]}/i/{slug}",
            f"{node.url}/i/finns-inte",
            f"{node.url}/healthz",
            f"{node.url}/i/{slug}/e/1",
            "not a url",
        ]
        for url in foreign:
            response = await http.get("/oembed", params={"url": url})
            assert response.status_code == 404, url
            assert response.json()["error"] == "not_found"

        assert (await http.get("/oembed")).json()["field"] == "url"
        xml = await http.get("/oembed", params={"url": f"{node.url}/i/{slug}", "format": "xml"})
        assert xml.status_code == 501 and xml.json()["field"] == "format"
        wide = await http.get("/oembed", params={"url": f"{node.url}/i/{slug}", "maxwidth": "wide"})
        assert wide.status_code == 422 and wide.json()["field"] == "maxwidth"


async def test_the_incident_page_links_to_its_oembed(node: Node) -> None:
    reporter = await node.reporter()
    slug = await reporter.incident("Brand i hamnen")
    async with httpx.AsyncClient(base_url=node.url, trust_env=False) as http:
        page = (await http.get(f"/i/{slug}")).text
        found = re.search(r'<link rel="alternate" type="application/json\+oembed"[^>]* href="([^"]+)"', page)
        assert found is not None
        discovered = await http.get(html.unescape(found.group(1)))
        assert discovered.status_code == 200
        assert discovered.json()["html"].startswith(f'<iframe src="{node.url}/embed/{slug}"')
