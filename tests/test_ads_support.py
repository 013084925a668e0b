"""The ad slot and the Swish support box (issue 16): an ad slot after every TICKER_AD_EVERY_ENTRIES entries, labelled
"Annons", a sandboxed frame from the ad server (a second loopback origin here); the page itself sets no cookie and
asks no other origin for anything but the ad's frame; the support box's QR code decodes to the configured Swish
number; both in Swedish and English, and absent from embeds unless the partner is allowed."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import zxingcpp
from playwright.async_api import Browser, Page, Request, expect

from tests.support.node import Node, node_settings, running_node
from tests.support.partner_site import PartnerSite
from ticker.http.page_extras import swish_payload

expect.set_options(timeout=15_000)
NUMBER = "1231234567"
# The ad: its own script tries to set a cookie and store something; in the sandbox (an opaque origin) both fail.
AD_PAGE = """<!doctype html><html><body><p class="ad">Köp glass hos Glassbaren!</p><img src="/pixel.gif" alt="">
<script>
let result = "kept";
try { document.cookie = "ad=1; path=/"; if (document.cookie) result = "cookie set"; } catch (e) { result = "refused"; }
document.querySelector(".ad").dataset.cookie = result;
</script></body></html>"""


def frame_src(policy: str) -> list[str]:
    """The sources of a Content-Security-Policy's frame-src directive."""
    for directive in policy.split(";"):
        name, *sources = directive.split()
        if name == "frame-src":
            return sources
    return []


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture
def ad_server() -> Iterator[PartnerSite]:
    with PartnerSite("127.0.0.2") as site:
        site.pages["/slot"] = AD_PAGE
        yield site


async def story(node: Node, entries: int = 5) -> str:
    editor = await node.reporter()
    slug = await editor.incident("Brand i hamnen")
    for n in range(1, entries + 1):
        await editor.post(slug, f"Uppdatering {n}")
    return slug


async def decoded_qr(page: Page) -> str:
    """The support box's QR code as the browser draws it, read by a QR decoder (zxing-cpp)."""
    width, height, pixels = await page.locator("img.swish-qr").evaluate(
        """img => {
          const scale = 3, c = document.createElement("canvas");
          c.width = img.naturalWidth * scale; c.height = img.naturalHeight * scale;
          const ctx = c.getContext("2d");
          ctx.imageSmoothingEnabled = false;
          ctx.drawImage(img, 0, 0, c.width, c.height);
          const rgba = ctx.getImageData(0, 0, c.width, c.height).data;
          const lum = [];
          for (let i = 0; i < rgba.length; i += 4) lum.push(rgba[i]);
          return [c.width, c.height, lum];
        }"""
    )
    data = bytes(pixels)  # kept alive while the decoder reads it
    image = zxingcpp.ImageView(memoryview(data).cast("B", (height, width)), width, height, zxingcpp.ImageFormat.Lum)
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, found
    text: str = found[0].text
    return text


async def test_ad_slots_and_the_support_box_set_no_cookie_and_ask_no_one_else(
    browser: Browser, sqlite_url: str, ad_server: PartnerSite
) -> None:
    ad_url = ad_server.url("/slot")
    settings = node_settings(sqlite_url, ad_url=ad_url, ad_every_entries=2, swish_number=NUMBER)
    async with running_node(settings) as node:
        slug = await story(node)
        context = await browser.new_context(locale="sv-SE", viewport={"width": 800, "height": 3000})
        page = await context.new_page()
        requests: list[Request] = []
        page.on("request", lambda r: requests.append(r))
        response = await page.goto(f"{node.url}/i/{slug}")
        assert response is not None
        policy = response.headers["content-security-policy"]
        assert ad_server.origin in frame_src(policy)  # the ad server may be framed

        # A slot after every second entry, labelled, sandboxed without allow-same-origin, lazy, no referrer.
        kinds = await page.locator("#incident .entries > li").evaluate_all(
            "els => els.map(e => e.classList.contains('ad-slot') ? 'ad' : 'entry')"
        )
        assert kinds == ["entry", "entry", "ad", "entry", "entry", "ad", "entry"]
        slots = page.locator(".ad-slot")
        await expect(slots.locator(".ad-label")).to_have_text(["Annons", "Annons"])
        frame = slots.first.locator("iframe")
        sandbox = (await frame.get_attribute("sandbox") or "").split()
        assert "allow-scripts" in sandbox and "allow-same-origin" not in sandbox
        assert await frame.get_attribute("referrerpolicy") == "no-referrer"
        assert await frame.get_attribute("loading") == "lazy"
        assert await frame.get_attribute("src") == ad_url
        ad = page.frame_locator(".ad-slot iframe").first.locator(".ad")
        await expect(ad).to_have_text("Köp glass hos Glassbaren!")  # the ad's own page, its script ran
        await expect(ad).to_have_attribute("data-cookie", "refused")  # an opaque origin keeps no cookie

        # The support box, its QR code in the Swish app's format with the configured number.
        await expect(page.locator(".support h2")).to_have_text("Stöd vår lokala journalistik")
        await expect(page.locator(".support p")).to_have_text(
            f"Stöd vår lokala journalistik med en Swish till {NUMBER}."
        )
        payload = await decoded_qr(page)
        assert payload == swish_payload(NUMBER, "Gåva") == f"C{NUMBER};;G%C3%A5va;6"

        # No cookie anywhere, and nothing asked of another origin but the ad's frame and what the ad itself loads.
        await page.wait_for_load_state("networkidle")
        assert await context.cookies() == []
        ours = node.url
        foreign = [r for r in requests if origin(r.url) != ours]
        assert foreign, "the ad frame was never requested"
        assert {origin(r.url) for r in foreign} == {ad_server.origin}
        first = foreign[0]
        assert first.url == ad_url and first.resource_type == "document"  # the first foreign request: the frame
        assert all(r.frame.url.startswith(ad_server.origin) for r in foreign if r.resource_type != "document")
        for r in requests:
            if origin(r.url) == ours and (answer := await r.response()) is not None:
                assert "set-cookie" not in answer.headers, r.url
        await context.close()

        async with httpx.AsyncClient(base_url=node.url) as client:
            english = (await client.get(f"/i/{slug}?lang=en")).text
            assert english.count('<p class="ad-label">Advertisement</p>') == 2
            assert f"Support our local journalism with a Swish payment to {NUMBER}." in english
            qr = await client.get("/support/swish.svg")
            assert qr.status_code == 200 and qr.headers["content-type"] == "image/svg+xml"
            assert "set-cookie" not in qr.headers


