"""Photos from the desk in Chromium (issue 15, "Must show"): a phone's JPEG with GPS posted from the desk reaches
an open reader page and both embeds with srcset, alt text and credit, and no file served carries its metadata; a
large photo is scaled down in the browser and its upload shows progress; in field mode, posts with photos written
offline survive a reload (also one in the middle of an upload) and are published once each, in order, with their
photos."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.async_api import Browser, Page, Route, expect
from sqlalchemy import func, select

from tests.support.newsroom import at_desk, compose, entry, incident, new_page
from tests.support.node import Node, node_settings, running_node
from tests.support.partner_site import PartnerSite
from tests.support.photos import metadata_of, phone_jpeg
from ticker.media.model import Photo

ALT = "Brandbilar framför lagerhuset."


def noisy_jpeg(width: int, height: int) -> bytes:
    """A photo whose file is as large as a real one of its size (noise does not compress)."""
    out = io.BytesIO()
    Image.effect_noise((width, height), 60).convert("RGB").save(out, "JPEG", quality=92)
    return out.getvalue()


def jpeg_file(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "mimeType": "image/jpeg", "buffer": data}


async def attach(page: Page, name: str, data: bytes, alt: str) -> None:
    """Pick a photo in the composer's file picker and write its alt text (its credit is the reporter's name)."""
    before = await page.locator("#composer .photo-item").count()
    await page.locator("#composer .photo-add input[type=file]").set_input_files(jpeg_file(name, data))
    item = page.locator("#composer .photo-item").nth(before)
    await expect(item.locator("[data-field=alt]")).to_be_focused()
    await item.locator("[data-field=alt]").fill(alt)


async def photo_count(node: Node) -> int:
    async with node.services.store.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(Photo)) or 0)


@pytest.fixture
async def node(sqlite_url: str) -> AsyncIterator[Node]:
    async with running_node(node_settings(sqlite_url, photo_client_long_side=1000)) as running:
        yield running


async def test_a_photo_posted_from_the_desk_reaches_the_reader_page_and_both_embeds_stripped_of_its_metadata(
    browser: Browser, node: Node
) -> None:
    with PartnerSite("127.0.0.2") as partner:
        admin = await node.reporter("ada", role="admin")
        await admin.call("POST", "/api/partners", 201, json={"name": "gp", "origins": [partner.origin]})
        slug = await admin.incident("Brand i hamnen")
        partner.pages["/script.html"] = (
            f'<!doctype html><html lang="sv"><body><script src="{node.url}/static/embed.js" '
            f'data-incident="{slug}" async></script></body></html>'
        )
        partner.pages["/iframe.html"] = (
            f'<!doctype html><html lang="sv"><body><iframe src="{node.url}/embed/{slug}" width="600" height="900">'
            "</iframe></body></html>"
        )
        reader = await new_page(browser)
        await reader.goto(f"{node.url}/i/{slug}")
        await expect(reader.locator(".conn")).to_have_attribute("data-state", "live")
        script_page, iframe_page = await new_page(browser), await new_page(browser)
        await script_page.goto(partner.url("/script.html"))
        await iframe_page.goto(partner.url("/iframe.html"))
        script_embed = script_page.locator("ticker-live")
        iframe_embed = iframe_page.frame_locator("iframe").locator("ticker-live")
        for embed in (script_embed, iframe_embed):
            await expect(embed.locator(".conn")).to_have_attribute("data-state", "live")

        desk = await at_desk(browser, node, "anna", slug)
        gps_photo = phone_jpeg(800, 600)  # upright 600×800, small: sent as it is, for the server to strip
        large = noisy_jpeg(3000, 2000)  # past TICKER_PHOTO_CLIENT_LONG_SIDE (1000 here): scaled in the browser
        await attach(desk, "IMG_0001.jpg", gps_photo, ALT)
        await attach(desk, "IMG_0002.jpg", large, "Lagerhuset från kajen.")
        assert (
            await desk.locator("#composer .photo-item [data-field=credit]").evaluate_all("els => els.map(e => e.value)")
            == ["Anna Svensson"] * 2
        )
        # A weak link: the upload takes seconds, and its progress bar fills as it goes.
        cdp = await desk.context.new_cdp_session(desk)
        await cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 200 * 1024},
        )
        await compose(desk, "Räddningstjänsten är på plats med fyra enheter.")
        bars = desk.locator(".desk-entries .pending .pending-photos progress")
        await expect(bars).to_have_count(2)
        seen = set()
        for _ in range(400):  # until the entry is confirmed; note every value a bar shows on the way
            values = await bars.evaluate_all("els => els.map(e => e.value)") if await bars.count() else []
            seen.update(round(v, 2) for v in values)
            if await entry(desk, "fyra enheter").count():
                break
            await asyncio.sleep(0.05)
        assert any(0 < v < 1 for v in seen), f"no upload progress between empty and full: {sorted(seen)}"
        await cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        await expect(entry(desk, "fyra enheter").locator(".entry-photo img")).to_have_count(2)

        stored = await admin.state(slug)
        (posted,) = stored["entries"].values()
        first, second = posted["photos"]
        assert (first["alt"], first["credit"], (first["width"], first["height"])) == (ALT, "Anna Svensson", (600, 800))
        assert (second["width"], second["height"]) == (1000, 667)  # scaled in the browser before it was sent

        # The open reader page and both embeds show both photos: srcset, alt, width and height, the credit.
        base = node.url
        for where, root, prefix in (
            ("reader page", reader.locator(f"#entry-{posted['id']}"), ""),
            ("script embed", script_embed.locator(f"#entry-{posted['id']}"), base),
            ("iframe embed", iframe_embed.locator(f"#entry-{posted['id']}"), base),
        ):
            images = root.locator(".entry-photo img")
            await expect(images).to_have_count(2)
            await expect(images.first).to_have_attribute("alt", ALT)
            await expect(images.first).to_have_attribute("width", "600")
            await expect(images.first).to_have_attribute("srcset", _srcset(first, prefix))
            await expect(root.locator(".entry-photo picture source[type='image/avif']").first).to_have_attribute(
                "srcset", _srcset(first, prefix, "image/avif")
            )
            await expect(root.locator(".photo-credit").first).to_have_text("Foto: Anna Svensson")
            if where == "reader page":  # and the browser loads them, from our origin, under the page's CSP
                for n in range(2):
                    await expect(images.nth(n)).to_have_js_property("complete", True)
                assert await images.evaluate_all("els => els.map(e => e.naturalWidth > 0)") == [True, True]
        # An edit that removes a photo and changes the other's alt text shows on the open pages like any edit.
        path = f"/api/incidents/{slug}/entries/{posted['id']}"
        await admin.call("PATCH", path, json={"photos": [{"id": second["id"], "alt": "Kajen efter branden."}]})
        for root in (reader.locator(f"#entry-{posted['id']}"), script_embed.locator(f"#entry-{posted['id']}")):
            await expect(root.locator(".entry-photo img")).to_have_count(1)
            await expect(root.locator(".entry-photo img")).to_have_attribute("alt", "Kajen efter branden.")
        # No file of either photo carries its EXIF, XMP, GPS, comment or ICC: read back with Pillow.
        async with httpx.AsyncClient(base_url=node.url) as client:
            for photo in posted["photos"]:
                for file in photo["files"]:
                    found = metadata_of((await client.get(file["url"])).content)
                    assert (found["exif"], found["gps"], found["xmp"], found["comment"], found["icc"]) == (
                        {},
                        {},
                        None,
                        None,
                        None,
                    ), file
                    assert found["secrets"] == [], file


def _srcset(photo: dict[str, Any], prefix: str, kind: str = "image/jpeg") -> str:
    return ", ".join(f"{prefix}{f['url']} {f['width']}w" for f in photo["files"] if f["type"] == kind)


async def test_posts_with_photos_written_offline_are_published_once_each_in_order_after_reloads(
    browser: Browser, node: Node
) -> None:
    tool, slug = await incident(node, "Olycka på E6")
    page = await at_desk(browser, node, "anna", slug)
    await expect(page.locator(".desk-incident")).to_have_attribute("data-offline-ready", "true")

    await page.context.set_offline(True)
    texts = ["Första bilden från platsen.", "Bärgaren har kommit."]
    for n, text in enumerate(texts):
        await attach(page, f"IMG_{n}.jpg", phone_jpeg(300 + n * 100, 200), f"Bild {n} från E6.")
        await compose(page, text)
        await expect(page.locator("#composer .photo-item")).to_have_count(0)  # kept with the post, in IndexedDB
    queued = page.locator(".desk-entries .pending")
    await expect(queued).to_have_count(2)
    await expect(queued.locator(".pending-photos li")).to_have_count(2)

    reloaded = await page.reload()  # offline: the service worker's copy; the photos are in IndexedDB
    assert reloaded is not None and reloaded.from_service_worker
    await expect(queued.locator(".entry-body")).to_have_text(texts)
    await expect(queued.locator(".pending-photos li")).to_have_count(2)

    # Back online, the first photo's upload is cut off by a reload: the server has kept it, the desk never heard.
    cut: list[str] = []

    async def reload_mid_upload(route: Route) -> None:
        if not cut:
            await route.fetch()  # the server stores the photo …
            cut.append(route.request.headers["idempotency-key"])
            asyncio.get_running_loop().create_task(page.reload())  # … and the page is reloaded before the answer
            await route.abort()
        else:
            await route.fallback()

    await page.route("**/api/photos", reload_mid_upload)
    await page.context.set_offline(False)
    await expect(queued).to_have_count(0, timeout=30_000)
    assert cut, "the first upload was meant to be cut off"
    for text in texts:
        await expect(entry(page, text).locator(".entry-photo img")).to_have_count(1)

    stored = (await tool.state(slug))["entries"]
    published = [stored[i] for i in sorted(stored)]
    assert [e["body"] for e in published] == [f"<p>{text}</p>" for text in texts]  # in order, once each
    assert [[p["alt"] for p in e["photos"]] for e in published] == [["Bild 0 från E6."], ["Bild 1 från E6."]]
    assert await photo_count(node) == 2  # the photo sent again after the reload is the same photo
    events = await node.services.store.events_after(slug, 0)
    assert [e.seq for e in events] == [1, 2, 3]  # the incident, then exactly two posts
    kept = await page.evaluate(
        """() => new Promise((resolve) => {
            const open = indexedDB.open("ticker-desk-photos");
            open.onsuccess = () => {
                const count = open.result.transaction("photos").objectStore("photos").count();
                count.onsuccess = () => resolve(count.result);
            };
        })"""
    )
    assert kept == 0  # the photos leave the browser once their post is published


async def test_the_desk_says_in_swedish_what_is_wrong_with_a_photo_and_nothing_is_stored(
    browser: Browser, node: Node
) -> None:
    tool, slug = await incident(node, "Brand i hamnen")
    page = await at_desk(browser, node, "anna", slug)
    problem = page.locator(".desk-problem")
    # No alt text: the desk asks for it before anything is sent.
    await page.locator("#composer .photo-add input[type=file]").set_input_files(jpeg_file("a.jpg", phone_jpeg()))
    await compose(page, "Bild utan beskrivning.")
    await expect(problem).to_have_text("Skriv en bildbeskrivning för varje foto.")
    await expect(page.locator("#composer .photo-item [data-field=alt]")).to_be_focused()
    await page.locator("#composer .photo-remove").click()
    # A file cut off on the way: the browser cannot read it either, so it goes as it is, and the server refuses it.
    await attach(page, "avklippt.jpg", phone_jpeg(400, 300)[:-600], "En bil.")
    await compose(page, "Avklippt bild.")
    refused = page.locator(".desk-entries .pending.failed")
    await expect(refused.locator(".send-state")).to_have_text(
        "Filen gick inte att läsa som en bild – den kan vara trasig eller avklippt."
    )
    await expect(refused.locator(".to-composer")).to_be_visible()
    assert await photo_count(node) == 0
    assert (await tool.state(slug))["entries"] == {}
    await refused.locator(".to-composer").click()  # the text and the photo go back into the composer
    await expect(page.locator("#composer-body")).to_have_value("Avklippt bild.")
    await expect(page.locator("#composer .photo-item [data-field=alt]")).to_have_value("En bil.")


async def test_a_photo_can_be_pasted_or_dropped_into_the_composer(browser: Browser, node: Node) -> None:
    _tool, slug = await incident(node, "Brand i hamnen")
    page = await at_desk(browser, node, "anna", slug)
    data = list(phone_jpeg())
    # A picture on the clipboard, pasted into the text field, and a file dragged from the desktop onto the composer.
    await page.evaluate(
        """([bytes]) => {
            const file = (name) => new File([new Uint8Array(bytes)], name, {type: "image/jpeg"});
            const pasted = new DataTransfer();
            pasted.items.add(file("urklipp.jpg"));
            document.querySelector("#composer-body").dispatchEvent(
                new ClipboardEvent("paste", {clipboardData: pasted, bubbles: true, cancelable: true}));
            const dropped = new DataTransfer();
            dropped.items.add(file("dragen.jpg"));
            const composer = document.querySelector("#composer");
            composer.dispatchEvent(new DragEvent("dragover", {dataTransfer: dropped, bubbles: true, cancelable: true}));
            composer.dispatchEvent(new DragEvent("drop", {dataTransfer: dropped, bubbles: true, cancelable: true}));
        }""",
        [data],
    )
    items = page.locator("#composer .photo-item")
    await expect(items).to_have_count(2)
    await expect(page.locator("#composer-body")).to_have_value("")  # the picture, not its name, was pasted
    for n in range(2):
        await items.nth(n).locator("[data-field=alt]").fill(f"Bild {n}.")
    await compose(page, "Två bilder.")
    await expect(entry(page, "Två bilder.").locator(".entry-photo img")).to_have_count(2)
