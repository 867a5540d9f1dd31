"""Mask membership: every pixel of the API's mask is transparent (edit) exactly where the user asked for an edit,
whether the mask came as rectangles in relative coordinates or as a black-and-white picture, inverted or not."""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mcp_server_images.errors import ParameterError
from mcp_server_images.imaging.masks import EDIT, KEEP, Region, mask_from_image, mask_from_regions

fractions = st.floats(min_value=0, max_value=1, allow_nan=False)
rects = st.builds(lambda x, y, w, h: Region("rect", x, y, w, h), fractions, fractions, fractions, fractions)
sizes = st.tuples(st.integers(min_value=1, max_value=48), st.integers(min_value=1, max_value=48))


def alpha_of(png: bytes, size: tuple[int, int]) -> list[int]:
    with Image.open(io.BytesIO(png)) as mask:
        assert mask.format == "PNG" and mask.mode == "RGBA" and mask.size == size
        return list(mask.getchannel("A").tobytes())


def pixel_box(region: Region, width: int, height: int) -> tuple[int, int, int, int]:
    """Left, top, right, bottom (exclusive) of the pixels whose top-left corner the region rounds to cover."""
    right = min(width, round((region.x + region.width) * width))
    bottom = min(height, round((region.y + region.height) * height))
    return round(region.x * width), round(region.y * height), right, bottom


@settings(max_examples=150, deadline=None)
@given(regions=st.lists(rects, min_size=1, max_size=4), size=sizes, invert=st.booleans())
def test_rectangles_mark_exactly_their_pixels(regions: list[Region], size: tuple[int, int], invert: bool) -> None:
    width, height = size
    boxes = [pixel_box(region, width, height) for region in regions]
    empty = [index for index, (left, top, right, bottom) in enumerate(boxes, 1) if right <= left or bottom <= top]
    if empty:
        with pytest.raises(ParameterError, match=f"^mask_region shape {empty[0]} covers no pixels"):
            mask_from_regions(regions, size, invert=invert)
        return

    alpha = alpha_of(mask_from_regions(regions, size, invert=invert), size)

    for y in range(height):
        for x in range(width):
            chosen = any(left <= x < right and top <= y < bottom for left, top, right, bottom in boxes)
            assert alpha[y * width + x] == (EDIT if chosen != invert else KEEP), (x, y)


@settings(max_examples=100, deadline=None)
@given(size=sizes, seed=st.integers(min_value=0, max_value=2**32), invert=st.booleans())
def test_white_means_edit_in_a_grey_mask(size: tuple[int, int], seed: int, invert: bool) -> None:
    width, height = size
    grey = random.Random(seed).randbytes(width * height)
    picture = io.BytesIO()
    Image.frombytes("L", size, grey).save(picture, format="PNG")

    alpha = alpha_of(mask_from_image(picture.getvalue(), size, invert=invert, shown="'mask.png'"), size)

    assert alpha == [EDIT if (value >= 128) != invert else KEEP for value in grey]


@settings(max_examples=100, deadline=None)
@given(size=sizes, seed=st.integers(min_value=0, max_value=2**32), invert=st.booleans())
def test_an_alpha_mask_keeps_its_alpha(size: tuple[int, int], seed: int, invert: bool) -> None:
    width, height = size
    rgba = random.Random(seed).randbytes(width * height * 4)
    picture = io.BytesIO()
    Image.frombytes("RGBA", size, rgba).save(picture, format="PNG")

    alpha = alpha_of(mask_from_image(picture.getvalue(), size, invert=invert, shown="'mask.png'"), size)

    assert alpha == [255 - value if invert else value for value in rgba[3::4]]
