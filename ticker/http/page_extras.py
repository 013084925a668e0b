"""The ad slot and the Swish support box on reader pages (docs/reader.md, "Ads and support").

The ad slot is an iframe from the configured ad server (``TICKER_AD_URL``) after every ``TICKER_AD_EVERY_ENTRIES``
entries, labelled "Annons". It is sandboxed without ``allow-same-origin``: the ad runs in an opaque origin, so it
can set no cookie and read no storage, and our page itself sets no cookie and runs no script of anyone else's.
The ad may run scripts in its frame and open the advertiser's page in a new tab (a click), nothing more; it is
loaded lazily and gets no referrer. Our pages' policy names the ad server in ``frame-src`` only where a slot is.

The support box asks for a Swish payment to ``TICKER_SWISH_NUMBER``, with a QR code made here (segno), in the
Swish app's payment format: ``C<number>;<amount>;<message>;<lock mask>``. The amount is left for the reader, the
message prefilled (``TICKER_SWISH_MESSAGE``, URL-encoded); the mask's bits say what the payer may change (payee
1, amount 2, message 4): 6, the amount and the message. Its QR code is served by ticker.http.ads.

Embeds show neither, unless the partner is one of ``TICKER_AD_PARTNERS``.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlsplit

import segno

from ticker.config import Settings

QR_PATH = "/support/swish.svg"
SANDBOX = "allow-scripts allow-popups allow-popups-to-escape-sandbox"
EDITABLE_AMOUNT_AND_MESSAGE = 6  # the lock mask: payee fixed (bit 0 clear), amount (2) and message (4) editable


def swish_payload(number: str, message: str, amount: str = "") -> str:
    """What the Swish app reads from a payment QR code."""
    digits = "".join(c for c in number if c.isdigit())
    return f"C{digits};{amount};{quote(message, safe='')};{EDITABLE_AMOUNT_AND_MESSAGE}"


QR_SCALE, QR_BORDER = 4, 4  # pixels per module; the quiet zone of 4 modules the standard asks for


@lru_cache(maxsize=4)
def swish_qr_code(number: str, message: str) -> segno.QRCode:
    return segno.make_qr(swish_payload(number, message), error="m")  # M: read from a screen at arm's length


def swish_svg(number: str, message: str) -> bytes:
    out = io.BytesIO()
    code = swish_qr_code(number, message)
    code.save(out, kind="svg", scale=QR_SCALE, border=QR_BORDER, xmldecl=False, title="Swish", light="#fff")
    return out.getvalue()


@dataclass(frozen=True)
class PageParts:
    """What a reader page shows besides the incident: the ad slots and the support box (each may be off)."""

    ad_every: int  # an ad slot after every this many entries; 0: none
    ad_src: str
    swish_number: str
    qr_src: str
    qr_size: int = 0  # the QR code's width and height in CSS pixels

    @property
    def tag(self) -> tuple[object, ...]:
        """Their part of the page's ETag: a changed setting is a changed page."""
        return (self.ad_every, self.ad_src, self.swish_number, self.qr_src)

    @property
    def sandbox(self) -> str:
        return SANDBOX

    @property
    def frame_src(self) -> str | None:
        return ad_origin_of(self.ad_src) if self.ad_every else None


def ad_origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def page_parts(settings: Settings, *, partner: str | None = None) -> PageParts:
    """The parts for our own pages, or (``partner`` given) for an embed: none unless the partner is allowed."""
    allowed = partner is None or partner in partners(settings)
    every = settings.ad_every_entries if allowed and settings.ad_url else 0
    number = (settings.swish_number or "") if allowed else ""
    qr, size = "", 0
    if number:
        version = hashlib.sha256(f"{number}\n{settings.swish_message}".encode()).hexdigest()[:12]
        qr = f"{QR_PATH}?v={version}"
        size = int(swish_qr_code(number, settings.swish_message).symbol_size(scale=QR_SCALE, border=QR_BORDER)[0])
    return PageParts(every, (settings.ad_url or "") if every else "", number, qr, size)


def partners(settings: Settings) -> set[str]:
    return {name.strip() for name in settings.ad_partners.split(",") if name.strip()}
