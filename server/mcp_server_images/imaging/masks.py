"""Edit masks an assistant can express: a mask image in either convention, or shapes in relative coordinates.

The API wants a PNG the size of the (first) image whose fully transparent pixels mark where to edit. People and
tools draw masks as white = edit, black = keep; assistants describe regions ("the top-left quadrant", "everything
but the face"). Both become the API's form here.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageOps

from ..errors import ParameterError
from .pixel_budget import decoding
from .probe import has_alpha_channel

EDIT = 0
KEEP = 255


@dataclass(frozen=True)
class Region:
    """A shape in coordinates relative to the image: (x, y) is the top-left corner, all values in 0..1."""

    shape: Literal["rect", "ellipse"]
    x: float
    y: float
    width: float
    height: float


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def mask_from_image(data: bytes, size: tuple[int, int], *, invert: bool, shown: str) -> bytes:
    """The API's mask from a mask image: RGBA used as is (alpha 0 = edit); otherwise white = edit, black = keep."""
    with decoding(data) as source:
        if source.size != size:
            raise ParameterError(
                "mask",
                f"The mask {shown} is {source.width}x{source.height} but the image is {size[0]}x{size[1]}; "
                "they must be the same size. Resize the mask, or describe the area with mask_region instead.",
            )
        if has_alpha_channel(source):
            alpha = source.convert("RGBA").getchannel("A")
        else:
            gray = source.convert("L")
            alpha = gray.point(lambda value: EDIT if value >= 128 else KEEP)
    if invert:
        alpha = ImageOps.invert(alpha)
    mask = Image.new("RGBA", size, (0, 0, 0, 0))
    mask.putalpha(alpha)
    return _png(mask)


def mask_from_regions(regions: Sequence[Region], size: tuple[int, int], *, invert: bool) -> bytes:
    """Draw the shapes as the area to edit (or, inverted, as the area to keep)."""
    if not regions:
        raise ParameterError("mask_region", "mask_region is empty; give at least one shape.")
    width, height = size
    background, shape_alpha = (EDIT, KEEP) if invert else (KEEP, EDIT)
    alpha = Image.new("L", size, background)
    from PIL import ImageDraw  # with ImageFont and FreeType: only when a region is drawn

    draw = ImageDraw.Draw(alpha)
    for index, region in enumerate(regions, start=1):
        box = _box(region, index, width, height)
        if region.shape == "ellipse":
            draw.ellipse(box, fill=shape_alpha)
        else:
            draw.rectangle(box, fill=shape_alpha)
    mask = Image.new("RGBA", size, (0, 0, 0, 0))
    mask.putalpha(alpha)
    return _png(mask)


def _box(region: Region, index: int, width: int, height: int) -> tuple[int, int, int, int]:
    """Pixel box of a region, clipped to the image; refuses coordinates outside 0..1 or an empty shape."""
    for name in ("x", "y", "width", "height"):
        value = getattr(region, name)
        if not 0 <= value <= 1:
            raise ParameterError(
                "mask_region",
                f"mask_region shape {index}: {name} is {value}, but coordinates are fractions of the image "
                "from 0 to 1 (x, y = top-left corner; e.g. the top-left quadrant is x=0, y=0, width=0.5, height=0.5).",
            )
    left, top = round(region.x * width), round(region.y * height)
    right = min(width, round((region.x + region.width) * width))
    bottom = min(height, round((region.y + region.height) * height))
    if right <= left or bottom <= top:
        raise ParameterError("mask_region", f"mask_region shape {index} covers no pixels; give it a width and height.")
    return left, top, right - 1, bottom - 1
