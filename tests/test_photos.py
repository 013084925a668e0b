"""Photos in entries (issue 15): the pipeline, the upload API and its refusals, entries and the lead photo that
carry photos, every surface that shows them, and storage that every node serves from."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from tests.support.live import LiveReader
from tests.support.node import Node, Reporter, node_settings, running_node
from tests.support.photos import PDF, SVG, bomb, encoded, metadata_of, phone_jpeg, polyglot
from tests.support.services import RedisServer
from ticker.config import Settings
from ticker.media.images import PhotoRefused, process_photo
from ticker.media.model import MediaFile, Photo
from ticker.media.pool import PhotoBusy, PhotoPool

ALT = "Rök stiger från ett lagerhus i hamnen."
CREDIT = "Anna Svensson"
IMMUTABLE = "public, max-age=31536000, immutable"


async def upload(
    reporter: Reporter, data: bytes, *, name: str = "foto.jpg", kind: str = "image/jpeg", **texts: str
) -> httpx.Response:
    fields = {"alt": ALT, "credit": CREDIT, **texts}
    fields = {k: v for k, v in fields.items() if v is not None}
    return await reporter.http.post("/api/photos", files={"file": (name, data, kind)}, data=fields)


async def uploaded(reporter: Reporter, data: bytes | None = None, **texts: str) -> dict[str, Any]:
    response = await upload(reporter, data or phone_jpeg(), **texts)
    assert response.status_code == 201, response.text
    photo: dict[str, Any] = response.json()["photo"]
    return photo


async def stored(node: Node) -> tuple[int, int]:
    """Rows of photos and of media files: what an upload left behind."""
    async with node.services.store.reading() as session:
        photos = await session.scalar(select(func.count()).select_from(Photo))
        files = await session.scalar(select(func.count()).select_from(MediaFile))
    return int(photos or 0), int(files or 0)


@pytest.fixture
async def node(sqlite_url: str) -> AsyncIterator[Node]:
    async with running_node(node_settings(sqlite_url)) as running:
        yield running


# The pipeline.


def test_every_variant_is_upright_and_carries_nothing_but_its_pixels() -> None:
    settings = Settings(photo_widths="16,24,1600")
    photo = process_photo(phone_jpeg(48, 32), settings)
    # Orientation 6 (a quarter turn) is applied: the 48×32 file is a 32×48 photo, and so is every variant.
    assert (photo.width, photo.height) == (32, 48)
    assert sorted({(v.format, v.width) for v in photo.variants}) == [
        (fmt, w) for fmt in ("avif", "jpeg", "webp") for w in (16, 24, 32)
    ]
    for variant in photo.variants:
        found = metadata_of(variant.data)
        assert found["size"] == (variant.width, variant.height)
        assert variant.height == round(variant.width * 48 / 32)
        assert (found["exif"], found["gps"], found["xmp"], found["icc"], found["comment"]) == ({}, {}, None, None, None)
        assert found["secrets"] == [], f"{variant.format} {variant.width}: {found['secrets']}"
    # The blue corner the phone put at the top left is at the top right once the photo is upright.
    top_right = Image.open(io.BytesIO(photo.of_format("jpeg")[-1].data)).convert("RGB").getpixel((28, 3))
    assert top_right[2] > 150 and top_right[0] < 100


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF", "HEIF"])
def test_png_webp_gif_and_heic_are_taken(fmt: str) -> None:
    photo = process_photo(encoded(fmt, (40, 30)), Settings(photo_widths="320"))
    assert (photo.width, photo.height, photo.source_format) == (40, 30, fmt)


def test_the_pixel_bound_is_read_from_the_header_before_decoding() -> None:
    with pytest.raises(PhotoRefused) as refused:
        process_photo(encoded("PNG", (3000, 1000), mode="L"), Settings(photo_max_pixels=2_000_000))
    assert refused.value.code == "too_many_pixels"
    assert process_photo(encoded("PNG", (2000, 1000), mode="L"), Settings(photo_max_pixels=2_000_000)).width == 1600


async def test_uploads_past_the_workers_and_their_queue_are_refused_at_once() -> None:
    """The pool's bound: with one worker and no queue, a second photo while the first is processed is refused
    (the API's 503 busy) rather than waiting in memory."""
    pool = PhotoPool(Settings(), workers=1, queue=0)
    try:
        first = asyncio.create_task(pool.process(encoded("PNG", (1200, 900))))
        await asyncio.sleep(0)  # the first has taken the worker
        with pytest.raises(PhotoBusy):
            await pool.process(encoded("PNG"))
        assert (await first).width == 1200
        assert (await pool.process(encoded("PNG"))).width == 40  # free again
    finally:
        pool.close()


# The upload API.

REFUSED = {
    "a 50-megapixel bomb": (bomb(50), "bomb.png", "image/png", "too_many_pixels"),
    "a JPEG/HTML polyglot": (polyglot(), "bild.jpg", "image/jpeg", "not_an_image"),
    "an SVG": (SVG, "bild.svg", "image/svg+xml", "unsupported_type"),
    "a truncated JPEG": (phone_jpeg(400, 300)[:-600], "avklippt.jpg", "image/jpeg", "not_an_image"),
    "a PDF named .png": (PDF, "bild.png", "image/png", "unsupported_type"),
    "an empty file": (b"", "tom.jpg", "image/jpeg", "empty"),
}


@pytest.mark.parametrize("name", list(REFUSED))
async def test_what_is_no_photo_is_refused_with_422_naming_the_problem_and_nothing_is_stored(
    node: Node, name: str
) -> None:
    data, filename, kind, code = REFUSED[name]
    reporter = await node.reporter()
    response = await upload(reporter, data, name=filename, kind=kind)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == code
    assert response.json()["field"] == "file"
    assert await stored(node) == (0, 0)


@pytest.mark.parametrize(
    ("texts", "field"),
    [({"alt": None}, "alt"), ({"alt": "   "}, "alt"), ({"credit": None}, "credit"), ({"alt": "a\x00b"}, "alt")],
)
async def test_a_photo_without_alt_text_or_credit_is_refused_and_nothing_is_stored(
    node: Node, texts: dict[str, Any], field: str
) -> None:
    reporter = await node.reporter()
    response = await upload(reporter, phone_jpeg(), **texts)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert await stored(node) == (0, 0)


async def test_the_upload_takes_a_form_only_and_a_person_who_may_post(node: Node) -> None:
    reporter = await node.reporter()
    sent_raw = await reporter.http.post("/api/photos", content=phone_jpeg(), headers={"Content-Type": "image/jpeg"})
    assert (sent_raw.status_code, sent_raw.json()["error"]) == (415, "unsupported_media_type")
    async with httpx.AsyncClient(base_url=node.url) as client:
        anonymous = await client.post("/api/photos", files={"file": phone_jpeg()})
    assert anonymous.status_code == 401
    assert await stored(node) == (0, 0)


async def test_limits_are_settings_each_refused_with_the_field_named(sqlite_url: str) -> None:
    settings = node_settings(
        sqlite_url,
        photo_max_bytes=64 * 1024,
        photo_uploads_per_minute=3,
        photo_max_per_entry=2,
        photo_text_max_chars=50,
    )
    async with running_node(settings) as node:
        reporter = await node.reporter()
        too_big = await upload(reporter, encoded("PNG", (160, 160), mode="RGB", compress_level=0))  # 77 kB
        assert (too_big.status_code, too_big.json()["field"]) == (413, "file")
        far_too_big = await upload(reporter, encoded("PNG", (400, 400), mode="RGB", compress_level=0))
        assert (far_too_big.status_code, far_too_big.json()["field"]) == (413, "body")  # cut off unread
        long_alt = await upload(reporter, phone_jpeg(), alt="x" * 51)
        assert (long_alt.status_code, long_alt.json()["field"]) == (422, "alt")
        ids = [(await uploaded(reporter, phone_jpeg(colour=(n * 60, 0, 0))))["id"] for n in range(3)]
        fourth = await upload(reporter, phone_jpeg())
        assert (fourth.status_code, fourth.json()["error"], fourth.json()["field"]) == (429, "too_many_uploads", "file")
        assert (await stored(node))[0] == 3
        slug = await reporter.incident()
        three = await reporter.http.post(
            f"/api/incidents/{slug}/entries", json={"body": "Tre foton.", "photos": [{"id": i} for i in ids]}
        )
        assert (three.status_code, three.json()["field"]) == (422, "photos")
        assert (await reporter.state(slug))["entries"] == {}


async def test_a_retried_upload_with_the_same_key_is_the_same_photo(node: Node) -> None:
    reporter = await node.reporter()
    headers = {"Idempotency-Key": "foto-1"}
    fields = {"alt": ALT, "credit": CREDIT}
    first = await reporter.http.post("/api/photos", files={"file": phone_jpeg()}, data=fields, headers=headers)
    again = await reporter.http.post("/api/photos", files={"file": phone_jpeg()}, data=fields, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert (await stored(node))[0] == 1
    other = await reporter.http.post("/api/photos", files={"file": encoded("PNG")}, data=fields, headers=headers)
    assert (other.status_code, other.json()["field"]) == (422, "Idempotency-Key")


async def test_files_are_served_immutable_by_their_content_address(node: Node) -> None:
    reporter = await node.reporter()
    photo = await uploaded(reporter)
    async with httpx.AsyncClient(base_url=node.url) as anonymous:
        await served_immutable(anonymous, photo)


async def served_immutable(anonymous: httpx.AsyncClient, photo: dict[str, Any]) -> None:
    for file in photo["files"]:
        response = await anonymous.get(file["url"])
        assert response.status_code == 200
        assert response.headers["content-type"] == file["type"]
        assert response.headers["cache-control"] == IMMUTABLE
        digest = re.fullmatch(r"/media/([0-9a-f]{64})\.\w+", file["url"])
        assert digest and response.headers["etag"] == f'"{digest[1]}"'
        assert __import__("hashlib").sha256(response.content).hexdigest() == digest[1]
        again = await anonymous.get(file["url"], headers={"If-None-Match": response.headers["etag"]})
        assert (again.status_code, again.content) == (304, b"")
    assert (await anonymous.get("/media/" + "0" * 64 + ".jpg")).status_code == 404
    assert (await anonymous.get("/media/../../ticker.db")).status_code == 404


# Entries and the lead photo.


async def test_an_entry_carries_its_photos_in_its_events_and_edits_add_replace_and_remove_them(node: Node) -> None:
    reporter = await node.reporter()
    slug = await reporter.incident("Brand i hamnen")
    first, second, third = [await uploaded(reporter, phone_jpeg(colour=(n * 80, 10, 10))) for n in range(3)]
    reader = await LiveReader.open(node.ws_url)
    await reader.subscribe(slug, since=1)

    posted = await reporter.post(
        slug, "Bilder från platsen.", photos=[{"id": first["id"]}, {"id": second["id"], "caption": "Från bron."}]
    )
    photos = posted["entry"]["photos"]
    assert [(p["id"], p["alt"], p["credit"], p["caption"]) for p in photos] == [
        (first["id"], ALT, CREDIT, None),
        (second["id"], ALT, CREDIT, "Från bron."),
    ]
    entry_id = posted["entry"]["id"]
    path = f"/api/incidents/{slug}/entries/{entry_id}"
    replaced = await reporter.call(
        "PATCH", path, json={"photos": [{"id": third["id"], "alt": "Brandbilar."}, {"id": first["id"]}]}
    )
    assert [(p["id"], p["alt"]) for p in replaced["entry"]["photos"]] == [
        (third["id"], "Brandbilar."),
        (first["id"], ALT),
    ]
    assert replaced["entry"]["edited_at"] is not None
    removed = await reporter.call("PATCH", path, json={"photos": []})
    assert "photos" not in removed["entry"]

    folded = await reader.follow(slug, upto=4)
    events = [(e["event"], [p["id"] for p in e["data"]["entry"].get("photos", [])]) for e in folded.events]
    assert events == [
        ("entry.posted", [first["id"], second["id"]]),
        ("entry.edited", [third["id"], first["id"]]),
        ("entry.edited", []),
    ]
    await reader.close()

    unknown = await reporter.http.post(
        f"/api/incidents/{slug}/entries", json={"body": "x", "photos": [{"id": "ph_intenågot123"}]}
    )
    assert unknown.status_code == 422
    no_alt = await reporter.http.post(
        f"/api/incidents/{slug}/entries", json={"body": "x", "photos": [{"id": first["id"], "alt": ""}]}
    )
    assert (no_alt.status_code, no_alt.json()["field"]) == (422, "photos[0].alt")


async def test_a_retracted_entry_shows_none_of_its_photos(node: Node) -> None:
    reporter = await node.reporter()
    slug = await reporter.incident()
    photo = await uploaded(reporter)
    entry = (await reporter.post(slug, "Fel bild.", photos=[{"id": photo["id"]}]))["entry"]
    retracted = await reporter.call("POST", f"/api/incidents/{slug}/entries/{entry['id']}/retract", json={})
    assert "photos" not in retracted["entry"]
    page = (await reporter.http.get(f"/i/{slug}")).text
    assert photo["src"] not in page


async def test_a_contributors_photos_wait_with_the_post_and_are_published_on_approval(node: Node) -> None:
    editor = await node.reporter("eva", role="editor")
    contributor = await node.reporter("kim", role="contributor")
    slug = await editor.incident()
    photo = await uploaded(contributor)
    kept = await contributor.call(
        "POST", f"/api/incidents/{slug}/entries", 202, json={"body": "Från läsare.", "photos": [{"id": photo["id"]}]}
    )
    submission = kept["submission"]
    assert [p["id"] for p in submission["photos"]] == [photo["id"]]
    approved = await editor.call("POST", f"/api/incidents/{slug}/submissions/{submission['id']}/approve", json={})
    assert [p["id"] for p in approved["entry"]["photos"]] == [photo["id"]]


async def test_the_lead_photo_comes_through_the_pipeline_and_needs_alt_text(node: Node) -> None:
    reporter = await node.reporter()
    photo = await uploaded(reporter)
    old = await reporter.incident("Storm", photo_url="https://example.se/storm.jpg", photo_credit="TT")
    new = await reporter.call("POST", "/api/incidents", 201, json={"title": "Brand", "photo": {"id": photo["id"]}})
    lead = new["incident"]["photo"]
    assert (lead["id"], lead["alt"], lead["credit"]) == (photo["id"], ALT, CREDIT)
    no_alt = await reporter.http.post("/api/incidents", json={"title": "Ras", "photo": {"id": photo["id"], "alt": ""}})
    assert (no_alt.status_code, no_alt.json()["field"]) == (422, "photo.alt")
    # An incident with a hot-linked photo keeps it until an uploaded one takes its place.
    page = (await reporter.http.get(f"/i/{old}")).text
    assert 'src="https://example.se/storm.jpg"' in page
    changed = await reporter.call("PATCH", f"/api/incidents/{old}", json={"photo": {"id": photo["id"]}})
    assert changed["incident"]["photo_url"] is None and changed["incident"]["photo"]["id"] == photo["id"]
    page = (await reporter.http.get(f"/i/{old}")).text
    assert "https://example.se/storm.jpg" not in page
    assert f'alt="{ALT}"' in page and photo["src"] in page


# Every surface.


def figures(html: str) -> list[str]:
    return re.findall(r'<figure class="entry-photo".*?</figure>', html, re.S)


async def test_every_surface_without_javascript_shows_the_photos_with_srcset_alt_and_credit(node: Node) -> None:
    reporter = await node.reporter()
    lead = await uploaded(reporter, alt="Hamnen från luften.", credit="TT")
    slug = await reporter.incident("Brand i hamnen", photo={"id": lead["id"]})
    photo = await uploaded(reporter, phone_jpeg(700, 500))  # upright 500×700: variants 320 and 500 wide
    for n in range(3):
        await reporter.post(slug, f"Uppdatering {n}.", photos=[{"id": photo["id"], "caption": f"Bild {n}."}])
    async with httpx.AsyncClient(base_url=node.url) as anonymous:
        await every_surface(anonymous, node.services.settings.resolved_public_url(), slug, photo)


async def every_surface(anonymous: httpx.AsyncClient, base: str, slug: str, photo: dict[str, Any]) -> None:
    page = (await anonymous.get(f"/i/{slug}")).text
    shown = figures(page)
    assert len(shown) == 3
    for figure in shown:
        assert '<source type="image/avif" srcset="/media/' in figure and '<source type="image/webp"' in figure
        assert re.search(r'<img src="/media/\w+\.jpg" srcset="/media/\w+\.jpg 320w, /media/\w+\.jpg 500w"', figure)
        assert f'width="{photo["width"]}" height="{photo["height"]}" alt="{ALT}"' in figure
        assert f'<span class="photo-credit">Foto: {CREDIT}</span>' in figure
    assert [('loading="lazy"' in f) for f in shown] == [False, True, True]  # below the first screen: lazy
    assert 'alt="Hamnen från luften."' in page and "Foto: TT" in page  # the lead photo
    assert f'<meta property="og:image" content="{base}/media/' in page

    jsonld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)[1])
    assert jsonld["image"][0]["url"].startswith(f"{base}/media/") and jsonld["image"][0]["creditText"] == "TT"
    assert all(u["image"][0]["description"] == ALT for u in jsonld["liveBlogUpdate"])

    feed = (await anonymous.get(f"/i/{slug}/feed.atom")).text
    assert feed.count('rel="enclosure" type="image/jpeg"') == 3
    assert f'&lt;img src="{base}/media/' in feed and f'alt="{ALT}"' in feed
    assert f"Foto: {CREDIT}" in feed

    embed = (await anonymous.get(f"/embed/{slug}")).text  # the iframe embed, before its script runs
    assert len(figures(embed)) == 3 and f"Foto: {CREDIT}" in embed

    oembed = (await anonymous.get("/oembed", params={"url": f"{base}/i/{slug}"})).json()
    assert oembed["thumbnail_url"].startswith(f"{base}/media/") and oembed["thumbnail_width"] > 0
    assert (await anonymous.get(oembed["thumbnail_url"].removeprefix(base))).status_code == 200

    permalink = (await anonymous.get(f"/i/{slug}/e/2")).text
    assert len(figures(permalink)) == 1


