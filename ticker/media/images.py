"""Photos: prove an upload is an image, strip everything it says about where and how it was taken, and make the
variants pages show (docs/design.md, "Photos").

Pure and synchronous (bytes in, bytes out): ``process_photo`` is what the upload API, the lead photo, tips and
link cards' thumbnails run, in the worker pool of ticker.media.pool so the event loop keeps fanning out.

What it refuses, each with a code and a message the API and the desk show (``PhotoRefused``):

- anything over ``photo_max_bytes`` (the HTTP layer stops reading there too);
- a file whose first bytes are not JPEG, PNG, WebP, HEIC/HEIF or GIF (names and Content-Type are never asked);
- markup inside the file (a JPEG/HTML polyglot): the bytes served are re-encoded and cannot carry it, but a file
  made to be read as a page is not a reporter's photo, and refusing it keeps it out of every log and backup;
- more than ``photo_max_pixels`` pixels, read from the header before a pixel is decoded (a decompression bomb);
- a file Pillow cannot decode to the end (truncated, or not what its signature says).

What it keeps: the pixels only, turned upright by the EXIF orientation and converted to sRGB by their ICC
profile; EXIF (GPS, maker notes), XMP, IPTC, ICC and comments are all left behind, because every variant is
encoded from a fresh image that has no ``info``.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import warnings
from dataclasses import dataclass
from typing import Protocol

from PIL import Image, ImageCms, ImageFile, ImageOps, features

from ticker.errors import PhotoCode
from ticker.media.sizes import widths_of

try:  # HEIC/HEIF (iPhones' default); without the package those files are refused as an unsupported type
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF = True
except ImportError:  # pragma: no cover - the package is a dependency; kept optional for odd platforms
    HEIF = False

# A bomb's warning is a refusal here, not a line in a log (pytest makes it an error in tests already).
warnings.simplefilter("error", Image.DecompressionBombWarning)
# Never paint the rest of a truncated file grey: such a file is refused.
ImageFile.LOAD_TRUNCATED_IMAGES = False

AVIF = features.check("avif")

# The formats Pillow may open an upload as; its other plugins (EPS, PDF, SVG-free but odd formats) never run.
OPEN_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", *(("HEIF",) if HEIF else ()))

JPEG_QUALITY = 82
WEBP_QUALITY = 80
AVIF_QUALITY = 60
AVIF_SPEED = 8  # libavif's 0 (slowest, smallest) … 10; 8 costs a fifth of the default 6 for a few per cent

ORIENTATION = 0x0112  # the EXIF tag
ROTATED = {5, 6, 7, 8}  # orientations shown turned a quarter, their width and height swapped

CONTENT_TYPES = {"avif": "image/avif", "webp": "image/webp", "jpeg": "image/jpeg"}

# Markup that makes a file a page as well as an image; searched in the raw bytes, case-insensitively. Seven or
# more fixed letters each: in compressed pixel data one of these turns up about once in 10^13 photos.
_MARKUP = re.compile(rb"<(?:script|html|body|iframe|svg|!doctype|object|embed)[\s>/]|javascript:", re.IGNORECASE)

_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"heif")


class PhotoSettings(Protocol):
    """The settings the pipeline reads (ticker.config.Settings has them; so may a test's or a bench's object)."""

    @property
    def photo_max_bytes(self) -> int: ...
    @property
    def photo_max_pixels(self) -> int: ...
    @property
    def photo_widths(self) -> str: ...
    @property
    def photo_avif(self) -> bool: ...


class PhotoRefused(ValueError):
    """An upload that is not a photo we keep. ``code`` is the API's error, ``message`` says why in English;
    the desk shows its own Swedish text for the code (ticker.http.desk_text)."""

    def __init__(self, code: PhotoCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Variant:
    """One encoded file: content-addressed by the SHA-256 of its bytes (its URL and ETag)."""

    format: str  # avif | webp | jpeg
    width: int
    height: int
    data: bytes
    digest: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def name(self) -> str:
        """The file's name under /media/: its digest and an extension for people who save it."""
        return f"{self.digest}.{'jpg' if self.format == 'jpeg' else self.format}"


@dataclass(frozen=True, slots=True)
class ProcessedPhoto:
    width: int  # of the largest variant (the photo as pages know it; the aspect ratio of every variant)
    height: int
    source_format: str  # what the upload was: JPEG, PNG, WEBP, GIF, HEIF
    source_digest: str  # SHA-256 of the uploaded bytes (the same file uploaded twice is one photo)
    variants: tuple[Variant, ...]

    def of_format(self, fmt: str) -> list[Variant]:
        return sorted((v for v in self.variants if v.format == fmt), key=lambda v: v.width)


