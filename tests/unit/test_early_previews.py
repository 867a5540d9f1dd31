"""`EarlyPreviews`: preview pixels decoded while an image's bytes arrive, taken only for exactly those bytes."""

from __future__ import annotations

import io
import random
import threading
from concurrent.futures import Future
from dataclasses import replace

import pytest
from PIL import Image

from mcp_server_images.imaging import early as early_module
from mcp_server_images.imaging import previews
from mcp_server_images.imaging.early import EarlyPreviews
from mcp_server_images.imaging.previews import (
    LIKELY_PREVIEWED_BYTES,
    READY_SLACK,
    Decoded,
    Preview,
    PreviewBound,
    decode_for_preview,
    fit_preview,
)
from mcp_server_images.imaging.probe import probe

PIECE = 64 * 1024


@pytest.fixture(autouse=True)
def arriving_slowly(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pieces here come at once; as far as the rate rule goes, they come over a slow connection."""
    monkeypatch.setattr(early_module, "EARLY_BELOW_RATE", float("inf"))


def noisy_png(size: tuple[int, int] = (600, 400), seed: int = 1) -> bytes:
    """An opaque PNG of noise: many bytes for few pixels, so it is decoded early."""
    pixels = random.Random(seed).randbytes(size[0] * size[1] * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, pixels).save(buffer, format="PNG", compress_level=1)
    data = buffer.getvalue()
    assert len(data) > LIKELY_PREVIEWED_BYTES
    return data


def arrive(early: EarlyPreviews, data: bytes, *, whole: bool = True) -> None:
    image = early.arriving()
    for start in range(0, len(data), PIECE):
        image.more(data[start : start + PIECE])
    image.end(whole=whole)


def test_the_pixels_are_those_of_the_bytes_that_arrived() -> None:
    data = noisy_png()
    with EarlyPreviews() as early:
        arrive(early, data)
        arrived = early.arrived(data)
        decoded = arrived.decoded() if arrived is not None else None
    assert decoded is not None
    assert decoded.image.tobytes() == decode_for_preview(data).image.tobytes()


def test_other_bytes_get_no_pixels() -> None:
    data, other = noisy_png(seed=1), noisy_png(seed=2)
    with EarlyPreviews() as early:
        arrive(early, data)
        assert early.arrived(other) is None
        assert early.arrived(data[:-1]) is None


def test_an_image_that_did_not_arrive_whole_gets_no_pixels() -> None:
    data = noisy_png()
    with EarlyPreviews() as early:
        arrive(early, data, whole=False)
        assert early.arrived(data) is None


def test_a_cut_off_image_fails_its_early_decode_without_waiting() -> None:
    data = noisy_png()
    cut = data[: len(data) * 2 // 3]
    with EarlyPreviews() as early:
        arrive(early, cut)
        arrived = early.arrived(cut)
        assert arrived is None or arrived.decoded() is None, "its decode ends, short of bytes, with no pixels"


def test_leaving_ends_a_decode_still_waiting_for_bytes() -> None:
    data = noisy_png()
    early = EarlyPreviews()
    with early:
        image = early.arriving()
        image.more(data[: len(data) // 2])  # the decode starts and waits for the rest
    assert image.decoded() is None, "the decode ended, short of bytes"


def test_small_or_transparent_images_are_left_to_the_probe() -> None:
    small = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(small, format="PNG")
    transparent = io.BytesIO()
    Image.frombytes("RGBA", (400, 400), random.Random(3).randbytes(400 * 400 * 4)).save(transparent, format="PNG")
    assert probe(transparent.getvalue()).has_alpha
    with EarlyPreviews() as early:
        arrive(early, small.getvalue())
        arrive(early, transparent.getvalue())
        assert early.arrived(small.getvalue()) is None
        assert early.arrived(transparent.getvalue()) is None


def test_an_answer_arriving_faster_than_it_could_be_decoded_early_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(early_module, "EARLY_BELOW_RATE", 0.0)
    data = noisy_png()
    with EarlyPreviews() as early:
        arrive(early, data)
        assert early.arrived(data) is None, "decoded after its last byte instead, as before"


def test_given_its_bound_an_arriving_image_has_its_preview_made_once_decoded() -> None:
    data = noisy_png((900, 600))
    bound = PreviewBound(max_bytes=200_000, max_side=512)
    with EarlyPreviews(bound) as early:
        arrive(early, data)
        arrived = early.arrived(data)
        decoded = arrived.decoded() if arrived is not None else None
    assert decoded is not None
    made = fit_preview(decode_for_preview(data), bound.max_bytes, bound.max_side)
    assert decoded.ready_preview(bound.max_bytes, bound.max_side) == made


def ahead(decoded: Decoded, bound: PreviewBound) -> tuple[Decoded, Future[Preview]]:
    making: Future[Preview] = Future()
    return replace(decoded, ready=(bound, making)), making


def test_a_preview_made_ahead_serves_only_the_bounds_it_would_have_been_made_for() -> None:
    pixels = decode_for_preview(noisy_png((900, 600)))
    made = fit_preview(pixels, 200_000, 512)
    decoded, making = ahead(pixels, PreviewBound(200_000, 512))
    making.set_result(made)
    assert decoded.ready_preview(200_000, 512) == made
    assert decoded.ready_preview(200_000 + READY_SLACK, 512) == made, "a budget a little larger looks the same"
    assert decoded.ready_preview(200_000 + READY_SLACK + 1, 512) is None, "a larger budget gets a larger preview"
    assert decoded.ready_preview(200_000, 1568) is None, "another long side is another preview"
    assert decoded.ready_preview(len(made.data) - 1, 512) is None, "a preview must fit the budget it is shown in"
    assert decoded.ready_preview(len(made.data), 512) == made


def test_a_preview_that_could_not_be_made_ahead_is_made_again() -> None:
    decoded, making = ahead(decode_for_preview(noisy_png((900, 600))), PreviewBound(200_000, 512))
    making.set_exception(OSError("encoder error -2"))
    assert decoded.ready_preview(200_000, 512) is None


def test_a_png_preview_is_made_band_by_band_as_its_rows_are_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every band of a mild shrink but the last is made while the image's last piece is still to come; once it
    is whole the preview is, byte for byte, the one `fit_preview` makes of the whole image."""
    data = noisy_png((1536, 1024))
    bound = PreviewBound(max_bytes=500_000)
    made = fit_preview(decode_for_preview(data), bound.max_bytes, bound.max_side)
    assert made.width < 1536, "a shrink"
    tops = list(range(0, made.height, previews.BAND_ROWS))
    bands: list[int] = []
    changed = threading.Condition()
    band = previews._band

    def recorded(source: Image.Image, target: Image.Image, top: int) -> None:
        band(source, target, top)
        with changed:
            bands.append(top)
            changed.notify_all()

    monkeypatch.setattr(previews, "_band", recorded)
    with EarlyPreviews(bound) as early:
        image = early.arriving()
        last = len(data) - PIECE
        for start in range(0, last, PIECE):
            image.more(data[start : min(start + PIECE, last)])
        with changed:
            assert changed.wait_for(lambda: bands == tops[:-1], 30), f"bands made before the last piece: {bands}"
        image.more(data[last:])
        image.end(whole=True)
        arrived = early.arrived(data)
        decoded = arrived.decoded() if arrived is not None else None
    assert decoded is not None
    assert decoded.ready_preview(bound.max_bytes, bound.max_side) == made
    assert bands == tops
