"""Readers' tips and questions (issue 16): sent from the page in Chromium with JavaScript on and off, they appear
live in an open desk's queue; an answer becomes an entry on the open reader page; the rate limit and the honeypot
refuse in Swedish; the form's defences without a cookie; a reader's own deletion; and the janitor's retention."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from PIL import Image
from playwright.async_api import Browser, Page, expect
from sqlalchemy import func, select

from tests.support.newsroom import login, login_in, person
from tests.support.node import Node, node_settings, running_node
from tests.support.showcase import new_context, serious_violations
from tests.support.waiting import eventually
from ticker.tips.model import Tip
from ticker.tips.store import NewTip, secret_key, take

expect.set_options(timeout=15_000)
CONTACT = "anna@example.se, 070-123 45 67"


def photo_with_metadata(path: Path) -> Path:
    """A JPEG carrying EXIF with a GPS position and the camera's owner: none of it may reach the desk."""
    image = Image.new("RGB", (64, 48), (200, 40, 40))
    exif = Image.Exif()
    exif[0x013B] = "Anna Andersson"  # Artist
    exif[0x8825] = {1: "N", 2: (57.0, 42.0, 1.0)}  # GPSInfo
    image.save(path, "JPEG", exif=exif.tobytes())
    assert b"Anna Andersson" in path.read_bytes()
    return path


async def editor_desk(browser: Browser, node: Node) -> Page:
    await person(node, "redaktor", "editor")
    desk = await login(browser, node, "redaktor")
    await expect(desk.locator(".tips-conn")).to_have_attribute("data-state", "live")
    await expect(desk.locator("#reader-tips .reader-tips-empty")).to_be_visible()
    return desk


async def send(
    page: Page,
    text: str,
    *,
    question: bool = False,
    name: str = "",
    may_name: bool = False,
    contact: str = "",
    photo: Path | None = None,
) -> None:
    form = page.locator("form.tip-form")
    if question:
        await form.locator("input[name=kind][value=question]").check()
    await form.locator("textarea[name=body]").fill(text)
    if name:
        await form.locator("input[name=name]").fill(name)
    if may_name:
        await form.locator("input[name=may_name]").check()
    if contact:
        await form.locator("input[name=contact]").fill(contact)
    if photo:
        await form.locator("input[name=photo]").set_input_files(str(photo))
    await form.locator("button[type=submit]").click()


