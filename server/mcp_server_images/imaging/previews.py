"""Previews that fit a byte budget, and what a result shows of an image: the image itself, or a preview.

Previews exist because MCP clients reject large results (Claude Desktop fails past 1 MiB of JSON); the full
image always stays on disk untouched. A preview keeps the aspect ratio and, when the source really has
transparent pixels, its transparency. An SVG is only ever shown rasterized (its text is never handed to a
client as an image to render), and an animated GIF is shown moving when it fits the budget, else as its first
frame; `Preview.shows` says which, so the result's text can tell the user.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image

from .info import SVG_MIME
from .probe import has_transparency
from .svg import looks_like_svg, probe_svg, rasterize

PREVIEW_MAX_SIDE = 1568
"""The long side Anthropic's vision models use; larger previews only cost bytes."""
MIN_PREVIEW_SIDE = 16


class Shown(StrEnum):
    """What an inline image is, relative to the stored one (the values read as text: "shows the first frame")."""

    ORIGINAL = "the image itself"
    PREVIEW = "a smaller preview"
    ANIMATION = "the animation itself"
    FIRST_FRAME = "the first frame of the animation"
    RASTERIZED = "a PNG rendering of the SVG"


@dataclass(frozen=True)
class Preview:
    data: bytes
    mime_type: str
    width: int
    height: int
    shows: Shown = Shown.PREVIEW


def inline_image(data: bytes, mime_type: str, size: tuple[int, int], max_bytes: int, *, full: bool = False) -> Preview:
    """What a tool result carries for a stored image within `max_bytes`.

    The stored bytes themselves when they fit and are no larger than a preview would be (or `full` asks for the
    original): an animated GIF that fits is shown moving, whatever its size. Otherwise a still preview: the
    first frame of an animation, a rendering of an SVG, a smaller copy of anything else.
    """
    if mime_type == SVG_MIME:
        return fit_preview(data, max_bytes)
    width, height = size
    if len(data) <= max_bytes:
        with Image.open(io.BytesIO(data)) as image:
            animated = getattr(image, "n_frames", 1) > 1
        if animated:
            return Preview(data, mime_type, width, height, Shown.ANIMATION)
        if full or max(width, height) <= PREVIEW_MAX_SIDE:
            return Preview(data, mime_type, width, height, Shown.ORIGINAL)
    return fit_preview(data, max_bytes)


def fit_preview(data: bytes, max_bytes: int, max_side: int = PREVIEW_MAX_SIDE) -> Preview:
    """A still, downscaled copy whose encoded size is at most `max_bytes`.

    An SVG is rasterized first and kept as PNG when that fits (flat drawings stay crisp); an animation gives
    its first frame. Opaque images become JPEG; images with transparency become WebP, which keeps alpha at a
    fraction of PNG's size. The scale shrinks until the encoding fits; the result never goes below a 16 px side.
    """
    if looks_like_svg(data):
        return _svg_preview(data, max_bytes, max_side)
    with Image.open(io.BytesIO(data)) as source:
        shows = Shown.FIRST_FRAME if getattr(source, "n_frames", 1) > 1 else Shown.PREVIEW
        alpha = has_transparency(source)
        image = source.convert("RGBA" if alpha else "RGB")
    return _shrink(image, alpha, max_bytes, max_side, shows)


def _svg_preview(data: bytes, max_bytes: int, max_side: int) -> Preview:
    info = probe_svg(data, "the SVG")
    scale = min(1.0, max_side / max(info.width, info.height))
    width, height = max(1, round(info.width * scale)), max(1, round(info.height * scale))
    png = rasterize(data, width, height)
    if len(png) <= max_bytes:
        return Preview(png, "image/png", width, height, Shown.RASTERIZED)
    with Image.open(io.BytesIO(png)) as source:
        alpha = has_transparency(source)
        image = source.convert("RGBA" if alpha else "RGB")
    return _shrink(image, alpha, max_bytes, max_side, Shown.RASTERIZED)


def _shrink(image: Image.Image, alpha: bool, max_bytes: int, max_side: int, shows: Shown) -> Preview:
    scale = min(1.0, max_side / max(image.width, image.height))
    quality = 85
    while True:
        width = max(MIN_PREVIEW_SIDE, round(image.width * scale))
        height = max(MIN_PREVIEW_SIDE, round(image.height * scale))
        resized = image if (width, height) == image.size else image.resize((width, height), Image.Resampling.LANCZOS)
        encoded, mime = _encode(resized, alpha, quality)
        smallest = width == MIN_PREVIEW_SIDE or height == MIN_PREVIEW_SIDE
        if len(encoded) <= max_bytes or smallest:
            return Preview(encoded, mime, width, height, shows)
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
