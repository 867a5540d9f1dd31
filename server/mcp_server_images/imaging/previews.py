"""Previews that fit a byte budget.

Previews exist because MCP clients reject large results (Claude Desktop fails past 1 MiB of JSON); the full
image always stays on disk untouched. A preview keeps the aspect ratio and, when the source really has
transparent pixels, its transparency.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

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
    size. The scale shrinks until the encoding fits or the short side is down to 16 px.
    """
    with Image.open(io.BytesIO(data)) as source:
        alpha = has_transparency(source)
        image = source.convert("RGBA" if alpha else "RGB")
    scale = min(1.0, max_side / max(image.width, image.height))
    # The smallest scale puts the short side at 16 px; one that is shorter already stays as it is. Scaling both
    # sides alike at the floor too keeps the aspect ratio: an icon is never enlarged nor a banner stretched.
    floor = min(scale, MIN_PREVIEW_SIDE / min(image.width, image.height))
    quality = 85
    while True:
        width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
        resized = image if (width, height) == image.size else image.resize((width, height), Image.Resampling.LANCZOS)
        encoded, mime = _encode(resized, alpha, quality)
        if len(encoded) <= max_bytes or scale <= floor:
            return Preview(encoded, mime, width, height)
        # Encoded size grows roughly with the pixel count, so shrink both sides by the square root of the overshoot.
        scale = max(floor, scale * min(0.9, (max_bytes / len(encoded)) ** 0.5))
        quality = max(60, quality - 5)


def _encode(image: Image.Image, alpha: bool, quality: int) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    if alpha:
        image.save(buffer, format="WEBP", quality=quality, method=4)
        return buffer.getvalue(), "image/webp"
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue(), "image/jpeg"