async def test_tips_from_the_page_with_and_without_javascript_reach_the_desk_live_and_an_answer_the_page(
    browser: Browser, sqlite_url: str, tmp_path: Path
) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter()
        slug = await editor.incident("Brand i hamnen")
        await editor.post(slug, "Räddningstjänsten är på plats.")
        desk = await editor_desk(browser, node)
        queue = desk.locator("#reader-tips .reader-tip")

        # Without JavaScript: a plain POST, and a thank-you page with the reader's deletion link.
        plain = await browser.new_context(java_script_enabled=False, locale="sv-SE")
        page = await plain.new_page()
        await page.goto(f"{node.url}/i/{slug}")
        photo = photo_with_metadata(tmp_path / "hamnen.jpg")
        question = "Är det farligt att andas in röken i Majorna?"
        await send(page, question, question=True, name="Anna", may_name=True, contact=CONTACT, photo=photo)
        await expect(page.locator("h1")).to_have_text("Tack!")
        await expect(page.locator(".tip-message")).to_have_text("Redaktionen har fått det du skickade.")
        deletion = await page.locator("a.deletion-link").get_attribute("href")
        assert deletion is not None and re.fullmatch(rf"{node.url}/tips/delete/[A-Za-z0-9_-]+", deletion)
        assert await plain.cookies() == []
        await expect(queue).to_have_count(1)  # live in the open desk
        asked = queue.filter(has_text=question)  # a locator of its own: newer tips go above it
        await expect(asked.locator(".tip-body")).to_have_text(question)
        await expect(asked.locator(".badge")).to_have_text("Fråga")
        await expect(asked.locator(".tip-from")).to_have_text("Från Anna (får namnges)")
        await expect(asked.locator(".tip-contact")).to_have_text(f"Kontakt: {CONTACT}")
        await expect(asked.locator(".tip-incident")).to_have_text("Brand i hamnen")
        # The photo reached the desk decoded and encoded afresh: its metadata (owner, position) is gone.
        photo_url = await asked.locator("img.tip-photo").get_attribute("src")
        assert photo_url is not None
        stored = await desk.evaluate(
            "async (url) => Array.from(new Uint8Array(await (await fetch(url)).arrayBuffer()))", photo_url
        )
        stored_bytes = bytes(stored)
        assert (
            stored_bytes.startswith(b"\xff\xd8")
            and b"Anna Andersson" not in stored_bytes
            and b"Exif" not in stored_bytes
        )
        async with httpx.AsyncClient(base_url=node.url) as anonymous:
            assert (await anonymous.get(photo_url)).status_code == 401  # the desk's only

        # With JavaScript: the same form, sent by the browser as it is.
        reader = await browser.new_page(locale="sv-SE")
        await reader.goto(f"{node.url}/i/{slug}")
        await expect(reader.locator(".conn")).to_have_attribute("data-state", "live")
        await send(reader, "Det ryker fortfarande vid kaj 4.")
        await expect(reader.locator("h1")).to_have_text("Tack!")
        await expect(queue).to_have_count(2)
        await expect(queue.first.locator(".tip-body")).to_have_text("Det ryker fortfarande vid kaj 4.")
        await expect(queue.first.locator(".badge")).to_have_text("Tips")

        # The editor answers the question; the open reader page shows the answer live, naming Anna as she agreed.
        await reader.goto(f"{node.url}/i/{slug}")
        await expect(reader.locator(".conn")).to_have_attribute("data-state", "live")
        await asked.locator("button.answer").click()
        await asked.locator(".answer-form textarea").fill("Räddningstjänsten uppmanar alla att hålla fönstren stängda.")
        await asked.locator(".answer-form button.publish").click()
        await expect(queue).to_have_count(1)  # answered: out of the queue
        answer = reader.locator("#incident .entries > .entry").first
        await expect(answer.locator(".body")).to_have_text(
            f"Fråga från en läsare, Anna: {question}Svar: Räddningstjänsten uppmanar alla att hålla fönstren stängda."
        )
        assert CONTACT not in await reader.content()  # contact details are never public

        # The reader's own deletion: the link asks, the button deletes, and the desk drops it at once.
        await page.goto(deletion)
        await page.locator("form.tip-delete button").click()
        await expect(page.locator(".tip-message")).to_have_text("Det du skickade är raderat.")
        await page.goto(deletion)
        await page.locator("form.tip-delete button").click()
        await expect(page.locator(".tip-message")).to_have_text(
            "Det finns inget tips med den koden. Det kan redan vara raderat."
        )
        # An editor deletes the other tip on request: a second click confirms.
        remaining = queue.first
        await remaining.locator("button.delete").click()
        await remaining.locator("button.delete").click()
        await expect(queue).to_have_count(0)
        async with node.services.store.reading() as session:
            assert (await session.get(Tip, 1)) is None and (await session.get(Tip, 2)) is None
        await plain.close()


