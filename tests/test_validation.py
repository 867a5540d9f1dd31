"""Per-model validation: bad arguments get a message naming the valid values, and nothing is sent upstream."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from tests.fake_openai import Emulator
from tests.support.results import text_of

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"model": "gpt-image-1", "size": "1792x1024"},
            "size '1792x1024' is not valid for gpt-image-1 images. Use one of: 1024x1024, 1536x1024, 1024x1536, auto.",
        ),
        (
            {"model": "dall-e-3", "size": "1536x1024"},
            "size '1536x1024' is not valid for dall-e-3 images. Use one of: 1024x1024, 1792x1024, 1024x1792.",
        ),
        (
            {"model": "dall-e-2", "size": "1024x1536"},
            "size '1024x1536' is not valid for dall-e-2 images. Use one of: 256x256, 512x512, 1024x1024.",
        ),
        (
            {"model": "gpt-image-2", "size": "1000x1000"},
            "size '1000x1000' is not valid for gpt-image-2: both sides must be multiples of 16.",
        ),
        (
            {"model": "gpt-image-2", "size": "3840x1024"},
            "size '3840x1024' is not valid for gpt-image-2: the aspect ratio must be between 1:3 and 3:1.",
        ),
        (
            {"model": "gpt-image-2", "size": "4096x2048"},
            "size '4096x2048' is not valid for gpt-image-2: the long side must be at most 3840 px.",
        ),
        (
            {"model": "gpt-image-1", "quality": "hd"},
            "quality 'hd' is not valid for gpt-image-1. Use one of: auto, low, medium, high. "
            "Models that take quality 'hd': dall-e-3.",
        ),
        (
            {"model": "dall-e-3", "quality": "high"},
            "quality 'high' is not valid for dall-e-3. Use one of: standard, hd. Models that take quality 'high': "
            "gpt-image-2.6-flare, gpt-image-2.6-sunburst, gpt-image-2.5-flare, gpt-image-2.5-sunburst, gpt-image-2.",
        ),
        (
            {"model": "gpt-image-1", "style": "vivid"},
            "style is not supported by gpt-image-1; leave it out. Models that take it: dall-e-3.",
        ),
        (
            {"model": "dall-e-3", "style": "anime"},
            "style 'anime' is not valid for dall-e-3. Use one of: vivid, natural.",
        ),
        (
            {"model": "dall-e-3", "background": "transparent"},
            "background is not supported by dall-e-3; leave it out. Models that take it: gpt-image-2.6-flare, "
            "gpt-image-2.6-sunburst, gpt-image-2.5-flare, gpt-image-2.5-sunburst, gpt-image-2.",
        ),
        (
            {"model": "gpt-image-1", "output_format": "gif"},
            "output_format 'gif' is not valid for gpt-image-1. Use one of: png, jpeg, webp. "
            "Models that take output_format 'gif': gpt-image-2.6-flare, gpt-image-2.6-sunburst.",
        ),
        (
            {"model": "gpt-image-1", "output_compression": 50},
            "output_compression applies to jpeg and webp only; set output_format to 'jpeg' or 'webp', "
            "or leave output_compression out.",
        ),
        (
            {"model": "dall-e-2", "output_compression": 50},
            "output_compression is not supported by dall-e-2; leave it out. Models that take it: gpt-image-2.6-flare, "
            "gpt-image-2.6-sunburst, gpt-image-2.5-flare, gpt-image-2.5-sunburst, gpt-image-2.",
        ),
        (
            {"model": "gpt-image-1", "background": "transparent", "output_format": "jpeg"},
            "a transparent background needs output_format 'png' or 'webp' (jpeg has no transparency).",
        ),
        (
            {"model": "gpt-image-1", "moderation": "off"},
            "moderation 'off' is not valid for gpt-image-1. Use one of: auto, low.",
        ),
        (
            {"model": "dall-e-2", "prompt": "x" * 1001},
            "prompt is 1,001 characters; dall-e-2 takes at most 1,000. Shorten it.",
        ),
        (
            {"model": "dall-e-3", "prompt": "x" * 4001},
            "prompt is 4,001 characters; dall-e-3 takes at most 4,000. Shorten it.",
        ),
        (
            {"model": "gpt-image-2", "background": "transparent"},
            "background 'transparent' is not valid for gpt-image-2 (OpenAI switched transparent backgrounds off "
            "for gpt-image-2 on 2026-09-30). Use one of: auto, opaque. Models that take background 'transparent': "
            "gpt-image-2.6-flare, gpt-image-2.6-sunburst, gpt-image-2.5-flare, gpt-image-2.5-sunburst.",
        ),
        (
            {"model": "gpt-image-2", "quality": "xhigh"},
            "quality 'xhigh' is not valid for gpt-image-2. Use one of: auto, low, medium, high. Models that take "
            "quality 'xhigh': gpt-image-2.6-flare, gpt-image-2.6-sunburst, gpt-image-2.5-flare, "
            "gpt-image-2.5-sunburst.",
        ),
        (
            {"model": "gpt-image-2.6-sunburst", "quality": "ultra"},
            "quality 'ultra' is not valid for gpt-image-2.6-sunburst. Use one of: auto, low, medium, high, xhigh, max.",
        ),
        (
            {"model": "gpt-image-2.5-flare", "output_format": "svg"},
            "output_format 'svg' is not valid for gpt-image-2.5-flare. Use one of: png, jpeg, webp. Models that "
            "take output_format 'svg': gpt-image-2.6-flare, gpt-image-2.6-sunburst.",
        ),
        (
            {"model": "gpt-image-2.6-flare", "output_format": "gif", "background": "transparent"},
            "a transparent background needs output_format 'png' or 'webp' (the API makes transparent images as "
            "png or webp only, not gif).",
        ),
        (
            {"model": "gpt-image-2.6-flare", "output_format": "svg", "output_compression": 50},
            "output_compression applies to jpeg and webp only; set output_format to 'jpeg' or 'webp', "
            "or leave output_compression out.",
        ),
        (
            {"size": "512x512"},
            "size '512x512' is not valid for gpt-image-2.6-flare: at least 655,360 pixels in total (e.g. 1024x640).",
        ),
        ({"prompt": "   "}, "prompt is empty; describe the image you want."),
        (
            {"model": "gpt-image-2.6-sunburst", "size": "big"},
            "size 'big' is not WIDTHxHEIGHT (e.g. 1024x1024) or 'auto'.",
        ),
    ],
)
async def test_invalid_arguments_are_refused_before_any_request(
    client: Client, emulator: Emulator, output_dir: Path, arguments: dict[str, object], message: str
) -> None:
    emulator.set(serves_retired=True)  # a gateway that still routes dall-e-2, dall-e-3 and gpt-image-1
    result = await client.call_tool("generate_image", {"prompt": "a bridge", **arguments})

    assert result.is_error
    assert text_of(result) == message
    assert emulator.requests_except_models == []
    assert not output_dir.exists() or not any(output_dir.iterdir())


@pytest.mark.parametrize("arguments", [{"n": 0}, {"n": 11}, {"output_compression": 101}])
async def test_out_of_range_numbers_are_refused_before_any_request(
    client: Client, emulator: Emulator, arguments: dict[str, object]
) -> None:
    result = await client.call_tool("generate_image", {"prompt": "a bridge", **arguments})

    assert result.is_error
    [name] = arguments
    assert name in text_of(result)
    assert emulator.requests_except_models == []


async def test_unknown_models_pass_through_with_their_parameters(client: Client, emulator: Emulator) -> None:
    # Values our catalog would refuse together for a known model; for an unknown one they go out as given.
    arguments = {"model": "acme/imagine-9", "size": "2000x1000", "style": "natural", "background": "transparent"}
    emulator.set(served_models=["acme/imagine-9", "gpt-image-2.6-flare"])  # a gateway listing its own model

    result = await client.call_tool("generate_image", {"prompt": "a bridge", **arguments})

    [request] = emulator.requests_to("/images/generations")
    assert request.json is not None
    assert {k: request.json[k] for k in arguments} == arguments
    assert "response_format" not in request.json
    # The emulator is the real API's twin, so it refuses the unknown model; the error is the upstream's own.
    assert result.is_error
    assert "The image API refused the request (HTTP 400" in text_of(result)


async def test_dated_snapshots_use_their_models_rules(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool(
        "generate_image", {"prompt": "a bridge", "model": "gpt-image-2-2026-04-21", "size": "1000x1000"}
    )

    assert result.is_error
    assert text_of(result) == "size '1000x1000' is not valid for gpt-image-2: both sides must be multiples of 16."
    assert emulator.requests_except_models == []
