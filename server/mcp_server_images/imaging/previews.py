"""Previews that fit a byte budget.

Previews exist because MCP clients reject large results (Claude Desktop fails past 1 MiB of JSON); the full
image always stays on disk untouched. A preview keeps the aspect ratio and, when the source really has
transparent pixels, its transparency.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from .budget import decoding
from .probe import has_transparency

PREVIEW_MAX_SIDE = 1568
"""The long side Anthropic's vision models use; larger previews only cost bytes."""
MIN_PREVIEW_SIDE = 16


@dataclass(frozen=True)
class Preview:
    data: bytes
    mime_type: str
    width: int
    height: int


def fit_preview(data: bytes, max_bytes: int, max_side: int = PREVIEW_MAX_SIDE) -> Preview:
    """A downscaled copy whose encoded size is at most `max_bytes`.

    Opaque images become JPEG; images with transparency become WebP, which keeps alpha at a fraction of PNG's
    size. The scale shrinks until the encoding fits; the result never goes below a 16 px side. The preview
    shows the image the right way up (EXIF orientation applied).
    """
    with decoding(data, fit=(max_side, max_side)) as source:
        alpha = has_transparency(source)
        return _fit(source.convert("RGBA" if alpha else "RGB"), alpha, max_bytes, max_side)


def _fit(image: Image.Image, alpha: bool, max_bytes: int, max_side: int) -> Preview:
    """fit_preview's shrinking loop, run while the decoded pixels are held in the decode budget."""
    scale = min(1.0, max_side / max(image.width, image.height))
    quality = 85
    while True:
        width = max(MIN_PREVIEW_SIDE, round(image.width * scale))
        height = max(MIN_PREVIEW_SIDE, round(image.height * scale))
        resized = image if (width, height) == image.size else image.resize((width, height), Image.Resampling.LANCZOS)
        encoded, mime = _encode(resized, alpha, quality)
        smallest = width == MIN_PREVIEW_SIDE or height == MIN_PREVIEW_SIDE
        if len(encoded) <= max_bytes or smallest:
            return Preview(encoded, mime, width, height)
        # Encoded size grows roughly with the pixel count, so shrink both sides by the square root of the overshoot.
        scale *= min(0.9, (max_bytes / len(encoded)) ** 0.5)
        quality = max(60, quality - 5)


def _encode(image: Image.Image, alpha: bool, quality: int) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    if alpha:
        image.save(buffer, format="WEBP", quality=quality, method=4)
        return buffer.getvalue(), "image/webp"
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue(), "image/jpeg"
