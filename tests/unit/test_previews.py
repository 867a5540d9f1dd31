"""Previews that fit a byte budget: the edge cases (tiny, thin, transparent, already small) and the rule that a
preview is within its budget or at the smallest size allowed."""

from __future__ import annotations

import io
import random
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from mcp_server_images.imaging import previews
from mcp_server_images.imaging.previews import (
    BANDED_PIXELS,
    MIN_PREVIEW_SIDE,
    PREVIEW_MAX_SIDE,
    Preview,
    decode_for_preview,
    fit_preview,
)
from mcp_server_images.imaging.previews import _resized as resized
from tests.support.images import decode_image, png_bytes


def decoded(preview: Preview) -> Image.Image:
    image = decode_image(preview.data)
    assert image.size == (preview.width, preview.height), "the preview says what it holds"
    return image


def noise(width: int, height: int, seed: int, mode: str = "RGB") -> bytes:
    """A PNG of random pixels: the hardest kind of picture to compress."""
    bands = len(mode)
    pixels = random.Random(seed).randbytes(width * height * bands)
    buffer = io.BytesIO()
    Image.frombytes(mode, (width, height), pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_small_image_within_budget_keeps_its_size() -> None:
    preview = fit_preview(png_bytes((64, 48)), 100_000)

    assert (preview.width, preview.height) == (64, 48)
    assert preview.mime_type == "image/jpeg"
    assert decoded(preview).mode == "RGB"


def test_a_large_image_is_brought_to_the_longest_useful_side() -> None:
    preview = fit_preview(png_bytes((3000, 2000)), 1_000_000)

    assert (preview.width, preview.height) == (PREVIEW_MAX_SIDE, round(2000 * PREVIEW_MAX_SIDE / 3000))


def test_a_tight_budget_shrinks_the_preview_until_it_fits() -> None:
    source = noise(512, 384, seed=1)
    preview = fit_preview(source, 8_000)

    assert len(preview.data) <= 8_000
    assert MIN_PREVIEW_SIDE < preview.width < 512
    assert abs(preview.width / preview.height - 512 / 384) < 0.05, "the aspect ratio is kept"


def test_transparency_is_kept_as_webp_and_opaque_alpha_is_dropped() -> None:
    see_through = fit_preview(png_bytes((40, 40), (0, 0, 255, 0), mode="RGBA"), 100_000)
    solid = fit_preview(png_bytes((40, 40), (0, 0, 255, 255), mode="RGBA"), 100_000)

    assert see_through.mime_type == "image/webp"
    assert decoded(see_through).getpixel((20, 20))[3] == 0  # type: ignore[index]
    assert solid.mime_type == "image/jpeg"


def test_an_unreachable_budget_stops_at_the_floor_keeping_the_shape() -> None:
    preview = fit_preview(noise(400, 200, seed=2), 1)

    assert len(preview.data) > 1
    assert (preview.width, preview.height) == (2 * MIN_PREVIEW_SIDE, MIN_PREVIEW_SIDE)


def test_images_smaller_than_the_floor_are_not_enlarged() -> None:
    icon = fit_preview(png_bytes((8, 8)), 100_000)
    starved = fit_preview(png_bytes((2, 3)), 1)

    assert (icon.width, icon.height) == (8, 8)
    assert (starved.width, starved.height) == (2, 3)


def test_thin_images_are_not_stretched() -> None:
    banner = fit_preview(png_bytes((1000, 10)), 100_000)
    pole = fit_preview(png_bytes((20, 5000)), 100_000)

    assert (banner.width, banner.height) == (1000, 10)
    assert (pole.width, pole.height) == (6, PREVIEW_MAX_SIDE), "the longest useful side wins over the floor"


def test_a_thumbnail_side_is_honoured() -> None:
    preview = fit_preview(png_bytes((1024, 512)), 1_000_000, max_side=256)

    assert (preview.width, preview.height) == (256, 128)


@settings(max_examples=100, deadline=None)
@given(
    width=st.integers(min_value=1, max_value=400),
    height=st.integers(min_value=1, max_value=400),
    alpha=st.booleans(),
    seed=st.integers(min_value=0, max_value=2**32),
    budget=st.integers(min_value=1, max_value=60_000),
    max_side=st.sampled_from([64, 256, PREVIEW_MAX_SIDE]),
)
def test_previews_stay_within_the_budget_or_hit_the_floor(
    width: int, height: int, alpha: bool, seed: int, budget: int, max_side: int
) -> None:
    preview = fit_preview(noise(width, height, seed, "RGBA" if alpha else "RGB"), budget, max_side)

    assert len(preview.data) <= budget or min(preview.width, preview.height) <= MIN_PREVIEW_SIDE
    assert preview.width <= width and preview.height <= height, "never larger than the source"
    assert max(preview.width, preview.height) <= max_side
    assert abs(preview.width * height - preview.height * width) <= width + height, "the same shape, up to rounding"
    decoded(preview)


def within_one_level(image: Image.Image, other: Image.Image) -> bool:
    return ImageChops.difference(image, other).point(lambda level: 255 if level > 1 else 0).getbbox() is None


@pytest.mark.parametrize("size", [(1113, 742), (1500, 1000), (769, 513), (1530, 170)])
def test_a_banded_shrink_has_the_pixels_of_a_whole_one(size: tuple[int, int]) -> None:
    """Large mild shrinks are resized in bands on two threads; every pixel is within one level of a whole
    BILINEAR resize (the bands' source boxes are fractional), and the image is complete to its last row."""
    source = Image.open(io.BytesIO(noise(1536, 1024, seed=7)))
    source.load()
    assert size[0] * size[1] >= BANDED_PIXELS

    banded = resized(source, size)

    whole = source.resize(size, Image.Resampling.BILINEAR)
    assert banded.size == size
    assert banded.mode == source.mode
    assert within_one_level(banded, whole)


def test_a_preview_of_an_rgb_png_keeps_its_pixels_after_the_file_is_closed() -> None:
    """The decoded pixels of an RGB image are used as they are (no copy) and stay usable once decoding ends."""
    data = noise(400, 300, seed=3)
    pixels = decode_for_preview(data)

    assert pixels.image.mode == "RGB"
    assert pixels.image.tobytes() == Image.open(io.BytesIO(data)).convert("RGB").tobytes()
    assert fit_preview(pixels, 1_000_000).width == 400


def test_a_banded_shrink_does_not_wait_for_a_busy_helper() -> None:
    """While the helper thread works on another preview, the caller resizes every band itself."""
    source = Image.open(io.BytesIO(noise(1536, 1024, seed=11)))
    source.load()
    busy, release = threading.Event(), threading.Event()

    def occupy() -> None:
        busy.set()
        release.wait(30)

    other = previews._HELPER.submit(occupy)
    try:
        assert busy.wait(30)
        banded = resized(source, (1113, 742))
        assert not other.done(), "resized while the helper was still busy"
    finally:
        release.set()
    assert within_one_level(banded, source.resize((1113, 742), Image.Resampling.BILINEAR))
