"""Every page a person sees, filled as on a busy evening: for the accessibility test (axe-core in Chromium) and
the screenshots in docs/screenshots/.

``showcase(node)`` writes a few incidents (a photo, key events, a pinned entry, an edit, a retraction with a
correction, a closed incident) and an admin who logs in through the form; ``PAGES`` names each page, who opens it
and what shows that it has finished drawing. ``serious_violations(page)`` runs axe-core, as shipped in the PyPI
package axe-playwright-python, and returns what it finds at impact serious or critical.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, Route

from tests.support.newsroom import login_in, person
from tests.support.node import Node

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
PHOTO_HOST = "https://bilder.example"
EDITOR = "redaktor"  # an admin: every control of the desk, and the users page

# The lead photo: a city street at dusk, drawn here (the tests reach no other host), served for PHOTO_HOST.
PHOTO = b"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1600 900">
<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
<stop offset="0" stop-color="#1d2b53"/><stop offset=".7" stop-color="#7e4a6b"/><stop offset="1" stop-color="#e08a5c"/>
</linearGradient></defs>
<rect width="1600" height="900" fill="url(#sky)"/>
<g fill="#14141c"><rect x="0" y="420" width="220" height="480"/><rect x="240" y="330" width="160" height="570"/>
<rect x="420" y="470" width="260" height="430"/><rect x="700" y="280" width="140" height="620"/>
<rect x="860" y="400" width="300" height="500"/><rect x="1180" y="350" width="180" height="550"/>
<rect x="1380" y="450" width="220" height="450"/></g>
<g fill="#f3c969" opacity=".8"><rect x="270" y="380" width="20" height="28"/>
<rect x="330" y="440" width="20" height="28"/>
<rect x="740" y="330" width="20" height="28"/><rect x="900" y="450" width="20" height="28"/>
<rect x="1220" y="400" width="20" height="28"/><rect x="1000" y="520" width="20" height="28"/></g>
<rect y="800" width="1600" height="100" fill="#2a2a33"/>
<circle cx="560" cy="830" r="18" fill="#3b7dd8"/><circle cx="610" cy="830" r="18" fill="#d83b3b"/>
</svg>"""


@dataclass(frozen=True)
class Shown:
    """What the showcase wrote: the main incident, one of its entries, and a closed incident."""

    slug: str
    entry_id: int
    closed: str


@dataclass(frozen=True)
class PageSpec:
    """A page: its name (and the screenshot's), its path (``{slug}``, ``{entry}`` filled in), whether it needs
    the logged-in newsroom, a selector that shows once the page has drawn itself, its status, and whether it starts
    with a skip link (every page but the embed, a widget inside another site's page)."""

    name: str
    path: str
    desk: bool = False
    ready: str | None = None
    status: int = 200
    skip_link: bool = True

    def url(self, node: Node, shown: Shown, lang: str) -> str:
        path = self.path.format(slug=shown.slug, entry=shown.entry_id)
        if lang != "sv":
            path += ("&" if "?" in path else "?") + f"lang={lang}"
        return node.url + path


PAGES = (
    PageSpec("front", "/", ready='.conn[data-state="live"]'),
    PageSpec("incident", "/i/{slug}", ready='.conn[data-state="live"]'),
    PageSpec("permalink", "/i/{slug}/e/{entry}"),
    PageSpec("search", "/search?q=polis"),
    PageSpec("embed", "/embed/{slug}", ready='ticker-live >> .conn[data-state="live"]', skip_link=False),
    PageSpec("error", "/finns-inte", status=404),
    PageSpec("login", "/login"),
    PageSpec("desk", "/desk", desk=True),
    PageSpec("desk-incident", "/desk/i/{slug}", desk=True, ready='.conn[data-state="live"]'),
    PageSpec("tokens", "/desk/tokens", desk=True),
    PageSpec("users", "/desk/users", desk=True),
    PageSpec("partners", "/desk/partners", desk=True),
    PageSpec("audit", "/desk/audit", desk=True),
)


