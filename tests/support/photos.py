"""Photos made in the test with Pillow: a phone's JPEG with everything a phone writes into it (EXIF with GPS and
the orientation, XMP, a comment, an ICC profile), and the files an upload must refuse."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageCms

GPS_IFD = 0x8825
ORIENTATION = 0x0112
# Where the photo was taken, as a phone writes it: the test looks for these in every file served.
LATITUDE = (57.0, 42.0, 25.5)
LONGITUDE = (11.0, 58.0, 12.25)
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="57,42.425N"/></rdf:RDF>'
    b"</x:xmpmeta>"
)
SECRETS = (b"GPS", b"Exif", b"xmpmeta", b"57,42.425N", b"iPhone", b"Reporterns telefon")

# Made once: LittleCMS stamps a profile with the second it was made, so two photos made a second apart would
# differ in their bytes (and a retried upload of "the same" photo would not be the same).
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def phone_jpeg(width: int = 48, height: int = 32, *, colour: tuple[int, int, int] = (200, 40, 30)) -> bytes:
    """A JPEG as a phone takes it: EXIF (GPS, maker, orientation 6: turned a quarter), XMP, a comment, sRGB ICC."""
    image = Image.new("RGB", (width, height), colour)
    image.paste((20, 90, 200), (0, 0, width // 2, height // 4))  # a corner that shows which way is up
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[0x010F] = "Apple"
    exif[0x0110] = "iPhone 15"
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: LATITUDE, 3: "E", 4: LONGITUDE})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, xmp=XMP, comment=b"Reporterns telefon", icc_profile=SRGB, quality=90)
    return out.getvalue()


def encoded(fmt: str, size: tuple[int, int] = (40, 30), mode: str = "RGB", **options: Any) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 128 if mode == "L" else (10, 120, 60)).save(out, fmt, **options)
    return out.getvalue()


def bomb(megapixels: int = 50) -> bytes:
    """A PNG of ``megapixels`` million pixels, all one grey: a few tens of kilobytes on the wire."""
    return encoded("PNG", (10_000, megapixels * 100), mode="L", optimize=True)


def polyglot() -> bytes:
    """A JPEG that is also a web page: HTML with a script in a comment segment, which a browser sniffing the bytes
    would run."""
    html = b"<html><body><script>alert(document.cookie)</script></body></html>"
    return encoded("JPEG", comment=html)


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def metadata_of(data: bytes) -> dict[str, Any]:
    """What a served file says beyond its pixels, read back with Pillow, and which secrets its bytes hold."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return {
        "format": image.format,
        "exif": dict(image.getexif()),
        "gps": dict(image.getexif().get_ifd(GPS_IFD)),
        "xmp": image.info.get("xmp") or image.info.get("XML:com.adobe.xmp"),
        "icc": image.info.get("icc_profile"),
        "comment": image.info.get("comment"),
        "secrets": [s for s in SECRETS if s in data],
        "size": image.size,
    }
