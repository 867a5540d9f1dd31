"""Decoding inputs: a shared pixel budget across calls, metadata bombs refused clearly, and EXIF orientation
applied everywhere an image is decoded, so phone photos are never seen sideways."""

from __future__ import annotations

import threading
import zlib
from pathlib import Path

import anyio
import pytest
from mcp import Client
from PIL import Image

from mcp_server_images.imaging import pixel_budget as budget_module
from mcp_server_images.imaging.pixel_budget import DECODE_BUDGET, TRIM_AFTER_PIXELS, PixelBudget
from tests.fake_openai import Emulator, Fault
from tests.support.images import decode_image, encoded, png_with_chunk, sideways_jpeg, write_png
from tests.support.results import images_in, text_of
from tests.support.servers import SettingsFactory, open_client
from tests.support.upstream import b64_answer

pytestmark = pytest.mark.anyio


def red(image: Image.Image, x: int, y: int) -> bool:
    pixel = image.convert("RGB").getpixel((x, y))
    assert isinstance(pixel, tuple)
    return bool(pixel[0] > 200 and pixel[2] < 60)


BUDGET = 5_000
"""Room for one 64x64 decode (4,096 pixels) at a time, not two."""


async def test_concurrent_analyses_share_one_pixel_budget(
    make_settings: SettingsFactory, emulator: Emulator, home: Path
) -> None:
    pictures = [str(write_png(home / f"p{i}.png", (64, 64), (40 * i, 90, 200))) for i in range(4)]
    write_png(home / "large.png", (100, 100))
    results = []

    async with open_client(make_settings(max_decode_pixels=BUDGET)) as client:

        async def analyze(first: int) -> None:
            images = [pictures[first], pictures[(first + 1) % 4]]
            results.append(await client.call_tool("analyze_image", {"images": images}))

        async with anyio.create_task_group() as group:
            for first in range(4):
                group.start_soon(analyze, first)
        high_water = DECODE_BUDGET.high_water
        larger_than_the_budget = await client.call_tool("analyze_image", {"images": ["~/large.png"]})

    assert [text_of(r) for r in results if r.is_error] == []
    assert len(results) == 4
    assert 4_096 <= high_water <= BUDGET
    assert not larger_than_the_budget.is_error, "an image larger than the whole budget is decoded alone"
    assert "100x100 png" in text_of(larger_than_the_budget)


def test_a_decode_waits_while_the_budget_is_spent() -> None:
    budget = PixelBudget(BUDGET)
    entered = threading.Event()

    def second_decode() -> None:
        with budget.hold(4_096):
            entered.set()

    thread = threading.Thread(target=second_decode)
    with budget.hold(4_096):
        thread.start()
        for _ in range(1_000):
            if budget.waiting:
                break
            threading.Event().wait(0.01)
        assert budget.waiting == 1
        assert not entered.is_set()
    thread.join(timeout=10)
    assert entered.is_set()
    assert budget.high_water == 4_096


async def test_a_large_jpeg_reaches_the_model_at_the_full_vision_size(
    client: Client, emulator: Emulator, home: Path
) -> None:
    """JPEGs decode at reduced scale for the vision copy; the copy must still be a full 2048 px on its long side."""
    (home / "panorama.jpg").write_bytes(encoded((8200, 2050), (30, 60, 200), "JPEG"))

    result = await client.call_tool("analyze_image", {"images": ["~/panorama.jpg"]})

    assert not result.is_error, text_of(result)
    assert text_of(result).startswith("image 1: 2048x512 jpeg")


@pytest.mark.parametrize(
    ("kind", "payload"),
    [(b"zTXt", b"Comment\x00\x00"), (b"iCCP", b"profile\x00\x00")],
)
async def test_metadata_bombs_are_refused_clearly(
    client: Client, emulator: Emulator, home: Path, kind: bytes, payload: bytes
) -> None:
    bomb = home / "bomb.png"
    bomb.write_bytes(png_with_chunk(kind, payload + zlib.compress(b"\0" * 20_000_000)))

    result = await client.call_tool("edit_image", {"images": [str(bomb)], "prompt": "add a hat"})

    assert result.is_error
    assert text_of(result) == (
        f"'{bomb}' cannot be decoded: Decompressed data too large for PngImagePlugin.MAX_TEXT_CHUNK. If it carries "
        "large compressed metadata (text or a colour profile), save it again without that metadata."
    )
    assert emulator.requests_except_models == []


async def test_a_sideways_photo_reaches_the_models_upright(client: Client, emulator: Emulator, home: Path) -> None:
    photo = home / "portrait.jpg"
    photo.write_bytes(sideways_jpeg())

    seen = await client.call_tool("analyze_image", {"images": [str(photo)]})
    edited = await client.call_tool(
        "edit_image",
        {
            "images": [str(photo)],
            "prompt": "add a hat",
            "mask_region": [{"shape": "rect", "x": 0, "y": 0, "width": 1, "height": 0.5}],
        },
    )

    assert not seen.is_error, text_of(seen)
    assert "image 1: 40x60 jpeg" in text_of(seen)
    assert not edited.is_error, text_of(edited)
    [request] = emulator.requests_to("/images/edits")
    sent = decode_image(request.files["image"][0].data)
    assert sent.size == (40, 60)
    assert (red(sent, 20, 5), red(sent, 20, 55)) == (True, False), "red on top, blue below"
    assert sent.getexif().get(0x0112, 1) == 1
    assert decode_image(request.files["mask"][0].data).size == (40, 60)


async def test_previews_and_thumbnails_of_a_sideways_answer_are_upright(client: Client, emulator: Emulator) -> None:
    body = b64_answer(sideways_jpeg((2000, 1000)))
    emulator.set(served_models=["some-gateway-model"])  # a gateway's own model
    emulator.enqueue(Fault(status=200, path="/v1/images/generations", body=body))

    made = await client.call_tool("generate_image", {"prompt": "a tall tower", "model": "some-gateway-model"})
    listed = await client.call_tool("list_images", {"previews": True})

    assert not made.is_error, text_of(made)
    [preview] = images_in(made)
    [thumbnail] = images_in(listed)
    for shown in (decode_image(preview.data), decode_image(thumbnail.data)):
        assert shown.height == 2 * shown.width
        assert (red(shown, shown.width // 2, 2), red(shown, shown.width // 2, shown.height - 3)) == (True, False)


def test_freed_memory_is_returned_after_a_large_decode_or_a_burst_not_after_one_small(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One 1.6-megapixel decode leaves its buffers to the allocator for the next call; a burst of them held at
    once, or one large image, hands freed memory back when the last one ends."""
    trims: list[str] = []
    monkeypatch.setattr(budget_module, "_return_freed_memory", lambda: trims.append("trim"))
    budget = PixelBudget(64_000_000)
    one = 1536 * 1024

    with budget.hold(one):
        pass
    assert trims == [], "one call's buffers are kept warm"

    with budget.hold(one), budget.hold(one), budget.hold(one):
        assert trims == []
    assert trims == ["trim"], "three held at once pass TRIM_AFTER_PIXELS: trimmed once, when the last ends"

    with budget.hold(one):
        pass
    with budget.hold(TRIM_AFTER_PIXELS):
        pass
    assert trims == ["trim", "trim"]
