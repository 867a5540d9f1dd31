"""Chat-completions image models (gateways such as Dedalus and OpenRouter) through the same tools as GPT image models.

The emulator plays a Dedalus-like gateway: `google/...` names for Gemini, served only through /v1/chat/completions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.fake_openai import Emulator
from tests.support.images import decode_image
from tests.support.progress import ProgressLog
from tests.support.results import sidecar_of, stored_images, text_of
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio

CHAT = "/v1/chat/completions"
GATEWAY_MODELS = [
    "openai/gpt-image-2",
    "openai/gpt-6-luna",
    "google/gemini-nano-banana-2.1",
    "google/gemini-3.1-flash-image",
    "google/gemini-4-pro-image",
]
"""A Dedalus-like list: OpenAI's models and Google's (one Google shut down on 2026-10-29 that the gateway still
routes), the last one a model the catalog has never heard of."""


@pytest.fixture
async def gateway(make_settings: SettingsFactory, emulator: Emulator) -> AsyncIterator[Client]:
    emulator.set(served_models=list(GATEWAY_MODELS))
    async with open_client(make_settings(provider="dedalus")) as client:
        yield client


def chat_requests(emulator: Emulator) -> list[dict[str, Any]]:
    return [request.json for request in emulator.requests_to(CHAT) if request.json is not None]


async def test_a_chat_image_model_generates_through_chat_completions(
    gateway: Client, emulator: Emulator, output_dir: Path
) -> None:
    result = await gateway.call_tool(
        "generate_image", {"prompt": "a lighthouse at dawn", "model": "gemini-nano-banana-2.1", "size": "1536x1024"}
    )

    assert not result.is_error, text_of(result)
    [body] = chat_requests(emulator)
    assert body["model"] == "google/gemini-nano-banana-2.1"
    assert body["modalities"] == ["image", "text"]
    assert body["image_config"] == {"aspect_ratio": "3:2", "image_size": "2K"}
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "a lighthouse at dawn"}]}]
    [image] = stored_images(output_dir)
    assert decode_image(image.read_bytes()).size == (2048, 1368)
    assert result.structured_content is not None
    assert result.structured_content["model"] == "google/gemini-nano-banana-2.1"
    assert result.structured_content["usage"]["completion_tokens"] == 1290
    text = text_of(result)
    assert "size 1536x1024 was sent as aspect ratio 3:2 at 2K." in text
    assert "The model said: Here is the picture: a lighthouse at dawn." in text
    assert (sidecar_of(image)["api"], sidecar_of(image)["model"]) == ("chat", "google/gemini-nano-banana-2.1")
    assert emulator.contract_violations == []


@pytest.mark.parametrize("shape", ["images", "content", "text"])
async def test_every_answer_shape_gateways_use_is_read(
    gateway: Client, emulator: Emulator, output_dir: Path, shape: str
) -> None:
    """OpenRouter's message.images, image_url content parts, and a data URL inside the text all give the image."""
    emulator.set(chat_image_shape=shape)
    result = await gateway.call_tool("generate_image", {"prompt": "a fox", "model": "gemini-nano-banana-2.1"})

    assert not result.is_error, text_of(result)
    [image] = stored_images(output_dir)
    assert image.read_bytes() == emulator.sent_images[-1]
    assert "The model said: Here is the picture: a fox." in text_of(result)
    assert "base64" not in text_of(result)


async def test_several_images_are_several_requests(gateway: Client, emulator: Emulator, output_dir: Path) -> None:
    result = await gateway.call_tool("generate_image", {"prompt": "a fox", "model": "gemini-nano-banana-2.1", "n": 3})

    assert not result.is_error, text_of(result)
    assert len(chat_requests(emulator)) == 3 and len(stored_images(output_dir)) == 3
    assert "makes one image per request on the chat API, so 3 requests were sent concurrently" in text_of(result)


async def test_a_chat_image_model_edits_with_image_url_parts(
    gateway: Client, emulator: Emulator, output_dir: Path
) -> None:
    made = await gateway.call_tool("generate_image", {"prompt": "a lake", "model": "gpt-image-2", "size": "1024x1536"})
    assert made.structured_content is not None
    first = made.structured_content["images"][0]["id"]

    result = await gateway.call_tool(
        "edit_image", {"images": [first], "prompt": "add a canoe", "model": "gemini-nano-banana-2.1", "n": 2}
    )

    assert not result.is_error, text_of(result)
    body, same = chat_requests(emulator)  # one image per request: n=2 is two requests
    assert body == same
    [text_part, image_part] = body["messages"][0]["content"]
    assert text_part == {"type": "text", "text": "add a canoe"}
    assert image_part["type"] == "image_url" and image_part["image_url"]["url"].startswith("data:image/png;base64,")
    assert "image_config" not in body
    assert result.structured_content is not None and len(result.structured_content["images"]) == 2
    edited = Path(result.structured_content["images"][0]["path"])
    assert decode_image(edited.read_bytes()).size == (1024, 1536)
    assert sidecar_of(edited)["source_images"] == [first]


async def test_a_mask_is_refused_with_the_models_that_take_masks(gateway: Client, emulator: Emulator) -> None:
    for argument in ({"mask_region": [{"shape": "rect", "x": 0, "y": 0, "width": 10, "height": 10}]}, {"mask": "m"}):
        result = await gateway.call_tool(
            "edit_image",
            {"images": ["iVBORw0KGgo="], "prompt": "add a canoe", "model": "gemini-nano-banana-2.1", **argument},
        )
        assert result.is_error
        assert "gemini-nano-banana-2.1 edits through Chat Completions, which takes no mask" in text_of(result)
        assert "use a model that takes masks: gpt-image-2.6-flare, gpt-image-2.6-sunburst" in text_of(result)
        assert "gemini" not in text_of(result).split("takes masks:")[1]
    assert chat_requests(emulator) == []


