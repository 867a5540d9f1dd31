"""Arguments as assistants send them: common near-misses are accepted, the rest get one plain line each."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from tests.fake_openai import Emulator
from tests.support.images import alpha_at, received_mask, write_png
from tests.support.results import text_of

pytestmark = pytest.mark.anyio


async def test_a_single_mask_region_object_is_taken_as_a_list(client: Client, emulator: Emulator, home: Path) -> None:
    source = write_png(home / "sky.png", (1024, 1024))
    region = {"shape": "rect", "x": 0, "y": 0, "width": 0.5, "height": 0.5}

    result = await client.call_tool("edit_image", {"images": [str(source)], "prompt": "stars", "mask_region": region})

    assert not result.is_error, text_of(result)
    mask = received_mask(emulator)
    assert alpha_at(mask, 0.1, 0.1) == 0, "the region is edited"
    assert alpha_at(mask, 0.9, 0.9) == 255, "the rest is kept"


async def test_a_single_image_string_is_taken_as_a_list(client: Client, emulator: Emulator, home: Path) -> None:
    source = write_png(home / "room.png", (512, 512), (0, 128, 0))

    edited = await client.call_tool("edit_image", {"images": str(source), "prompt": "add a lamp"})
    analyzed = await client.call_tool("analyze_image", {"images": str(source)})

    assert not edited.is_error, text_of(edited)
    [request] = emulator.requests_to("/images/edits")
    assert [part.data for part in request.files["image"]] == [source.read_bytes()]
    assert not analyzed.is_error, text_of(analyzed)
    assert "image 1: 512x512" in text_of(analyzed)


async def test_each_remaining_problem_is_one_plain_line(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool("generate_image", {"prompt": "a bridge", "n": 20, "size": 1536, "quality": ["hd"]})

    assert result.is_error
    assert text_of(result).splitlines() == [
        "Argument n of generate_image: got 20, expected a whole number from 1 to 10.",
        "Argument size of generate_image: got 1536, expected text (WIDTHxHEIGHT).",
        'Argument quality of generate_image: got ["hd"], expected text (auto, low, medium, high; gpt-image-2.5/2.6 '
        "also xhigh, max (slower)).",
    ]
    assert emulator.requests == []


async def test_nested_missing_and_long_values_are_named_and_shortened(client: Client, emulator: Emulator) -> None:
    huge = "iVBORw0KGgo" + "A" * 5000

    result = await client.call_tool(
        "edit_image",
        {"images": [], "prompt": "x", "mask_region": [{"x": "left", "y": 0, "width": 1, "height": 1}], "n": huge},
    )

    lines = text_of(result).splitlines()
    assert lines == [
        "Argument images of edit_image: got [], expected a list of 1-16 texts.",
        'Argument mask_region[0].x of edit_image: got "left", expected a number.',
        f'Argument n of edit_image: got "{huge[:58]}…, expected a whole number from 1 to 10.',
    ]
    missing = await client.call_tool("edit_image", {"images": ["a1b2c3d4"], "mask_region": ["top half"]})
    assert text_of(missing).splitlines() == [
        "Argument prompt of edit_image: got nothing, expected text (What to change, or how to combine the images).",
        'Argument mask_region[0] of edit_image: got "top half", expected an object like '
        '{"height": 0.5, "shape": "rect", "width": 0.5, "x": 0, "y": 0}.',
    ]
    assert emulator.requests == []


async def test_no_library_text_reaches_a_result(client: Client) -> None:
    result = await client.call_tool("analyze_image", {"images": 7, "detail": "ultra", "max_tokens": -1})

    text = text_of(result)
    assert text.splitlines() == [
        "Argument images of analyze_image: got 7, expected a list of 1-16 texts.",
        'Argument detail of analyze_image: got "ultra", expected one of auto, low, high.',
        "Argument max_tokens of analyze_image: got -1, expected a whole number from 1 to 32768.",
    ]
    for library_text in ("pydantic", "errors.pydantic.dev", "validation error", "Input should", "For further"):
        assert library_text not in text