def sniff(data: bytes) -> str | None:
    """The format the file's signature names, or None for anything we do not take (SVG, PDF, HTML, …)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "HEIF" if HEIF else None
    return None


def process_photo(data: bytes, settings: PhotoSettings) -> ProcessedPhoto:
    """Check ``data`` and make the photo's variants; raises PhotoRefused. CPU-bound: run it off the event loop."""
    if len(data) > settings.photo_max_bytes:
        raise PhotoRefused("too_large", f"the photo is larger than {settings.photo_max_bytes} bytes")
    if not data:
        raise PhotoRefused("empty", "the upload is empty")
    kind = sniff(data)
    if kind is None:
        raise PhotoRefused("unsupported_type", "not a JPEG, PNG, WebP, HEIC/HEIF or GIF image")
    if _MARKUP.search(data):
        raise PhotoRefused("not_an_image", "the file carries markup (HTML or script) besides an image")
    widths = widths_of(settings.photo_widths)
    image = _decode(data, kind, settings.photo_max_pixels, widths[-1])
    return _variants(image, kind, hashlib.sha256(data).hexdigest(), widths, settings.photo_avif)


def _decode(data: bytes, kind: str, max_pixels: int, widest: int) -> Image.Image:
    # Pillow's own bomb check reads this global in Image.open (a warning past it, an error past twice it); ours
    # below reads the header's size first, so both say the same bound. Every node runs with one setting.
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        image = Image.open(io.BytesIO(data), formats=[kind])
        width, height = image.size
        if width * height > max_pixels:
            raise PhotoRefused("too_many_pixels", f"{width}×{height} is more than {max_pixels} pixels")
        if getattr(image, "is_animated", False):
            image.seek(0)  # an animation is shown as its first frame; the others are never decoded
        if kind == "JPEG":
            _draft(image, widest)
        image.load()
    except PhotoRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRefused("too_many_pixels", f"the image has more than {max_pixels} pixels") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow's words for a cut-off file ("image file is truncated …") or one that is not what it claims.
        raise PhotoRefused("not_an_image", f"the file could not be decoded as {kind} to its end ({exc})") from None
    return image


def _draft(image: Image.Image, widest: int) -> None:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 of the size (DCT scaling) where the variants need no more: a phone's
    12-megapixel photo is decoded at 3 megapixels for variants up to 1600 pixels wide, in about a quarter of the
    time and memory. The whole file is still decoded, so a truncated one is still refused."""
    width, height = image.size
    rotated = image.getexif().get(ORIENTATION) in ROTATED  # shown turned a quarter: its height is its width
    target = min(height if rotated else width, widest)
    if rotated:
        image.draft(image.mode, (math.ceil(target * width / height), target))
    else:
        image.draft(image.mode, (target, math.ceil(target * height / width)))


def _srgb(image: Image.Image, icc: bytes | None, mode: str) -> Image.Image:
    """``image`` in sRGB and ``mode``: through its ICC profile where it has one (a camera's Display P3, a CMYK
    press file), else as it is (browsers take an image without a profile as sRGB too)."""
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(
                image if mode == "RGB" or image.mode == "RGBA" else image.convert("RGBA"),
                source,
                ImageCms.createProfile("sRGB"),
                outputMode=mode,
            )
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken or unusual profile: the pixels are taken as sRGB, as browsers do
    return image.convert(mode)


def _variants(image: Image.Image, kind: str, source_digest: str, widths: tuple[int, ...], avif: bool) -> ProcessedPhoto:
    """The photo upright and in sRGB at each width, in each format. Scaled down first, so that the colour
    conversion and the copy that leaves every metadata block behind work on the largest variant, not the file."""
    upright = ImageOps.exif_transpose(image) or image
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info)
    mode = "RGBA" if has_alpha else "RGB"
    icc = image.info.get("icc_profile")
    if icc and upright.mode == "CMYK":  # a press file's colours mean nothing without its profile: convert first
        work, icc = _srgb(upright, icc, mode), None
    else:
        work = upright if upright.mode == mode else upright.convert(mode)
    full_width = min(work.width, widths[-1])
    if work.width != full_width:
        full_height = max(1, round(work.height * full_width / work.width))
        work = work.resize((full_width, full_height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    if icc:
        work = _srgb(work, icc, mode)
    # frombytes makes an image from the pixels alone: no info, so no EXIF, XMP, ICC or comment can follow into a
    # file (Pillow's encoders read some of them from an image's info: a JPEG's comment, an AVIF's ICC profile).
    clean = Image.frombytes(work.mode, work.size, work.tobytes())
    # The widths below the photo's own, and the photo at its own width (bounded by the largest).
    sizes = [w for w in widths if w < full_width] + [full_width]
    formats = ["avif", "webp", "jpeg"] if avif and AVIF else ["webp", "jpeg"]
    variants: list[Variant] = []
    larger = clean
    for width in reversed(sizes):
        height = max(1, round(clean.height * width / clean.width))
        # Each smaller size from the one above it.
        scaled = larger if larger.width == width else larger.resize((width, height), Image.Resampling.LANCZOS)
        larger = scaled
        for fmt in formats:
            data = _encode(scaled, fmt)
            variants.append(Variant(fmt, width, height, data, hashlib.sha256(data).hexdigest()))
    top = max(variants, key=lambda v: v.width)
    return ProcessedPhoto(top.width, top.height, kind, source_digest, tuple(variants))


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "jpeg":
        flat = image
        if image.mode == "RGBA":  # JPEG has no transparency: on white, as most pages' background
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.getchannel("A"))
        flat.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    elif fmt == "webp":
        image.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
    else:
        image.save(out, "AVIF", quality=AVIF_QUALITY, speed=AVIF_SPEED)
    return out.getvalue()
