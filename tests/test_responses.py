"""The Responses API's image_generation tool through generate_image and edit_image: conversations a refinement
continues, input images and masks, the /images/edits fallback, partial images as progress, and its errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_server_images.cli import load_settings
from tests.fake_openai import Emulator, Fault, Switches
from tests.support.progress import ProgressLog
from tests.support.results import sidecar_of, stored_images, text_of
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio

RESPONSES = "/v1/responses"
EDITS = "/v1/images/edits"
REGION = [{"shape": "rect", "x": 0, "y": 0, "width": 0.5, "height": 0.5}]


def responses_bodies(emulator: Emulator) -> list[dict[str, Any]]:
    return [request.json for request in emulator.requests_to(RESPONSES) if request.json is not None]


def first_image(result: Any) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    image: dict[str, Any] = result.structured_content["images"][0]
    return image


def chain_log(emulator: Emulator) -> list[str]:
    """The emulator's log of /v1/responses requests, one line per turn: what a reader checks the chain with."""
    lines = []
    answered = list(emulator.conversations)  # in the order the emulator answered
    for number, (body, answer) in enumerate(zip(responses_bodies(emulator), answered, strict=True), 1):
        inputs = body["input"] if isinstance(body["input"], str) else "[input_text + input_image]"
        lines.append(
            f"{number}. POST {RESPONSES} model={body['model']} tool.model={body['tools'][0]['model']} "
            f"previous_response_id={body.get('previous_response_id')} input={inputs!r} -> {answer}"
        )
    return lines


