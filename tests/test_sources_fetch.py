"""The guarded fetcher refuses internal addresses at the resolver, before any connection, and re-checks every
redirect; and each kind's parser reads its recorded answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpcore
import pytest

from tests.support.network import Recording, resolving
from tests.support.source_server import recorded, source_server
from ticker.net.fetch import Fetcher, FetchError, FetchLimits, GuardedBackend, GuardedTransport, refusal
from ticker.sources import feeds, krisinformation, polisen, vma
from ticker.sources.found import Filters, Unreadable


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "127.0.0.1",
        "::1",
        "169.254.169.254",  # a cloud's metadata service
        "fe80::1",
        "224.0.0.251",
        "ff02::1",
        "0.0.0.0",
        "240.0.0.1",
        "100.64.0.1",  # carrier-grade NAT
        "::ffff:10.0.0.5",  # IPv4 inside IPv6
        "fc00::1",
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    assert refusal(address) is not None


def test_public_addresses_pass_and_loopback_only_by_setting() -> None:
    assert refusal("93.184.216.34") is None and refusal("2606:4700::6810:84e5") is None
    assert refusal("127.0.0.1", allow_loopback=True) is None and refusal("::1", allow_loopback=True) is None
    assert refusal("10.0.0.5", allow_loopback=True) == "private"


@pytest.mark.parametrize("addresses", [["10.0.0.5"], ["93.184.216.34", "10.0.0.5"], ["192.168.0.10", "93.184.216.34"]])
async def test_a_name_resolving_to_a_private_address_is_refused_before_any_connection(addresses: list[str]) -> None:
    network = Recording()
    fetcher = Fetcher(FetchLimits(), resolver=resolving({"intranet.example": addresses}), backend=network)
    with pytest.raises(FetchError) as refused:
        await fetcher.get("http://intranet.example/admin")
    await fetcher.aclose()
    assert refused.value.code == "refused" and "private" in refused.value.message
    assert network.connects == []  # no traffic was sent anywhere


async def test_the_checked_address_is_connected_to_not_the_name() -> None:
    network = Recording()
    fetcher = Fetcher(FetchLimits(), resolver=resolving({"polisen.example": ["93.184.216.34"]}), backend=network)
    with pytest.raises(FetchError) as failed:
        await fetcher.get("https://polisen.example/api/events")
    await fetcher.aclose()
    assert failed.value.code == "connect"
    assert network.connects == [("93.184.216.34", 443)]  # a second lookup could have answered otherwise


async def test_every_redirect_is_checked_again_and_they_are_bounded() -> None:
    async with source_server() as fixture:
        fixture.answer("/inside", status=302, headers={"Location": "http://10.0.0.5/latest/meta-data/"})
        fixture.answer("/loop", status=301, headers={"Location": "/loop"})
        fetcher = Fetcher(FetchLimits(allow_loopback=True, max_redirects=3))
        with pytest.raises(FetchError) as refused:
            await fetcher.get(fixture.url("/inside"))
        assert refused.value.code == "refused"
        with pytest.raises(FetchError) as looping:
            await fetcher.get(fixture.url("/loop"))
        assert looping.value.code == "redirects" and len(fixture.seen("/loop")) == 4
        await fetcher.aclose()
        # Loopback itself is refused without the setting.
        strict = Fetcher(FetchLimits())
        with pytest.raises(FetchError) as loopback:
            await strict.get(fixture.url("/loop"))
        await strict.aclose()
        assert loopback.value.code == "refused" and len(fixture.seen("/loop")) == 4


@pytest.mark.parametrize("url", ["ftp://polisen.se/x", "http://user:secret@polisen.se/", "/relative", "http://"])
async def test_only_plain_http_addresses_are_fetched(url: str) -> None:
    fetcher = Fetcher(FetchLimits(), backend=Recording())
    with pytest.raises(FetchError) as refused:
        await fetcher.get(url)
    await fetcher.aclose()
    assert refused.value.code == "bad_url"


def test_httpx_private_attribute_the_guard_relies_on() -> None:
    """GuardedTransport replaces httpx's connection pool (``_pool``); an httpx that renamed it fails here."""
    guard = GuardedBackend(resolving({}))
    transport = GuardedTransport(guard)
    assert isinstance(transport._pool, httpcore.AsyncConnectionPool)
    assert transport._pool._network_backend is guard