async def test_a_dedalus_named_model_outside_the_catalog_routes_to_chat(
    gateway: Client, emulator: Emulator, output_dir: Path
) -> None:
    result = await gateway.call_tool(
        "generate_image", {"prompt": "a heron", "model": "google/gemini-4-pro-image", "size": "1024x1536"}
    )

    assert not result.is_error, text_of(result)
    [body] = chat_requests(emulator)
    assert body["model"] == "google/gemini-4-pro-image" and "image_config" not in body
    assert body["messages"][0]["content"][0]["text"] == "a heron\n\nMake the image 1024x1536 pixels."
    assert "google/gemini-4-pro-image takes no size parameter, so size 1024x1536 was asked for in the instruction" in (
        text_of(result)
    )
    assert emulator.requests_to("/images/") == []
    assert len(stored_images(output_dir)) == 1


async def test_the_models_file_routes_a_gateways_model_to_chat(
    make_settings: SettingsFactory, emulator: Emulator, tmp_path: Path, output_dir: Path
) -> None:
    models_file = tmp_path / "gateway.toml"
    models_file.write_text(
        '[models."painter-image"]\nkind = "image"\nfamily = "chat"\napi = "chat"\n'
        'endpoints = ["generations", "edits"]\nsizes = ["1024x1024"]\nmax_edit_images = 2\n',
        encoding="utf-8",
    )
    emulator.set(served_models=["gpt-image-2", "painter-image"])
    async with open_client(make_settings(provider=emulator.base_url, models_file=models_file)) as client:
        result = await client.call_tool("generate_image", {"prompt": "a heron", "model": "painter-image"})
        listed = await client.call_tool("list_models", {})

    assert not result.is_error, text_of(result)
    assert [body["model"] for body in chat_requests(emulator)] == ["painter-image"]
    assert listed.structured_content is not None
    painter = next(m for m in listed.structured_content["models"] if m["name"] == "painter-image")
    assert painter["apis"] == ["chat"]


async def test_a_text_only_answer_is_a_clear_error_and_nothing_is_stored(
    gateway: Client, emulator: Emulator, output_dir: Path
) -> None:
    emulator.set(chat_image_shape="text_only")
    result = await gateway.call_tool("generate_image", {"prompt": "a fox", "model": "gemini-nano-banana-2.1"})

    assert result.is_error
    assert text_of(result).startswith(
        'google/gemini-nano-banana-2.1 answered with only text: "I cannot draw pictures, but I can describe one: '
        'a calm lake at dawn.". Nothing was stored; ask for a picture explicitly, or try another model.'
    )
    assert "request id req_" in text_of(result)
    assert stored_images(output_dir) == []


async def test_streamed_delta_images_are_progress(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    emulator.set(served_models=list(GATEWAY_MODELS))
    progress = ProgressLog()
    async with open_client(make_settings(provider="dedalus"), mode="legacy") as client:
        result = await client.call_tool(
            "generate_image", {"prompt": "a fox", "model": "gemini-nano-banana-2.1"}, progress_callback=progress.record
        )

    assert not result.is_error, text_of(result)
    [body] = chat_requests(emulator)
    assert body["stream"] is True
    assert progress.messages[0] == "request sent to google/gemini-nano-banana-2.1 through the chat API"
    assert any(message.startswith("partial image 1 of 2") for message in progress.messages)
    progress.assert_increasing()
    [image] = stored_images(output_dir)
    assert image.read_bytes() == emulator.sent_images[-1]
    assert "The model said: Here is the picture: a fox." in text_of(result)


async def test_an_api_the_model_cannot_use_is_refused_naming_those_it_can(gateway: Client, emulator: Emulator) -> None:
    result = await gateway.call_tool(
        "generate_image", {"prompt": "a fox", "model": "gemini-nano-banana-2.1", "api": "responses"}
    )

    assert result.is_error
    assert text_of(result) == ("gemini-nano-banana-2.1 cannot be used through the responses API; it can through: chat.")
    assert emulator.requests_except_models == []


async def test_list_models_shows_the_apis_of_each_model(gateway: Client) -> None:
    result = await gateway.call_tool("list_models", {})

    assert result.structured_content is not None
    apis = {model["name"]: model["apis"] for model in result.structured_content["models"]}
    assert apis["openai/gpt-image-2"] == ["images", "responses"]
    assert apis["google/gemini-nano-banana-2.1"] == ["chat"]
    assert apis["openai/gpt-6-luna"] == ["chat"]
    assert "- google/gemini-nano-banana-2.1 [image; active]; generations/edits;" in text_of(result)
    assert "api chat" in text_of(result)


async def test_a_retired_gemini_model_a_gateway_still_routes_works_with_a_warning(
    gateway: Client, emulator: Emulator
) -> None:
    """Google shut gemini-3.1-flash-image down on 2026-10-29 (gemini-nano-banana-2.1 replaced it); a gateway whose
    list still has it is sent the call, and the result says what to move to."""
    result = await gateway.call_tool("generate_image", {"prompt": "a fox", "model": "gemini-3.1-flash-image"})

    assert not result.is_error, text_of(result)
    [body] = chat_requests(emulator)
    assert body["model"] == "google/gemini-3.1-flash-image"
    assert (
        "Warning: gemini-3.1-flash-image was shut down by Google on 2026-10-29; this provider still serves it; use "
        "gemini-nano-banana-2.1 (named by Google)." in text_of(result)
    )