async def showcase(node: Node) -> Shown:
    """Incidents as a reader meets them on a busy evening, and the admin EDITOR, who may log in."""
    tool = await node.reporter("anna", role="editor")
    slug = await tool.incident(
        "Polisjakt genom centrala Göteborg",
        summary="En bil som inte stannade vid en kontroll jagades genom centrum under kvällen.",
        category="Blåljus",
        location="Göteborg",
        photo_url=f"{PHOTO_HOST}/vasagatan.jpg",
        photo_credit="Eva Lind",
    )
    base = f"/api/incidents/{slug}/entries"
    first = await tool.post(
        slug,
        "<p>Polisen larmades om en bil som inte stannade vid en trafikkontroll på Vasagatan.</p>"
        "<p>Bilen körde mot Centralen.</p>",
        label="22:37",
        key_event=True,
    )
    await tool.post(slug, "Flera polisbilar och en helikopter deltar i jakten.", label="22:44")
    wrong = await tool.post(slug, "Bilen ska ha krockat vid Drottningtorget.", label="22:48")
    await tool.call("POST", f"{base}/{wrong['entry']['id']}/retract", json={"correction": "Uppgiften stämde inte."})
    edited = await tool.post(slug, "<p>Undvik området kring <strong>Centralen</strong>.</p>", label="22:52")
    await tool.call("PATCH", f"{base}/{edited['entry']['id']}", json={"body": "<p>Undvik området kring Centralen.</p>"})
    await tool.post(slug, "Håll er borta från Nordstan tills vidare, säger polisen.", label="22:55", pinned=True)
    await tool.post(
        slug,
        '<p>Vi avbröt insatsen då bilen inte hittades, uppger <a href="https://polisen.example/">polisen</a>.</p>',
        label="23:00",
        key_event=True,
    )
    other = await tool.incident("Strömavbrott i Malmö", category="Samhälle")
    await tool.post(other, "Omkring 4 000 hushåll saknar ström i centrala Malmö.", label="21:15")
    closed = await tool.incident("Vattenläcka i Uppsala", category="Samhälle")
    await tool.post(closed, "Vattnet är tillbaka i hela kvarteret.", label="19:30")
    await tool.call("POST", f"/api/incidents/{closed}/close")
    await tool.call("POST", "/api/incidents", 201, json={"title": "Storm över Gotland", "category": "Väder"})
    await person(node, EDITOR, "admin")
    return Shown(slug, first["entry"]["id"], closed)


async def _photo(route: Route) -> None:
    await route.fulfill(status=200, content_type="image/svg+xml", body=PHOTO)


async def new_context(browser: Browser, lang: str = "sv", **options: Any) -> BrowserContext:
    """A Stockholm reader's browser context (no CSP in the way of injected scripts), with the lead photo."""
    context = await browser.new_context(
        locale="sv-SE" if lang == "sv" else "en-GB", timezone_id="Europe/Stockholm", bypass_csp=True, **options
    )
    await context.route(f"{PHOTO_HOST}/**", _photo)
    return context


async def logged_in(browser: Browser, node: Node, lang: str = "sv") -> BrowserContext:
    """A context whose cookies hold EDITOR's session."""
    context = await new_context(browser, lang)
    page = await context.new_page()
    await login_in(page, node, EDITOR)
    await page.close()
    return context


# axe-core from the PyPI package axe-playwright-python (its axe.min.js; we use nothing else of it).
AXE_SCRIPT = files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


async def serious_violations(page: Page) -> list[str]:
    """axe-core's violations of impact serious or critical on the page as it is now, one line each."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(content=AXE_SCRIPT)
    results = await page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", WCAG_AA
    )
    found = []
    for violation in results["violations"]:
        if violation["impact"] not in ("serious", "critical"):
            continue
        for node in violation["nodes"]:
            found.append(
                f"{violation['id']} ({violation['impact']}): {json.dumps(node['target'])} {node['failureSummary']}"
            )
    return found