# Storage on every deployment.


async def test_a_photo_uploaded_through_one_node_is_served_by_another(
    postgres_url: str, redis_server: RedisServer
) -> None:
    settings = node_settings(postgres_url, redis_server.url)
    async with running_node(settings) as a, running_node(settings) as b:
        reporter = await a.reporter()
        photo = await uploaded(reporter)
        slug = await reporter.incident()
        await reporter.post(slug, "Via A.", photos=[{"id": photo["id"]}])
        async with httpx.AsyncClient(base_url=b.url) as via_b:
            for file in photo["files"]:
                response = await via_b.get(file["url"])
                assert response.status_code == 200 and response.headers["cache-control"] == IMMUTABLE
                assert metadata_of(response.content)["secrets"] == []
            assert len(figures((await via_b.get(f"/i/{slug}")).text)) == 1


async def test_with_a_media_directory_every_node_serves_from_it(tmp_path: Path, sqlite_url: str) -> None:
    settings = node_settings(sqlite_url, media_dir=str(tmp_path / "media"))
    async with running_node(settings) as a, running_node(settings) as b:
        photo = await uploaded(await a.reporter())
        assert (await stored(a))[1] == 0  # no file in SQL: they are in the directory
        kept = sorted(p.name for p in (tmp_path / "media").rglob("*") if p.is_file())
        assert kept == sorted(f["url"].removeprefix("/media/") for f in photo["files"])
        async with httpx.AsyncClient(base_url=b.url) as via_b:
            response = await via_b.get(photo["src"])
            assert response.status_code == 200 and response.headers["cache-control"] == IMMUTABLE
