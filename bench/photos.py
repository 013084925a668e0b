"""Photos (issue 15): what a photo costs the server, what a page of photos costs a phone, and what uploads cost
fan-out. A benchmark, not a test: it asserts nothing; docs/benchmarks.md keeps the figures of record.

    .venv/bin/python bench/photos.py cpu                    # one 12-megapixel photo through the pipeline
    .venv/bin/python bench/photos.py page                   # the reader page with 50 photo entries on a phone
    .venv/bin/python bench/photos.py fanout --readers 1000  # delivery with and without 20 uploads at once
    .venv/bin/python bench/photos.py fanout --workers 1     # the same with one photo worker
    .venv/bin/python bench/photos.py all                    # the three, as one JSON object

``cpu`` runs ticker.media.images.process_photo in this process on a 12-megapixel JPEG made here (a phone's
4000×3000, gradients and grain, EXIF with GPS), with and without AVIF: CPU time (every thread of the process) and
wall time of each run. ``page`` and ``fanout`` start a node (``ticker serve``, a fresh SQLite file in a
temporary directory, an editor's token made with the ``ticker`` command). ``page`` uploads 50 different photos
of 2560×1920 (what the desk sends after scaling a phone's photo down), posts an entry with each, and opens the
incident page in Chromium as a phone (390×844 CSS pixels, device pixel ratio 3): the bytes transferred at load,
and after scrolling to the end (every lazy photo loaded), beside what the same page would cost if each photo were
its largest JPEG. ``fanout`` runs bench/loadgen.py's readers against the node and posts 100 entries at 5 a second,
once alone and once while 20 clients upload 12-megapixel photos without pause: post→receipt latency and the
server's CPU (bench/measure.py).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from cli_post import free_port  # noqa: E402
from PIL import Image  # noqa: E402


def photo(width: int, height: int, seed: int = 0) -> bytes:
    """A photo-like JPEG: detail at every scale (grain upscaled from several sizes, over a gradient and a tint),
    which compresses as a real photo does, unlike flat colour or pure noise; EXIF with GPS as a phone writes it."""
    image = Image.radial_gradient("L").resize((width, height)).convert("RGB")
    tint = ((seed * 53) % 200 + 30, (seed * 97) % 200 + 30, (seed * 29) % 200 + 30)
    image = Image.blend(image, Image.new("RGB", (width, height), tint), 0.45)
    for scale, weight in ((32, 0.5), (8, 0.35), (2, 0.25), (1, 0.12)):
        grain = Image.effect_noise((max(1, width // scale), max(1, height // scale)), 40 + seed % 9)
        image = Image.blend(image, grain.resize((width, height), Image.Resampling.BICUBIC).convert("RGB"), weight)
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (57.0, 42.0, 25.5), 3: "E", 4: (11.0, 58.0, 12.25)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


# The pipeline's cost.


def cpu(runs: int) -> dict[str, Any]:
    from ticker.config import Settings
    from ticker.media.images import process_photo

    data = photo(4000, 3000)
    out: dict[str, Any] = {"input_bytes": len(data), "megapixels": 12.0}
    for name, avif in (("avif_webp_jpeg", True), ("webp_jpeg", False)):
        settings = Settings(photo_avif=avif)
        process_photo(data, settings)  # warm-up: codecs loaded, caches filled
        walls, cpus = [], []
        for _ in range(runs):
            wall, cpu0 = time.perf_counter(), time.process_time()
            made = process_photo(data, settings)
            cpus.append(time.process_time() - cpu0)
            walls.append(time.perf_counter() - wall)
        out[name] = {
            "runs": runs,
            "cpu_s_median": round(statistics.median(cpus), 3),
            "wall_s_median": round(statistics.median(walls), 3),
            "wall_s_min": round(min(walls), 3),
            "variants": len(made.variants),
            "variant_bytes": sum(len(v.data) for v in made.variants),
        }
    return out


# A node to measure.


@dataclass
class Running:
    url: str
    token: str
    pid: int


@contextmanager
def node(extra: dict[str, str]) -> Iterator[Running]:
    ticker = str(REPO / ".venv" / "bin" / "ticker")
    with tempfile.TemporaryDirectory(prefix="ticker-bench-photos-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TICKER_")}
        env |= {"TICKER_DATA_DIR": tmp, "TICKER_LOG_LEVEL": "warning", **extra}

        def run(*argv: str) -> str:
            done = subprocess.run([ticker, *argv], env=env, cwd=tmp, capture_output=True, text=True, timeout=120)
            if done.returncode:
                sys.exit(f"ticker {' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
            return done.stdout

        run("db", "upgrade")
        run("user", "add", "bench", "--role", "editor", "--no-password")
        token = run("token", "create", "--user", "bench").strip().splitlines()[-1]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with open(Path(tmp) / "node.log", "wb") as log:
            process = subprocess.Popen([ticker, "serve", "--port", str(port)], env=env, cwd=tmp, stdout=log, stderr=log)
            try:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        urllib.request.urlopen(f"{url}/readyz", timeout=2)
                        break
                    except OSError:
                        if time.monotonic() > deadline or process.poll() is not None:
                            sys.exit("the node did not start:\n" + (Path(tmp) / "node.log").read_text())
                        time.sleep(0.1)
                yield Running(url, token, process.pid)
            finally:
                process.terminate()
                process.wait(30)


async def upload(client: Any, data: bytes, alt: str) -> dict[str, Any]:
    response = await client.post(
        "/api/photos", files={"file": ("foto.jpg", data)}, data={"alt": alt, "credit": "Bench"}
    )
    response.raise_for_status()
    found: dict[str, Any] = response.json()["photo"]
    return found


# The reader page on a phone.


async def page(entries: int) -> dict[str, Any]:
    import httpx
    from playwright.async_api import async_playwright

    settings = {"TICKER_PHOTO_UPLOADS_PER_MINUTE": "1000", "TICKER_PAGE_ENTRIES": str(max(50, entries))}
    with node(settings) as running:
        headers = {"Authorization": f"Bearer {running.token}"}
        async with httpx.AsyncClient(base_url=running.url, headers=headers, timeout=120) as client:
            created = await client.post("/api/incidents", json={"title": "Storm över Göteborg"})
            slug = created.json()["incident"]["slug"]
            largest_jpeg = 0
            for n in range(entries):
                made = await upload(client, photo(2560, 1920, seed=n + 1), f"Bild {n}")
                biggest = max((f for f in made["files"] if f["type"] == "image/jpeg"), key=lambda f: f["width"])
                largest_jpeg += _size(running.url, biggest["url"])
                body = {"body": f"Uppdatering {n}: vinden river tak i Majorna.", "photos": [{"id": made["id"]}]}
                (await client.post(f"/api/incidents/{slug}/entries", json=body)).raise_for_status()
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
            try:
                results = {}
                for ratio in (3, 2):
                    results[f"dpr{ratio}"] = await _phone_load(browser, f"{running.url}/i/{slug}", ratio)
            finally:
                await browser.close()
    return {"entries": entries, **results, "largest_jpeg_each_bytes": largest_jpeg}


def _size(base: str, path: str) -> int:
    with urllib.request.urlopen(base + path, timeout=30) as response:
        return len(response.read())


async def _phone_load(browser: Any, url: str, ratio: int) -> dict[str, Any]:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=ratio, is_mobile=True, has_touch=True
    )
    tab = await context.new_page()
    cdp = await context.new_cdp_session(tab)
    await cdp.send("Network.enable")
    await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    loaded: dict[str, float] = {}
    kinds: dict[str, str] = {}
    cdp.on("Network.responseReceived", lambda e: kinds.__setitem__(e["requestId"], e["type"]))
    cdp.on("Network.loadingFinished", lambda e: loaded.__setitem__(e["requestId"], e["encodedDataLength"]))

    def total(kind: str | None = None) -> int:
        return int(sum(v for k, v in loaded.items() if kind is None or kinds.get(k) == kind))

    await tab.goto(url, wait_until="networkidle")
    at_load = {"all": total(), "images": total("Image"), "requests": len(loaded)}
    height = await tab.evaluate("document.body.scrollHeight")
    for y in range(0, height + 844, 600):  # as a reader scrolls: every lazy photo comes into view once
        await tab.evaluate(f"window.scrollTo(0, {y})")
        await asyncio.sleep(0.05)
    await tab.wait_for_load_state("networkidle")
    await asyncio.sleep(1)
    chosen = await tab.evaluate("[...document.querySelectorAll('.entry-photo img')].map(i => i.currentSrc)")
    scrolled = {"all": total(), "images": total("Image"), "requests": len(loaded)}
    await context.close()
    formats = {src.rsplit(".", 1)[-1] for src in chosen}
    return {"at_load": at_load, "after_scrolling": scrolled, "formats_chosen": sorted(formats)}


# Fan-out beside uploads.


async def fanout(readers: int, uploaders: int, workers: int) -> dict[str, Any]:
    data = photo(4000, 3000)
    out: dict[str, Any] = {"readers": readers, "uploaders": uploaders, "workers": workers, "upload_bytes": len(data)}
    for name, with_uploads in (("alone", False), ("with_uploads", True)):
        out[name] = await _fanout_run(readers, uploaders if with_uploads else 0, data, workers)
    return out


async def _fanout_run(readers: int, uploaders: int, data: bytes, workers: int) -> dict[str, Any]:
    """One run: readers, 100 posts at 5 a second, and ``uploaders`` clients uploading ``data`` without pause
    from the first post to the last."""
    import httpx
    import loadgen
    from measure import sample, server_figures

    extra = {
        "TICKER_PHOTO_UPLOADS_PER_MINUTE": "100000",
        "TICKER_PHOTO_QUEUE": str(uploaders + 4),  # every upload is taken, none refused with 503
        "TICKER_PHOTO_WORKERS": str(workers),
    }
    with node(extra) as running:
        target = loadgen.make_target("ticker", running.url, running.token)
        scenario = loadgen.Scenario("photos", readers, posts=100, rate=5.0, quiet=10.0)
        samples: dict[str, Any] = {}
        stop = asyncio.Event()
        tasks: list[asyncio.Task[Any]] = []
        uploads = {"done": 0, "refused": 0}

        async def uploader() -> None:
            headers = {"Authorization": f"Bearer {running.token}"}
            async with httpx.AsyncClient(base_url=running.url, headers=headers, timeout=300) as client:
                while not stop.is_set():
                    response = await client.post(
                        "/api/photos", files={"file": ("foto.jpg", data)}, data={"alt": "x", "credit": "y"}
                    )
                    uploads["done" if response.status_code == 201 else "refused"] += 1

        def probe(phase: str) -> None:
            samples[phase] = sample(running.pid)
            if phase == "start":
                tasks.extend(asyncio.get_running_loop().create_task(uploader()) for _ in range(uploaders))
            if phase == "end":
                stop.set()

        try:
            result = await loadgen.run_scenario(scenario, target, running.url, procs=1, probe=probe)
        finally:
            stop.set()
            await target.close()
            await asyncio.gather(*tasks, return_exceptions=True)
        return {
            "latency_ms": result.latency_ms,
            "received": result.received,
            "expected": result.expected,
            "missing": result.missing,
            "duplicates": result.duplicates,
            "post_s": result.post_s,
            "server": server_figures(samples, result.received, result.subscribed),
            "uploads": uploads if uploaders else None,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["cpu", "page", "fanout", "all"])
    parser.add_argument("--runs", type=int, default=5, help="cpu: timed runs")
    parser.add_argument("--entries", type=int, default=50, help="page: entries with a photo")
    parser.add_argument("--readers", type=int, default=1000, help="fanout: readers")
    parser.add_argument("--uploaders", type=int, default=20, help="fanout: clients uploading at once")
    parser.add_argument("--workers", type=int, default=2, help="fanout: TICKER_PHOTO_WORKERS of the node")
    args = parser.parse_args()
    out: dict[str, Any] = {"load_average_before": round(os.getloadavg()[0], 2)}
    if args.what in ("cpu", "all"):
        out["cpu"] = cpu(args.runs)
    if args.what in ("page", "all"):
        out["page"] = asyncio.run(page(args.entries))
    if args.what in ("fanout", "all"):
        import loadgen

        loadgen.raise_nofile()
        out["fanout"] = loadgen.run_loop(fanout(args.readers, args.uploaders, args.workers))
    out["load_average_after"] = round(os.getloadavg()[0], 2)
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
