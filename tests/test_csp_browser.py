"""Every page in Chromium with its Content-Security-Policy in force (issue 11): no violation is reported, neither in
the console nor as a ``securitypolicyviolation`` event, on the reader page (over the websocket and over SSE), the
permalink, the front page, search, login, the newsroom's desk, and both embeds on a partner's page; and each page
still works live. On every page a control shows that the policy is on and that the watch would see a violation:
an inline script added to the page is refused, and reported."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Frame, Page, WebSocketRoute, expect

from tests.support.newsroom import PASSWORD, entry, login_in, person
from tests.support.node import Node, Reporter, node_settings, running_node
from tests.support.partner_site import PartnerSite
from tests.support.photos import phone_jpeg
from tests.support.waiting import eventually

expect.set_options(timeout=15_000)

# Runs in every frame before the page's own scripts (Playwright's init scripts are not subject to the page's CSP).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.reportViolation({directive: e.effectiveDirective, blocked: e.blockedURI, document: e.documentURI,
                          source: e.sourceFile, line: e.lineNumber, sample: e.sample});
}, true);
"""
# The control: an inline script, which no page's policy allows. Returns whether it ran.
INLINE_SCRIPT = """() => {
  const script = document.createElement("script");
  script.textContent = "window.inlineScriptRan = true";
  document.body.append(script);
  return window.inlineScriptRan === true;
}"""
PHOTO = "https://bilder.example/hamnen.jpg"  # hot-linked from an https: address, as photos are