async def test_a_generation_through_responses(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool(
        "generate_image",
        {
            "prompt": "a lake at dawn",
            "model": "gpt-image-2",
            "size": "1536x1024",
            "quality": "high",
            "output_format": "webp",
            "api": "responses",
        },
    )

    image = first_image(result)
    [body] = responses_bodies(emulator)
    assert body["model"] == "gpt-6-luna" and body["input"] == "a lake at dawn"
    assert body["tools"] == [
        {
            "type": "image_generation",
            "model": "gpt-image-2",
            "size": "1536x1024",
            "quality": "high",
            "output_format": "webp",
        }
    ]
    assert body["tool_choice"] == {"type": "image_generation"} and "stream" not in body
    assert (image["width"], image["height"], image["mime_type"]) == (1536, 1024, "image/webp")
    assert image["revised_prompt"] == "a lake at dawn"
    [response_id] = emulator.conversations
    stored = sidecar_of(image["path"])
    assert (stored["api"], stored["response_id"]) == ("responses", response_id)
    structured = result.structured_content
    assert structured is not None
    parts = structured["usage_parts"]
    assert [part["model"] for part in parts] == ["gpt-6-luna", "gpt-image-2"]
    assert structured["usage"]["output_tokens"] == sum(part["usage"]["output_tokens"] for part in parts) == 4200
    assert "Made through the Responses API: gpt-6-luna called the image_generation tool (a new conversation)." in (
        text_of(result)
    )
    assert "The model said: Here is the image." in text_of(result)
    assert emulator.contract_violations == []


async def test_a_three_turn_refinement_chains_its_conversation(
    client: Client, emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    made = first_image(await client.call_tool("generate_image", {"prompt": "a calm lake", "api": "responses"}))
    canoe = first_image(await client.call_tool("edit_image", {"images": [made["id"]], "prompt": "add a lone canoe"}))
    dusk = first_image(await client.call_tool("edit_image", {"images": [canoe["id"]], "prompt": "now make it dusk"}))

    first, second, third = responses_bodies(emulator)
    assert "previous_response_id" not in first
    assert second["previous_response_id"] == sidecar_of(made["path"])["response_id"]
    assert third["previous_response_id"] == sidecar_of(canoe["path"])["response_id"]
    assert (second["input"], third["input"]) == ("add a lone canoe", "now make it dusk")  # no image sent again
    assert dusk["revised_prompt"] == "a calm lake; then add a lone canoe; then now make it dusk"
    assert emulator.requests_to(EDITS) == []
    log = chain_log(emulator)
    with capsys.disabled():
        print("\nThe emulator's log of a three-turn refinement:\n" + "\n".join(log))
    assert log[2] == (
        f"3. POST /v1/responses model=gpt-6-luna tool.model=gpt-image-2.6-flare "
        f"previous_response_id={sidecar_of(canoe['path'])['response_id']} input='now make it dusk' "
        f"-> {sidecar_of(dusk['path'])['response_id']}"
    )
    assert emulator.contract_violations == []


async def test_editing_another_image_sends_it_with_the_mask(client: Client, emulator: Emulator) -> None:
    made = first_image(await client.call_tool("generate_image", {"prompt": "a lake", "model": "gpt-image-2"}))
    stored = sidecar_of(made["path"])
    assert stored["api"] == "images" and stored["response_id"] is None

    edited = first_image(
        await client.call_tool(
            "edit_image",
            {
                "images": [made["id"]],
                "prompt": "add a canoe",
                "mask_region": REGION,
                "api": "responses",
                "model": "gpt-image-2",
            },
        )
    )

    [body] = responses_bodies(emulator)
    assert "previous_response_id" not in body
    [message] = body["input"]
    [text, picture] = message["content"]
    assert text == {"type": "input_text", "text": "add a canoe"}
    assert picture["type"] == "input_image" and picture["image_url"].startswith("data:image/png;base64,")
    assert body["tools"][0]["input_image_mask"]["image_url"].startswith("data:image/png;base64,")
    assert (edited["width"], edited["height"]) == (made["width"], made["height"])
    assert emulator.contract_violations == []


@pytest.mark.parametrize(
    "refusal",
    ["Image edits are not supported for gpt-image-2.", "Invalid value: 'gpt-image-2'. Value must be 'dall-e-2'."],
    ids=["not-supported", "must-be-dall-e-2"],
)
async def test_an_edit_images_edits_refuses_goes_through_responses(
    client: Client, emulator: Emulator, output_dir: Path, refusal: str
) -> None:
    made = first_image(await client.call_tool("generate_image", {"prompt": "a lake", "model": "gpt-image-2"}))
    emulator.set(edits_refused={"gpt-image-2": refusal})

    result = await client.call_tool(
        "edit_image", {"images": [made["id"]], "prompt": "add a canoe"} | {"model": "gpt-image-2"}
    )

    edited = first_image(result)
    assert len(emulator.requests_to(EDITS)) == 1 and len(responses_bodies(emulator)) == 1
    assert (f"Edited through the Responses API because /images/edits refused gpt-image-2 ({refusal}).") in text_of(
        result
    )
    stored = sidecar_of(edited["path"])
    assert stored["api"] == "responses" and stored["response_id"] in emulator.conversations
    assert len(stored_images(output_dir)) == 2


async def test_partial_images_of_responses_are_progress(make_settings: SettingsFactory, emulator: Emulator) -> None:
    progress = ProgressLog()
    async with open_client(make_settings(image_api="responses"), mode="legacy") as client:
        result = await client.call_tool("generate_image", {"prompt": "a lake"}, progress_callback=progress.record)

    image = first_image(result)
    [body] = responses_bodies(emulator)
    assert body["stream"] is True and body["tools"][0]["partial_images"] == 2
    assert body["tools"][0]["model"] == "gpt-image-2.6-flare"
    assert progress.messages[0] == "request sent to gpt-image-2.6-flare through the responses API"
    assert [m.split(" received")[0] for m in progress.messages if m.startswith("partial")] == [
        "partial image 1 of 2",
        "partial image 2 of 2",
    ]
    progress.assert_increasing()
    assert sidecar_of(image["path"])["response_id"] in emulator.conversations
    assert emulator.contract_violations == []


async def test_a_conversation_the_provider_forgot_is_started_again(client: Client, emulator: Emulator) -> None:
    made = first_image(
        await client.call_tool("generate_image", {"prompt": "a lake", "model": "gpt-image-2", "api": "responses"})
    )
    emulator.forget_conversations()

    result = await client.call_tool("edit_image", {"images": [made["id"]], "prompt": "add a canoe"})

    first_image(result)
    _, refused, again = responses_bodies(emulator)
    assert refused["previous_response_id"] == sidecar_of(made["path"])["response_id"]
    assert "previous_response_id" not in again and again["input"][0]["content"][1]["type"] == "input_image"
    assert f"The provider no longer keeps conversation {sidecar_of(made['path'])['response_id']}" in text_of(result)


async def test_the_setting_and_flags_make_responses_the_default_for_gpt_models(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    settings = load_settings(["--image-api", "responses", "--responses-model", "gpt-4.1"])
    assert (settings.image_api, settings.responses_model) == ("responses", "gpt-4.1")
    async with open_client(make_settings(image_api="responses", responses_model="gpt-4.1")) as client:
        made = first_image(await client.call_tool("generate_image", {"prompt": "a lake"}))
        images = first_image(await client.call_tool("generate_image", {"prompt": "a lake", "api": "images"}))

    [body] = responses_bodies(emulator)
    assert (body["model"], body["tools"][0]["model"]) == ("gpt-4.1", "gpt-image-2.6-flare")
    assert sidecar_of(made["path"])["api"] == "responses" and sidecar_of(images["path"])["api"] == "images"
    assert len(emulator.requests_to("/v1/images/generations")) == 1


async def test_dedalus_names_the_mainline_model_with_its_prefix(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    emulator.set(served_models=["openai/gpt-image-2", "openai/gpt-6-luna"])
    async with open_client(make_settings(provider="dedalus")) as client:
        first_image(await client.call_tool("generate_image", {"prompt": "a lake", "api": "responses"}))

    [body] = responses_bodies(emulator)
    assert (body["model"], body["tools"][0]["model"]) == ("openai/gpt-6-luna", "openai/gpt-image-2")


@pytest.mark.parametrize(
    ("switches", "prompt", "expected"),
    [
        pytest.param(
            Switches(responses_text_only=True),
            "a lake",
            "The Responses API answered without an image (the mainline model said: "
            '"I would rather describe it: a calm lake at dawn."). Nothing was stored',
            id="text only",
        ),
        pytest.param(Switches(), "something forbidden", "moderation_blocked", id="moderation"),
        pytest.param(
            Switches(stream_error=True),
            "a lake",
            "The image stream reported an error: Image generation failed midway.",
            id="stream error",
        ),
    ],
)
async def test_errors_of_responses_are_readable_and_store_nothing(
    make_settings: SettingsFactory,
    emulator: Emulator,
    output_dir: Path,
    switches: Switches,
    prompt: str,
    expected: str,
) -> None:
    emulator.set(**switches)
    async with open_client(make_settings(), mode="legacy") as client:
        result = await client.call_tool(
            "generate_image", {"prompt": prompt, "api": "responses"}, progress_callback=ProgressLog().record
        )

    assert result.is_error
    assert expected in text_of(result)
    assert stored_images(output_dir) == []


async def test_a_mainline_model_the_provider_lacks_is_named_as_such(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    async with open_client(make_settings(responses_model="gpt-9-nope")) as client:
        result = await client.call_tool("generate_image", {"prompt": "a lake", "api": "responses"})
        again = await client.call_tool("generate_image", {"prompt": "a lake"})

    assert result.is_error
    assert text_of(result).startswith(
        "The image API refused the request (HTTP 404, mainline_model_not_found): The Responses API's mainline "
        "model gpt-9-nope is not served here"
    )
    assert "MCP_IMAGES_RESPONSES_MODEL (--responses-model)" in text_of(result)
    assert not again.is_error, text_of(again)  # the image model was not taken for gone


async def test_a_refusal_of_another_parameter_is_not_sent_to_responses(client: Client, emulator: Emulator) -> None:
    """A 400 about the size that happens to name the model is about the size: the Responses API would refuse it
    too, so it is reported as it came."""
    made = first_image(await client.call_tool("generate_image", {"prompt": "a lake", "model": "gpt-image-2"}))
    refused = {"message": "gpt-image-2 cannot make this size.", "type": "invalid_request_error"}
    emulator.enqueue(
        Fault(status=400, path=EDITS, body={"error": refused | {"param": "size", "code": "invalid_value"}})
    )

    result = await client.call_tool(
        "edit_image", {"images": [made["id"]], "prompt": "add a canoe", "model": "gpt-image-2"}
    )

    assert result.is_error
    assert "gpt-image-2 cannot make this size. [parameter: size]" in text_of(result)
    assert responses_bodies(emulator) == []