# Parsers, on recorded answers in each source's documented shape.


def test_police_events() -> None:
    found = polisen.parse(recorded("polisen-events.json"), "https://polisen.se/api/events")
    first = found[0]
    assert (first.external_id, first.title, first.type, first.place) == (
        "512301",
        "Trafikbrott, Södertälje",
        "Trafikbrott",
        "Södertälje",
    )
    assert (
        first.url == "https://polisen.se/aktuellt/handelser/2026/november/30/30-november-21.41-trafikbrott-sodertalje/"
    )
    assert (first.lat, first.lng) == (59.195363, 17.625689)
    assert first.published_at == datetime(2026, 11, 30, 20, 41, 9, tzinfo=UTC)
    keep = Filters(places=("Södertälje",), types=("Trafikbrott",))
    assert [f.external_id for f in found if keep.keeps(f)] == ["512301"]
    assert [f.external_id for f in found if Filters(places=("södertälje",)).keeps(f)] == ["512301", "512297"]


def test_krisinformation_vmas_and_news() -> None:
    vmas = krisinformation.parse(recorded("krisinformation-vmas.json"), "https://api.krisinformation.se/v3/vmas")
    assert [(f.vma, f.type, f.place) for f in vmas] == [(True, "VMA", "Stockholms län, Södertälje kommun")]
    news = krisinformation.parse(recorded("krisinformation-news.json"), "https://api.krisinformation.se/v3/news")
    assert [f.vma for f in news] == [False, False]
    assert [f.title for f in news if Filters(places=("Stockholm",)).keeps(f)] == [
        "Störningar i vattenförsörjningen i Nykvarn"
    ]


def test_sveriges_radio_vma() -> None:
    found = vma.parse(recorded("sr-vma-alerts.json"), "https://vmaapi.sr.se/api/v2/alerts")
    assert len(found) == 1  # the test message is left out
    alert = found[0]
    assert (alert.external_id, alert.title, alert.vma, alert.place) == (
        "SRVMA-INC-0181-1",
        "VMA Södertälje: brand med kraftig rök",
        True,
        "Södertälje kommun",
    )
    assert Filters(places=("0181",)).keeps(alert) and not Filters(places=("Uppsala",)).keeps(alert)


def test_rss_and_atom_feeds() -> None:
    rss = feeds.parse(recorded("feed.rss.xml"), "https://www.sbff.se/rss")
    assert [(f.external_id, f.type) for f in rss] == [("sbff-larm-88121", "Brand"), ("sbff-larm-88119", "Trafikolycka")]
    assert rss[0].summary == "Räddningstjänsten arbetar med en brand i en industrilokal i Södertälje."
    assert [f.external_id for f in rss if Filters(places=("Södertälje",)).keeps(f)] == ["sbff-larm-88121"]
    atom = feeds.parse(recorded("feed.atom.xml"), "https://www.sodertalje.se/feed")
    assert [(a.title, a.url, a.type) for a in atom] == [
        ("Vattenläcka på Storgatan", "https://www.sodertalje.se/nyheter/vattenlacka-storgatan", "Störningar")
    ]


@pytest.mark.parametrize(
    ("parse", "body"),
    [
        (polisen.parse, b'{"error": "not a list"}'),
        (polisen.parse, b"<html>"),
        (krisinformation.parse, b"[1, 2]"),
        (vma.parse, b"[]"),
        (feeds.parse, b"<html><body>not a feed</body></html>"),
        (feeds.parse, b"no xml at all"),
        (feeds.parse, b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><rss>&b;</rss>'),
    ],
)
def test_answers_in_the_wrong_shape_are_unreadable(parse: Any, body: bytes) -> None:
    with pytest.raises(Unreadable):
        parse(body, "https://example.se/x")
