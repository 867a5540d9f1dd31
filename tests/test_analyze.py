"""analyze_image and list_images: the right pixels reach the vision model for every ref form, answers come back
as text or as schema-checked data, and the store can be browsed."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.fake_openai import Emulator, Fault
from tests.support.images import animated_gif, encoded, png_bytes, write_png
from tests.support.results import images_in, text_of
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio

RED_LINE = "64x48 png dominant #d81818"


def chat_body(emulator: Emulator) -> dict[str, Any]:
    [request] = emulator.requests_to("/chat/completions")
    assert request.json is not None
    return request.json


async def analyze(client: Client, *images: str, **arguments: object) -> tuple[bool, str, dict[str, Any] | None]:
    result = await client.call_tool("analyze_image", {"images": list(images), **arguments})
    return bool(result.is_error), text_of(result), result.structured_content


async def test_generate_then_analyze_by_id(client: Client, emulator: Emulator) -> None:
    emulator.set(serves_retired=True)  # a gateway that still serves dall-e-2, for a small image
    made = await client.call_tool("generate_image", {"prompt": "a sunset", "model": "dall-e-2", "size": "512x512"})
    assert made.structured_content is not None
    image_id = made.structured_content["images"][0]["id"]

    failed, text, structured = await analyze(client, image_id)

    assert not failed, text
    assert text.startswith("image 1: 512x512 png dominant #")
    assert structured is not None
    assert set(structured) == {"text", "model", "usage"}
    assert structured["text"] == text
    assert structured["model"] == "gpt-6-luna"
    assert structured["usage"]["total_tokens"] > 0
    body = chat_body(emulator)
    assert body["model"] == "gpt-6-luna"
    [message] = body["messages"]
    assert message["content"][0] == {"type": "text", "text": "Describe this image."}
    assert message["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


@pytest.mark.parametrize("form", ["id", "uri", "path", "data-url", "base64"])
async def test_every_local_form_reaches_the_model(
    client: Client, emulator: Emulator, output_dir: Path, home: Path, form: str
) -> None:
    emulator.set(serves_retired=True)  # a gateway that still serves dall-e-2, for a small image
    made = await client.call_tool("generate_image", {"prompt": "x", "model": "dall-e-2", "size": "256x256"})
    assert made.structured_content is not None
    entry = made.structured_content["images"][0]
    red = write_png(home / "red.png", (64, 48), (220, 30, 30))
    data = base64.b64encode(red.read_bytes()).decode()
    ref = {
        "id": entry["id"],
        "uri": entry["uri"],
        "path": "~/red.png",
        "data-url": f"data:image/png;base64,{data}",
        "base64": data,
    }[form]
    emulator.reset()

    failed, text, _ = await analyze(client, ref)

    assert not failed, text
    expected = "image 1: 256x256 png" if form in ("id", "uri") else f"image 1: {RED_LINE}"
    assert text.startswith(expected)


async def test_urls_are_passed_through_or_inlined(make_settings: SettingsFactory, emulator: Emulator) -> None:
    url = emulator.serve_file("red.png", png_bytes((64, 48), (220, 30, 30)), "image/png")

    async with open_client(make_settings()) as client:
        failed, text, _ = await analyze(client, url)
    assert not failed, text
    assert text.startswith(f"image 1: {RED_LINE}")
    assert chat_body(emulator)["messages"][0]["content"][1]["image_url"]["url"] == url
    assert [r.headers.get("user-agent") for r in emulator.requests_to("/files/")] == ["emulator-fetch"]

    emulator.reset()
    emulator.serve_file("red.png", png_bytes((64, 48), (220, 30, 30)), "image/png")
    settings = make_settings(inline_image_urls=True, allow_private_urls=True)
    async with open_client(settings) as client:
        failed, text, _ = await analyze(client, url)
    assert not failed, text
    assert text.startswith(f"image 1: {RED_LINE}")
    assert chat_body(emulator)["messages"][0]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert [r.headers.get("user-agent") for r in emulator.requests_to("/files/")] == ["mcp-server-images"]


async def test_several_images_in_order_with_detail(client: Client, emulator: Emulator, home: Path) -> None:
    write_png(home / "a.png", (64, 48), (220, 30, 30))
    (home / "b.jpg").write_bytes(encoded((30, 20), (20, 20, 230), "JPEG"))

    failed, text, _ = await analyze(client, "~/a.png", "~/b.jpg", prompt="Which is bluer?", detail="high")

    assert not failed, text
    lines = text.splitlines()
    assert lines[0] == f"image 1: {RED_LINE} detail=high"
    assert lines[1].startswith("image 2: 30x20 jpeg dominant #")
    content = chat_body(emulator)["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "Which is bluer?"}
    assert [part["image_url"]["detail"] for part in content[1:]] == ["high", "high"]


async def test_large_local_images_are_downscaled(client: Client, emulator: Emulator, home: Path) -> None:
    write_png(home / "huge.png", (4000, 1000), (30, 200, 30))

    failed, text, _ = await analyze(client, "~/huge.png", max_tokens=50)

    assert not failed, text
    assert text.startswith("image 1: 2048x512 jpeg")
    assert "was downscaled to 2048 px for the model" in text
    assert chat_body(emulator)["max_completion_tokens"] == 50


async def test_structured_round_trip(client: Client, emulator: Emulator, home: Path) -> None:
    write_png(home / "receipt.png", (64, 48), (220, 30, 30))
    schema = {
        "type": "object",
        "properties": {"description": {"type": "string"}, "width": {"type": "integer"}, "paid": {"type": "boolean"}},
        "required": ["description", "width", "paid"],
        "additionalProperties": False,
    }

    failed, text, structured = await analyze(client, "~/receipt.png", response_schema=schema)

    assert not failed, text
    assert structured is not None
    assert structured["data"] == {"description": f"image 1: {RED_LINE} detail=auto", "width": 64, "paid": True}
    assert json.loads(text) == structured["data"]
    assert structured["model"] == "gpt-6-luna"
    format_sent = chat_body(emulator)["response_format"]
    assert format_sent == {"type": "json_schema", "json_schema": {"name": "response", "schema": schema, "strict": True}}


async def test_open_schemas_are_not_strict(client: Client, emulator: Emulator, home: Path) -> None:
    write_png(home / "a.png")
    schema = {"type": "object", "properties": {"text": {"type": "string"}}}

    failed, text, _ = await analyze(client, "~/a.png", response_schema=schema)

    assert not failed, text
    assert chat_body(emulator)["response_format"]["json_schema"]["strict"] is False


async def test_an_invalid_structured_reply_shows_the_raw_reply(client: Client, emulator: Emulator, home: Path) -> None:
    write_png(home / "a.png")
    emulator.set(chat_invalid_json=True)
    schema = {"type": "object", "properties": {"text": {"type": "string"}}}

    failed, text, _ = await analyze(client, "~/a.png", response_schema=schema)

    assert failed
    assert text.startswith("The model's reply is not valid JSON (")
    assert text.endswith("Raw reply: Sure! Here is the data: {oops")


async def test_a_reply_that_breaks_the_schema_is_refused(client: Client, emulator: Emulator, home: Path) -> None:
    write_png(home / "a.png")
    schema = {"type": "object", "properties": {"count": {"type": "integer", "minimum": 5}}, "required": ["count"]}

    failed, text, _ = await analyze(client, "~/a.png", response_schema=schema)

    assert failed
    assert text == (
        "The model's reply does not match response_schema at count: 1 is less than the minimum of 5. "
        'Raw reply: {"count": 1}'
    )


async def test_bad_schemas_and_animated_gifs_send_nothing(client: Client, emulator: Emulator, home: Path) -> None:
    write_png(home / "a.png")
    (home / "dance.gif").write_bytes(animated_gif())
    not_object = await analyze(client, "~/a.png", response_schema={"type": "array"})
    broken = await analyze(client, "~/a.png", response_schema={"type": "object", "properties": {"x": {"type": 5}}})
    animated = await analyze(client, "~/dance.gif")

    assert not_object[1] == 'response_schema must be a JSON Schema whose "type" is "object".'
    assert broken[1].startswith("response_schema is not a valid JSON Schema: ")
    assert animated[1] == "'~/dance.gif' is animated (2 frames); use a still image."
    assert emulator.requests_except_models == []


async def test_an_upstream_refusal_of_an_image_is_readable(client: Client, emulator: Emulator, home: Path) -> None:
    write_png(home / "a.png")
    body = {
        "error": {
            "message": "You uploaded an unsupported image. Please make sure your image is valid.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_image_format",
        }
    }
    emulator.enqueue(Fault(status=400, path="/v1/chat/completions", body=body, headers={"x-request-id": "req_vision1"}))

    failed, text, _ = await analyze(client, "~/a.png")

    assert failed
    assert text == (
        "The image API refused the request (HTTP 400, invalid_image_format): You uploaded an unsupported image. "
        "Please make sure your image is valid. (request id req_vision1)"
    )


async def test_dedalus_gets_the_prefixed_vision_model(
    make_settings: SettingsFactory, emulator: Emulator, home: Path
) -> None:
    write_png(home / "a.png")
    async with open_client(make_settings(provider="dedalus")) as client:
        failed, text, _ = await analyze(client, "~/a.png")
    assert not failed, text
    assert chat_body(emulator)["model"] == "openai/gpt-6-luna"


async def test_list_images_filters_and_previews(make_settings: SettingsFactory, emulator: Emulator) -> None:
    async with open_client(make_settings()) as client:
        for prompt in ("a red cat", "a blue dog", "a red bird"):
            made = await client.call_tool("generate_image", {"prompt": prompt, "quality": "low"})
            assert not made.is_error, text_of(made)

        everything = await client.call_tool("list_images", {})
        red = await client.call_tool("list_images", {"query": "RED", "limit": 5})
        with_previews = await client.call_tool("list_images", {"previews": True, "limit": 2})

    assert everything.structured_content is not None
    assert [i["prompt"] for i in everything.structured_content["images"]] == ["a red bird", "a blue dog", "a red cat"]
    assert images_in(everything) == []
    listed = everything.structured_content["images"][0]
    assert set(listed) == {
        "id",
        "uri",
        "path",
        "mime_type",
        "width",
        "height",
        "bytes",
        "revised_prompt",
        "prompt",
        "model",
        "created",
        "provenance",
    }
    assert Path(listed["path"]).is_file()
    assert red.structured_content is not None
    assert [i["prompt"] for i in red.structured_content["images"]] == ["a red bird", "a red cat"]
    table = text_of(red)
    assert table.startswith("Images 1-2 of 2 matching 'RED', newest first:")
    assert (red.structured_content["total"], red.structured_content["next_cursor"]) == (2, None)
    assert listed["id"] in table
    thumbnails = images_in(with_previews)
    assert len(thumbnails) == 2
    assert len(with_previews.model_dump_json()) < 900_000


async def test_list_images_when_empty(client: Client) -> None:
    result = await client.call_tool("list_images", {"query": "zebra"})
    assert text_of(result) == "No stored images match 'zebra'."
    assert result.structured_content == {"images": [], "total": 0, "next_cursor": None}