async def token_of(client: httpx.AsyncClient, path: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', (await client.get(path)).text)
    assert found is not None
    return found.group(1)


async def test_the_rate_limit_the_honeypot_and_the_forms_defences_refuse_in_swedish(sqlite_url: str) -> None:
    settings = node_settings(sqlite_url, tips_per_client=2, tips_window_seconds=3600, tip_max_chars=200)
    async with running_node(settings) as node:
        editor = await node.reporter()
        slug = await editor.incident("Storm över kusten")
        headers = {"Origin": node.url, "Accept": "text/html"}
        async with httpx.AsyncClient(base_url=node.url, headers=headers) as client:
            token = await token_of(client, f"/i/{slug}")

            def form(body: str, **more: str) -> dict[str, str]:
                return {"token": token, "incident": slug, "kind": "tip", "body": body, **more}

            async def sent(body: str, **more: str) -> httpx.Response:
                return await client.post("/tips", files={"photo": ("", b"")}, data=form(body, **more))

            trap = await sent("Jag är en robot.", website="https://spam.example")
            assert trap.status_code == 422
            assert "Tipset skickades inte: ett fält som ska lämnas tomt var ifyllt." in trap.text
            assert (await sent("Träd över vägen vid Eriksberg.")).status_code == 201
            twin = await sent("Träd  över vägen vid Eriksberg. ")  # the same again (a second click): kept once
            assert twin.status_code == 200 and "Redaktionen har redan fått det här. Tack!" in twin.text
            assert (await sent("Strömavbrott på Hisingen.")).status_code == 201
            limited = await sent("Ett tredje tips inom timmen.")
            assert limited.status_code == 429
            assert "Du har skickat många tips på kort tid. Vänta en stund och försök igen." in limited.text
            english = await client.post("/tips?lang=en", data=form("And a fourth."))
            assert english.status_code == 429 and "You have sent many tips in a short time." in english.text

            # Without our Origin (another site's page), with no or a stale token, too long: refused, named.
            json_only = {"Accept": "application/json"}
            foreign = await client.post(
                "/tips", data=form("Hej"), headers={"Origin": "https://evil.example", **json_only}
            )
            assert (foreign.status_code, foreign.json()["field"]) == (403, "Origin")
            no_origin = await client.post("/tips", data=form("Hej"), headers={"Origin": "", **json_only})
            assert no_origin.status_code == 403
            stale = await client.post("/tips", data={**form("Hej"), "token": "1.abc"}, headers=json_only)
            assert (stale.status_code, stale.json()["field"]) == (403, "token")
            long = await client.post("/tips", data=form("x" * 201), headers=json_only)
            assert (long.status_code, long.json()["field"]) == (422, "body")
            page = await client.post("/tips", data=form("x" * 201))
            assert "Texten är för lång: högst 200 tecken." in page.text

        async with node.services.store.reading() as session:
            assert await session.scalar(select(func.count()).select_from(Tip)) == 2  # nothing refused was kept


async def test_behind_a_trusted_proxy_each_reader_has_a_limit_of_their_own(sqlite_url: str) -> None:
    """X-Forwarded-For is believed from TICKER_TRUSTED_PROXIES only: elsewhere it cannot dodge the limit."""
    for trusted, expected in (("127.0.0.1", [201, 201, 429]), ("", [201, 429, 429])):
        settings = node_settings(sqlite_url, tips_per_client=1, trusted_proxies=trusted)
        async with running_node(settings) as node:
            editor = await node.reporter("anna" if trusted else "bo")  # one database: a name each
            slug = await editor.incident(f"Stormen {trusted or 'utan'}")
            async with httpx.AsyncClient(base_url=node.url, headers={"Origin": node.url}) as client:
                token = await token_of(client, f"/i/{slug}")
                answers = []
                for n, address in enumerate(("203.0.113.5", "203.0.113.6", "203.0.113.6")):
                    data = {"token": token, "incident": slug, "body": f"Tips {n} om stormen {trusted}"}
                    sent = await client.post("/tips", data=data, headers={"X-Forwarded-For": address})
                    answers.append(sent.status_code)
                assert answers == expected, trusted


async def test_the_janitor_deletes_tips_older_than_the_retention(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter()
        slug = await editor.incident("Brand i hamnen")
        store = node.services.store
        key = await secret_key(store)
        for n, age_days in enumerate((31, 29)):
            tip = NewTip(slug, "tip", f"Tips {n}", "Anna", False, CONTACT, None)
            taken = await take(store, tip, key=key, address=f"198.51.100.{n}", per_client=5, window_seconds=60)
            async with store.writing() as session:
                row = await session.get(Tip, taken.id)
                assert row is not None
                row.created_at = datetime.now(UTC) - timedelta(days=age_days)
    # A node starting with TICKER_TIPS_KEEP_DAYS=30 sweeps at once: the 31 days old tip goes, the other stays.
    async with running_node(node_settings(sqlite_url, tips_keep_days=30)) as node:
        editor = await node.reporter("bo", role="editor")

        async def one_left() -> bool:
            return len((await editor.call("GET", "/api/tips"))["tips"]) == 1

        await eventually(one_left)
        assert [t["body"] for t in (await editor.call("GET", "/api/tips"))["tips"]] == ["Tips 1"]
        async with store.reading() as session:
            assert await session.scalar(select(func.count()).select_from(Tip)) == 1


async def test_a_tip_from_the_front_page_is_answered_in_the_incident_the_editor_chooses(sqlite_url: str) -> None:
    async with running_node(node_settings(sqlite_url)) as node:
        editor = await node.reporter()
        slug = await editor.incident("Storm över kusten")
        async with httpx.AsyncClient(base_url=node.url, headers={"Origin": node.url}) as client:
            token = await token_of(client, "/")  # the front page's form: no incident
            data = {"token": token, "incident": "", "kind": "question", "body": "Går färjorna?", "name": "Bo"}
            sent = await client.post("/tips", data=data, headers={"Accept": "application/json"})
            assert sent.status_code == 201, sent.text
            tip_id = sent.json()["tip"]
        (listed,) = (await editor.call("GET", "/api/tips"))["tips"]
        assert (listed["incident"], listed["name"], listed["may_name"]) == (None, "Bo", False)
        path = f"/api/tips/{tip_id}/answer"
        refused = await editor.call("POST", path, 422, json={"answer": "Nej."})  # a general tip needs its incident
        assert refused["field"] == "incident"
        answered = await editor.call(
            "POST", path, 201, json={"answer": "Nej, inte i kväll.", "incident": slug, "with_name": True}
        )
        # Bo did not agree to be named: the answer says "en läsare" whatever the editor asked.
        assert answered["entry"]["body"] == (
            "<p><strong>Fråga från en läsare:</strong> Går färjorna?</p>"
            "<p><strong>Svar:</strong> Nej, inte i kväll.</p>"
        )
        assert (await editor.call("POST", path, 409, json={"answer": "Igen."}))["error"] == "conflict"
        assert (await editor.call("GET", "/api/tips"))["tips"] == []


async def test_the_forms_pages_and_the_desks_queue_pass_axe(browser: Browser, sqlite_url: str) -> None:
    """axe-core (as tests/test_accessibility.py runs it) on what this adds: the form and the support box on the
    incident and front pages in both languages, the thank-you and deletion pages, the desk's queue with a tip."""
    async with running_node(node_settings(sqlite_url, swish_number="1231234567")) as node:
        editor = await node.reporter()
        slug = await editor.incident("Brand i hamnen")
        await editor.post(slug, "Räddningstjänsten är på plats.", key_event=True)
        await person(node, "redaktor", "editor")
        problems: list[str] = []
        for lang in ("sv", "en"):
            context = await new_context(browser, lang)
            page = await context.new_page()
            for path in (
                f"/i/{slug}?lang={lang}",
                f"/i/{slug}?visa=viktigast&ordning=aldst&lang={lang}",
                f"/?lang={lang}",
            ):
                await page.goto(node.url + path)
                problems += [f"{path}: {v}" for v in await serious_violations(page)]
            await page.goto(f"{node.url}/i/{slug}?lang={lang}")
            await send(page, f"Ett tips på {lang}", name="Anna", may_name=True)
            await expect(page.locator("a.deletion-link")).to_be_visible()
            problems += [f"thanks ({lang}): {v}" for v in await serious_violations(page)]
            await page.goto(await page.locator("a.deletion-link").get_attribute("href") or "")
            problems += [f"deletion ({lang}): {v}" for v in await serious_violations(page)]
            await context.close()
        desk_context = await new_context(browser)
        desk = await login_in(await desk_context.new_page(), node, "redaktor")
        tip = desk.locator("#reader-tips .reader-tip").first
        await tip.locator("button.answer").click()
        await expect(tip.locator(".answer-form")).to_be_visible()
        problems += [f"desk: {v}" for v in await serious_violations(desk)]
        await desk_context.close()
        assert not problems, "\n".join(problems)