@dataclass
class Watch:
    """What a browser context reports about CSP: violation events from any frame, and console messages."""

    violations: list[dict[str, Any]] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    @classmethod
    async def on(cls, context: BrowserContext) -> Watch:
        watch = cls()
        await context.expose_binding("reportViolation", lambda _source, report: watch.violations.append(report))
        await context.add_init_script(REPORT_VIOLATIONS)
        context.on("console", watch.heard)
        return watch

    def heard(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    async def clean(self, where: Page | Frame) -> None:
        """No violation so far; then the control on ``where``: an inline script is refused, and seen refused."""
        assert (self.violations, self.console) == ([], []), where.url
        assert await where.evaluate(INLINE_SCRIPT) is False, f"an inline script ran on {where.url}"

        def reported() -> bool:
            return bool(self.console) and any(v["directive"] == "script-src-elem" for v in self.violations)

        await eventually(reported)
        assert [v["document"] for v in self.violations] == [where.url]
        self.violations.clear()
        self.console.clear()


@pytest.fixture
async def node(sqlite_url: str) -> AsyncIterator[Node]:
    async with running_node(node_settings(sqlite_url, front_refresh_seconds=0.3)) as running:
        yield running


@pytest.fixture
def partner_site() -> Iterator[PartnerSite]:
    with PartnerSite("127.0.0.2") as site:
        yield site


async def watched_page(browser: Browser) -> tuple[Page, Watch]:
    context = await browser.new_context(locale="sv-SE", timezone_id="Europe/Stockholm")
    return await context.new_page(), await Watch.on(context)


async def test_reader_pages_work_live_with_no_csp_violation(browser: Browser, node: Node) -> None:
    editor = await node.reporter()
    slug = await editor.incident("Brand i hamnen", summary="Ett lager brinner.", photo_url=PHOTO)
    first = (await editor.post(slug, "Räddningstjänsten är på plats.", label="22:40", key_event=True))["entry"]
    page, watch = await watched_page(browser)

    # The reader page: JSON-LD and the strings are data blocks, reader.js a module from our origin, the photo
    # hot-linked over https, the live socket to our origin.
    response = await page.goto(f"{node.url}/i/{slug}")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    await expect(page.locator(".conn")).to_have_attribute("data-state", "live")
    await expect(page.locator("#incident")).to_have_attribute("data-transport", "websocket")
    await expect(page.locator(".photo img")).to_have_attribute("src", PHOTO)
    posted = (await editor.post(slug, "Vägen mot hamnen är avstängd.", label="22:45"))["entry"]
    await expect(page.locator(f"#entry-{posted['id']} .body")).to_have_text("Vägen mot hamnen är avstängd.")
    await watch.clean(page)

    # The permalink: reader.js shows the copy button.
    await page.goto(f"{node.url}/i/{slug}/e/{first['id']}")
    await expect(page.locator(".copy-link")).to_be_visible()
    await watch.clean(page)

    # The front page: its card follows the incident live.
    await page.goto(f"{node.url}/")
    await expect(page.locator(".conn")).to_have_attribute("data-state", "live")
    await editor.post(slug, "Branden är släckt.", label="23:00")
    await expect(page.locator(".card").first.locator(".latest")).to_have_text("23:00 Branden är släckt.")
    await watch.clean(page)

    # Search, through the front page's form.
    await page.fill("form.search input[name=q]", "hamnen")
    await page.press("form.search input[name=q]", "Enter")
    await expect(page.locator(".result h2 a")).to_have_text("Brand i hamnen")
    await watch.clean(page)

    # The reader page where websockets cannot pass: the SSE fallback is allowed too.
    async def refuse(ws: WebSocketRoute) -> None:
        await ws.close()

    await page.route_web_socket("**/live", refuse)
    await page.goto(f"{node.url}/i/{slug}")
    await expect(page.locator("#incident")).to_have_attribute("data-transport", "sse")
    await expect(page.locator(".conn")).to_have_attribute("data-state", "live")
    posted = (await editor.post(slug, "Bilen har flyttats.", label="23:05"))["entry"]
    await expect(page.locator(f"#entry-{posted['id']} .body")).to_have_text("Bilen har flyttats.")
    await watch.clean(page)
    await page.context.close()


async def test_login_and_the_desk_work_live_with_no_csp_violation(browser: Browser, node: Node) -> None:
    await person(node, "ada", role="admin")
    tool = await node.reporter("verktyg", role="editor")
    page, watch = await watched_page(browser)

    await page.goto(f"{node.url}/login")
    await watch.clean(page)
    await login_in(page, node, "ada", PASSWORD)  # the form posts to our origin and is sent on to /desk
    await watch.clean(page)

    form = page.locator("#incident-form")  # newsroom.js opens the incident and goes to its desk
    await form.locator("input[name=title]").fill("Storm över Gotland")
    # Its lead photo, picked and shown as a thumbnail (a canvas: the policy allows no blob: images), uploaded.
    await form.locator(".photo-add input[type=file]").set_input_files(
        {"name": "storm.jpg", "mimeType": "image/jpeg", "buffer": phone_jpeg()}
    )
    await form.locator(".photo-item [data-field=alt]").fill("Vågor över piren i Visby.")
    await form.locator(".photo-item [data-field=credit]").fill("Ada Svensson")
    await form.locator("button[type=submit]").click()
    await page.wait_for_url(f"{node.url}/desk/i/storm-over-gotland")
    await expect(page.locator(".conn")).to_have_attribute("data-state", "live")
    await page.fill("#composer-body", "Färjorna står **still**.")
    await page.press("#composer-body", "Control+Enter")
    await expect(entry(page, "Färjorna står still.")).to_be_visible()
    await tool.post("storm-over-gotland", "Vinden har mojnat.")  # another's post reaches the desk live
    await expect(entry(page, "Vinden har mojnat.")).to_be_visible()
    await expect(page.locator(".desk-incident")).to_have_attribute("data-offline-ready", "true")  # its worker
    await watch.clean(page)
    await page.goto(f"{node.url}/i/storm-over-gotland")  # the lead photo, served from our origin
    await expect(page.locator(".lead-photo img")).to_have_js_property("complete", True)
    assert await page.locator(".lead-photo img").evaluate("img => img.naturalWidth") > 0
    await watch.clean(page)

    for path in ("/desk/tokens", "/desk/users", "/desk/partners", "/desk/audit"):
        await page.goto(node.url + path)
        await expect(page.locator("main")).to_be_visible()
        await watch.clean(page)
    await page.context.close()


async def partner(node: Node, origin: str) -> Reporter:
    admin = await node.reporter("ada", role="admin")
    await admin.call("POST", "/api/partners", 201, json={"name": "gp", "origins": [origin]})
    return admin


def partner_page(body: str, head: str = "") -> str:
    return f"<!doctype html><html lang='sv'><head><meta charset='utf-8'>{head}</head><body>{body}</body></html>"


async def test_both_embeds_work_live_on_a_partner_page_with_no_csp_violation(
    browser: Browser, node: Node, partner_site: PartnerSite
) -> None:
    admin = await partner(node, partner_site.origin)
    slug = await admin.incident("Stormen Hans")
    await admin.post(slug, "Träd har fallit över vägen.")
    snippet = await admin.call("GET", "/api/partners/gp/snippet", params={"incident": slug})
    partner_site.pages["/frame.html"] = partner_page(f"<h1>GP</h1>{snippet['iframe']}{snippet['resizer']}")
    # A partner with a strict policy of its own: our scripts and connections allowed, no inline style anywhere.
    ws = node.url.replace("http://", "ws://")
    strict = f"default-src 'none'; script-src {node.url}; connect-src {node.url} {ws}; style-src 'self'"
    partner_site.pages["/script.html"] = partner_page(
        snippet["script"], f'<meta http-equiv="Content-Security-Policy" content="{strict}">'
    )
    page, watch = await watched_page(browser)

    # The iframe embed: our page, with our policy, inside the partner's.
    await page.goto(partner_site.url("/frame.html"))
    embed = page.frame_locator("iframe").locator("ticker-live")
    await expect(embed.locator(".conn")).to_have_attribute("data-state", "live")
    posted = (await admin.post(slug, "Elen är tillbaka i Ljusdal."))["entry"]
    await expect(embed.locator(f"#entry-{posted['id']} .body")).to_have_text("Elen är tillbaka i Ljusdal.")
    await expect(embed.locator(".badge")).to_have_css("color", "rgb(255, 255, 255)")  # its styles applied
    frame = page.frames[1]
    assert frame.url.startswith(f"{node.url}/embed/{slug}")
    await watch.clean(frame)

    # The script embed: embed.js and the live.js module from our origin, under the partner's policy.
    await page.goto(partner_site.url("/script.html"))
    embed = page.locator("ticker-live")
    await expect(embed.locator(".conn")).to_have_attribute("data-state", "live")
    posted = (await admin.post(slug, "Vägen är öppen igen."))["entry"]
    await expect(embed.locator(f"#entry-{posted['id']} .body")).to_have_text("Vägen är öppen igen.")
    await expect(embed.locator(".badge")).to_have_css("color", "rgb(255, 255, 255)")
    await watch.clean(page)
    await page.context.close()
