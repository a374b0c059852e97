"""A card's picture made ready to upload: decoded with Pillow, its first frame only, metadata
(EXIF, GPS, XMP, comments) left behind, at most ~2000 px on the long side, and at most the
1,000,000 bytes Bluesky takes for a card's thumb. JPEG, or PNG/WebP where the picture came so
and that is smaller (flat graphics, screenshots)."""

from __future__ import annotations

import io
import threading
import warnings

from PIL import Image, ImageOps

from bot.core.media import Thumb
from bot.errors import CardError

MAX_THUMB_BYTES = 1_000_000  # Bluesky's limit for an external embed's thumb blob
MAX_SIDE = 2000  # long side of a re-encoded thumb, in pixels: plenty for a card
# Refuse to decode anything larger (decompression bombs, and memory): a picture is decoded to
# ~4 bytes a pixel and converted once more, so 16 megapixels (a 4600x3450 photo) costs ~130 MB
# at its peak; with at most DECODES at a time that is what the daemon can afford (a 7000x7000
# PNG cost ~400 MB, and eight of them could be decoded side by side).
MAX_PIXELS = 16_000_000
DECODES = 2
_decoding = threading.BoundedSemaphore(DECODES)
PASS_THROUGH = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# Info keys that say nothing about the author, place or camera: an image carrying only these
# may be posted byte for byte when it already fits.
_HARMLESS_INFO = {
    "jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi", "progressive", "progression",
    "adobe", "adobe_transform", "icc_profile", "gamma", "srgb", "chromaticity", "aspect",
    "lossless",
}
_QUALITIES = (85, 75, 65)


def _open(data: bytes) -> Image.Image:
    """The decoded first frame; CardError for anything that is not a reasonable image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))
            # Checked from the header, before any pixel is decoded.
            if img.width * img.height > MAX_PIXELS:
                raise CardError(f"image too large to decode ({img.width}x{img.height})")
            img.load()  # the first frame; a truncated or fake image fails here, not at upload
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise CardError(f"not an image: {exc}") from exc
    return img


def _clean_as_is(img: Image.Image, size: int) -> bool:
    """True when the bytes as served may be posted: a still image of an accepted format, small
    enough, and carrying no metadata."""
    return (
        img.format in PASS_THROUGH
        and not getattr(img, "is_animated", False)
        and size <= MAX_THUMB_BYTES
        and max(img.size) <= MAX_SIDE
        and set(img.info) <= _HARMLESS_INFO
        and not img.getexif()
    )


def _encode(img: Image.Image, fmt: str, quality: int) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        img.save(out, "JPEG", quality=quality, optimize=True)
    elif fmt == "WEBP":
        img.save(out, "WEBP", quality=quality)
    else:
        img.save(out, "PNG", optimize=False)
    return out.getvalue()


def fit(data: bytes) -> Thumb:
    """`data` as a card thumb; raises CardError if it is not an image that can be used. At
    most DECODES pictures are decoded at a time, whatever the number of fetching threads."""
    with _decoding:
        return _fit(data)


def _fit(data: bytes) -> Thumb:
    img = _open(data)
    source = img.format or ""
    if _clean_as_is(img, len(data)):
        return Thumb(data, PASS_THROUGH[source], img.width, img.height)
    img = ImageOps.exif_transpose(img)  # the picture as shown, before its EXIF is dropped
    opaque = True
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")  # flatten onto white: JPEG has no alpha
        opaque = rgba.getchannel("A").getextrema()[0] == 255
        img = Image.new("RGB", rgba.size, "white")
        img.paste(rgba, mask=rgba.getchannel("A"))
    else:
        img = img.convert("RGB")
    img.info = {}  # nothing of the original's metadata travels into the new file
    img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    while True:
        for quality in _QUALITIES:
            best = _encode(img, "JPEG", quality)
            if len(best) <= MAX_THUMB_BYTES:
                if source in ("PNG", "WEBP") and opaque and quality == _QUALITIES[0]:
                    same = _encode(img, source, quality)
                    if len(same) < len(best):
                        return Thumb(same, PASS_THROUGH[source], img.width, img.height)
                return Thumb(best, "image/jpeg", img.width, img.height)
        # Still too big: shrink by about what the byte count says (bytes ~ pixels), and retry.
        scale = min(0.85, 0.9 * (MAX_THUMB_BYTES / len(best)) ** 0.5)
        size = (round(img.width * scale), round(img.height * scale))
        if min(size) < 16:
            raise CardError("image does not fit in 1,000,000 bytes")
        img = img.resize(size, Image.Resampling.LANCZOS)