async def test_without_settings_there_is_no_slot_no_box_and_no_ad_server_framed(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url, ad_every_entries=2)) as node:  # no TICKER_AD_URL: no slot
        slug = await story(node)
        async with httpx.AsyncClient(base_url=node.url) as client:
            page = await client.get(f"/i/{slug}")
            assert "ad-slot" not in page.text and 'class="support"' not in page.text
            assert not any(s.startswith("http://127.0.0.2") for s in frame_src(page.headers["content-security-policy"]))
            missing = await client.get("/support/swish.svg")
            assert missing.status_code == 404 and missing.json()["error"] == "not_found"


async def test_embeds_show_them_only_for_the_partners_allowed(
    browser: Browser, sqlite_url: str, ad_server: PartnerSite
) -> None:
    settings = node_settings(
        sqlite_url, ad_url=ad_server.url("/slot"), ad_every_entries=2, swish_number=NUMBER, ad_partners="gp"
    )
    async with running_node(settings) as node:
        slug = await story(node, entries=4)
        admin = await node.reporter("ada", role="admin")
        for name, site in (("gp", "https://www.gp.se"), ("kommunen", "https://www.goteborg.se")):
            await admin.call("POST", "/api/partners", 201, json={"name": name, "origins": [site]})
        async with httpx.AsyncClient(base_url=node.url) as client:
            allowed = (await client.get(f"/api/embed/{slug}", params={"partner": "gp"})).json()["extras"]
            assert allowed["ad_every"] == 2 and allowed["swish_number"] == NUMBER
            assert allowed["qr_src"].startswith(f"{node.url}/support/swish.svg")
            for query in ({"partner": "kommunen"}, {}):  # another partner, or our own origin: neither
                other = (await client.get(f"/api/embed/{slug}", params=query)).json()["extras"]
                assert other["ad_every"] == 0 and other["swish_number"] == ""
            framed = await client.get(f"/embed/{slug}", params={"partner": "kommunen"})
            assert ad_server.origin not in frame_src(framed.headers["content-security-policy"])
            framed = await client.get(f"/embed/{slug}", params={"partner": "gp"})
            assert ad_server.origin in frame_src(framed.headers["content-security-policy"])

        page = await browser.new_page(locale="sv-SE", viewport={"width": 800, "height": 2000})
        await page.goto(f"{node.url}/embed/{slug}?partner=gp")
        box = page.locator("ticker-live .ticker")
        await expect(box.locator(".conn")).to_have_attribute("data-state", "live")
        await expect(box.locator(".ad-slot .ad-label")).to_have_text(["Annons", "Annons"])
        await expect(box.locator(".support img")).to_have_attribute("src", allowed["qr_src"])
        await page.goto(f"{node.url}/embed/{slug}?partner=kommunen")
        await expect(box.locator(".conn")).to_have_attribute("data-state", "live")
        await expect(box.locator(".entries > .entry")).to_have_count(4)
        assert await box.locator(".ad-slot, .support").count() == 0
        await page.close()
