"""create_image_variation: dall-e-2's native endpoint, emulation through edits, and the fallback between them."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from tests.fake_openai import Emulator
from tests.support.images import decode_image, write_png
from tests.support.results import text_of

pytestmark = pytest.mark.anyio


async def test_native_variations_get_a_square_png(client: Client, emulator: Emulator, home: Path) -> None:
    emulator.set(serves_retired=True)  # a gateway that still serves dall-e-2
    wide = write_png(home / "wide.png", (800, 600), (30, 60, 90))

    result = await client.call_tool("create_image_variation", {"image": str(wide), "n": 2, "size": "256x256"})

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["method"] == "variations"
    assert result.structured_content["model"] == "dall-e-2"
    assert len(result.structured_content["images"]) == 2
    [request] = emulator.requests_to("/images/variations")
    [part] = request.files["image"]
    assert part.content_type == "image/png"
    assert decode_image(part.data).size == (600, 600)
    assert request.form["n"] == ["2"] and request.form["size"] == ["256x256"]
    text = text_of(result)
    assert "Made with the native /images/variations endpoint." in text
    assert "cropped to its centre 600x600 square" in text


async def test_other_models_are_emulated_through_edits(client: Client, emulator: Emulator, home: Path) -> None:
    source = write_png(home / "cat.png", (1024, 1024))

    result = await client.call_tool("create_image_variation", {"image": str(source), "model": "gpt-image-2"})

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["method"] == "edits"
    assert emulator.requests_to("/images/variations") == []
    [request] = emulator.requests_to("/images/edits")
    assert request.form["model"] == ["gpt-image-2"]
    assert request.form["prompt"][0].startswith("Create a variation of this image")
    assert "Emulated through /images/edits on gpt-image-2 with a variation prompt." in text_of(result)


async def test_a_missing_dall_e_2_falls_back_to_edits_once(client: Client, emulator: Emulator, home: Path) -> None:
    source = write_png(home / "cat.png", (1024, 1024))
    emulator.set(serves_retired=True, variations_model_missing=True)  # a gateway listing dall-e-2 without variations

    first = await client.call_tool("create_image_variation", {"image": str(source), "size": "512x512"})
    assert not first.is_error, text_of(first)
    assert first.structured_content is not None
    assert first.structured_content["method"] == "edits"
    text = text_of(first)
    assert "dall-e-2 is not available at this provider" in text
    assert "size 512x512 is not available for gpt-image-2.6-flare edits, so the model chose the size." in text
    assert len(emulator.requests_to("/images/variations")) == 1

    second = await client.call_tool("create_image_variation", {"image": str(source)})
    assert second.structured_content is not None and second.structured_content["method"] == "edits"
    assert len(emulator.requests_to("/images/variations")) == 1, "the server remembers dall-e-2 is gone"


async def test_variation_sizes_are_checked_for_dall_e_2(client: Client, emulator: Emulator, home: Path) -> None:
    source = write_png(home / "cat.png", (256, 256))

    result = await client.call_tool("create_image_variation", {"image": str(source), "size": "1536x1024"})

    assert (
        text_of(result) == "size '1536x1024' is not valid for dall-e-2 images. Use one of: 256x256, 512x512, 1024x1024."
    )
    assert emulator.requests_except_models == []


async def test_with_dall_e_2_shut_down_variations_use_the_default_model(
    client: Client, emulator: Emulator, home: Path
) -> None:
    source = write_png(home / "cat.png", (1024, 1024))

    result = await client.call_tool("create_image_variation", {"image": str(source)})

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["method"] == "edits"
    assert result.structured_content["model"] == "gpt-image-2.6-flare"
    assert "No native variations: dall-e-2 was shut down by OpenAI on 2026-05-12" in text_of(result)
    assert emulator.requests_to("/images/variations") == [], "a shut-down model is not even tried"
    [request] = emulator.requests_to("/images/edits")
    assert request.form["model"] == ["gpt-image-2.6-flare"]
