"""Images that were paid for are kept: a damaged item or a damaged partial image never costs the good ones."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from mcp import Client

from tests.conftest import SettingsFactory, connect, stored_images, text_of
from tests.fake_openai import Emulator, Fault
from tests.images import png_bytes

pytestmark = pytest.mark.anyio

GENERATIONS = "/v1/images/generations"


def answer_with(*items: bytes) -> dict[str, object]:
    return {
        "created": 1,
        "data": [{"b64_json": base64.b64encode(item).decode()} for item in items],
        "usage": {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30},
    }


async def test_one_damaged_item_keeps_the_good_images(client: Client, emulator: Emulator, output_dir: Path) -> None:
    good = png_bytes((40, 30), (10, 200, 10))
    emulator.enqueue(Fault(status=200, path=GENERATIONS, body=answer_with(good, b"garbage", good)))

    result = await client.call_tool("generate_image", {"prompt": "three frogs", "n": 3})

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert len(result.structured_content["images"]) == 2
    assert len(stored_images(output_dir)) == 2
    assert all(Path(e["path"]).read_bytes() == good for e in result.structured_content["images"])
    text = text_of(result)
    assert "2 of 3 images were kept; the API sent data that is not an image for image 2:" in text


async def test_an_answer_with_no_image_at_all_is_a_clear_error(
    client: Client, emulator: Emulator, output_dir: Path
) -> None:
    emulator.enqueue(Fault(status=200, path=GENERATIONS, body=answer_with(b"garbage")))

    result = await client.call_tool("generate_image", {"prompt": "a frog"})

    assert result.is_error
    assert text_of(result).startswith("The image API answered with data that is not an image (image 1:")
    assert stored_images(output_dir) == []


async def test_a_damaged_partial_image_is_skipped_and_the_final_image_kept(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    emulator.stream_bad_partial = True
    said: list[str] = []

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        said.append(message or "")

    async with connect(make_settings(), mode="legacy") as client:
        result = await client.call_tool("generate_image", {"prompt": "a slow lake"}, progress_callback=progress)

    assert not result.is_error, text_of(result)
    assert "partial image 1 was damaged and is skipped" in said
    assert any(message.startswith("partial image 2 of 2 received") for message in said)
    assert len(stored_images(output_dir)) == 1
