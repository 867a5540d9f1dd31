"""Issue 9 as a user meets it through the MCP client: current models by default, shut-down ones refused before
anything is paid, gateways and providers without a model list, warnings, stale lists, and list_models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.fake_openai import Emulator, Fault
from tests.support.images import write_png
from tests.support.results import text_of
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio

GENERATIONS = "/v1/images/generations"
DALL_E_3_GONE = (
    "dall-e-3 was shut down by OpenAI on 2026-05-12; use gpt-image-2.6-flare (fast) or gpt-image-2.6-sunburst "
    "(best quality)."
)


async def test_a_shut_down_model_is_refused_before_any_request(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool("generate_image", {"prompt": "a lighthouse", "model": "dall-e-3"})

    assert result.is_error
    assert text_of(result) == DALL_E_3_GONE
    assert emulator.requests_to("/images") == []


async def test_a_gateway_that_still_serves_dall_e_3_passes_it_through(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    emulator.set(serves_retired=True)
    async with open_client(make_settings(provider=emulator.base_url)) as client:
        result = await client.call_tool("generate_image", {"prompt": "a lighthouse", "model": "dall-e-3"})

    assert not result.is_error, text_of(result)
    [request] = emulator.requests_to("/images/generations")
    assert request.json is not None and request.json["model"] == "dall-e-3"
    assert "Warning: dall-e-3 was shut down by OpenAI on 2026-05-12; this provider still serves it" in text_of(result)


async def test_a_provider_without_a_model_list_works_with_the_defaults(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    emulator.set(models_answer="404")
    async with open_client(make_settings(provider=emulator.base_url)) as client:
        result = await client.call_tool("generate_image", {"prompt": "a lighthouse"})

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None and result.structured_content["model"] == "gpt-image-2.6-flare"
    assert "not served" not in text_of(result) and "Warning" not in text_of(result)
    assert len(emulator.requests_to("/v1/models")) == 1


async def test_a_default_the_provider_no_longer_serves_resolves_to_its_replacement(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    async with open_client(make_settings(default_model="gpt-image-1")) as client:
        result = await client.call_tool("generate_image", {"prompt": "a lighthouse"})

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None and result.structured_content["model"] == "gpt-image-2.6-flare"
    assert (
        "Default model: gpt-image-1 is not served by this provider (shut down 2026-10-23); using "
        "gpt-image-2.6-flare, its replacement." in text_of(result)
    )
    [request] = emulator.requests_to("/images/generations")
    assert request.json is not None and request.json["model"] == "gpt-image-2.6-flare"


async def test_a_stale_list_is_explained_and_the_model_refused_from_then_on(client: Client, emulator: Emulator) -> None:
    emulator.set(served_models=["gpt-image-2", "gpt-image-2.6-flare", "gpt-6-luna"])
    gone = {"message": "The model `gpt-image-2` does not exist.", "code": "model_not_found", "param": None}
    emulator.enqueue(Fault(status=404, body={"error": {**gone, "type": "invalid_request_error"}}, path=GENERATIONS))

    first = await client.call_tool("generate_image", {"prompt": "a lighthouse", "model": "gpt-image-2"})
    second = await client.call_tool("generate_image", {"prompt": "a lighthouse", "model": "gpt-image-2"})

    assert first.is_error, text_of(first)
    assert second.is_error, text_of(second)
    explanation = "gpt-image-2 is not served by this provider any more (it answered model_not_found)"
    assert text_of(first).startswith(explanation)
    assert "The model `gpt-image-2` does not exist." in text_of(first)
    assert text_of(second).startswith(explanation)
    assert len(emulator.requests_to("/images/generations")) == 1, "the second call is refused before any request"


def by_name(structured: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    assert structured is not None
    return {model["name"]: model for model in structured["models"]}


async def test_list_models_tells_what_an_openai_like_provider_serves(client: Client) -> None:
    result = await client.call_tool("list_models", {})

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None and result.structured_content["provider_listed"] is True
    models = by_name(result.structured_content)
    assert "dall-e-3" not in models and "gpt-image-1" not in models
    flare = models["gpt-image-2.6-flare"]
    assert (flare["served"], flare["default"], flare["status"], flare["shutdown"]) == (True, True, "active", None)
    assert flare["endpoints"] == ["generations", "edits"] and flare["complexities"] == ["low", "medium", "high"]
    assert {"xhigh", "max"} <= set(flare["qualities"]) and {"gif", "svg"} <= set(flare["output_formats"])
    assert flare["max_edit_images"] == 16 and "multiples of 16" in flare["free_size"]
    assert flare["prices_per_1m"]["image_output"] == 30.0
    assert models["gpt-image-1.5"]["status"] == "deprecated" and models["gpt-image-1.5"]["shutdown"] == "2026-12-01"
    assert models["gpt-6-luna"]["kind"] == "vision" and models["gpt-6-luna"]["default"] is True
    assert models["gpt-image-2.6-sunburst"]["default"] is False
    two = models["gpt-image-2"]
    assert (two["status"], two["shutdown"], two["reported_shutdown"]) == ("active", None, "2027-02-10")
    assert models["gpt-5-mini"]["shutdown"] == "2026-12-11" and models["gpt-6.1-sol"]["status"] == "active"
    lines = text_of(result).splitlines()
    assert lines[0] == "18 models, from this provider's model list:"
    assert "- gpt-image-1.5 [image; deprecated, shuts down on 2026-12-01]; generations/edits; " in "\n".join(lines)
    assert any(line.startswith("- gpt-image-2.6-flare (default) [image; active]") for line in lines)
    assert any(
        line.startswith(
            "- gpt-image-2 [image; active, reported to shut down on 2027-02-10 (contentforge release v4.7.1, one "
            "source; unconfirmed)]"
        )
        for line in lines
    )
    catalog = result.structured_content["catalog"]
    assert (catalog["serial"], catalog["source"], catalog["published"]) == (
        2026120700,
        "shipped with the package",
        "2026-12-07",
    )
    assert lines[-1].startswith("Catalog: serial 2026120700, shipped with the package, facts as of 2026-12-07; ")


async def test_list_models_on_a_dedalus_like_list(make_settings: SettingsFactory, emulator: Emulator) -> None:
    emulator.set(served_models=["openai/gpt-image-2", "openai/gpt-image-2.5-flare", "openai/gpt-6-luna", "openai/o9"])
    async with open_client(make_settings(provider="dedalus")) as client:
        result = await client.call_tool("list_models", {})

    models = by_name(result.structured_content)
    assert set(models) == {"openai/gpt-image-2", "openai/gpt-image-2.5-flare", "openai/gpt-6-luna"}
    assert models["openai/gpt-image-2.5-flare"]["default"] is True and models["openai/gpt-6-luna"]["default"] is True
    assert models["openai/gpt-image-2"]["default"] is False and models["openai/gpt-image-2"]["served"] is True
    assert result.structured_content is not None
    notes = "\n".join(result.structured_content["notes"])
    assert "Default image model: gpt-image-2.6-flare is not served by this provider" in notes
    assert "also lists 1 models the catalog does not describe" in notes


async def test_list_models_without_a_provider_list_says_so(make_settings: SettingsFactory, emulator: Emulator) -> None:
    emulator.set(models_answer="401")
    async with open_client(make_settings(provider=emulator.base_url)) as client:
        result = await client.call_tool("list_models", {})

    assert result.structured_content is not None and result.structured_content["provider_listed"] is False
    models = by_name(result.structured_content)
    assert all(model["served"] is None for model in models.values())
    assert "dall-e-3" not in models and models["gpt-image-1.5"]["shutdown"] == "2026-12-01"
    # Google's three current image models (chat-completions image models gateways serve) and the other providers'
    # own models are listed too, unconfirmed: a gateway by URL may serve any vendor's; gemini-3.1-flash-image, shut
    # down on 2026-10-29, is not.
    assert text_of(result).startswith("23 models, from the catalog (the provider gives no model list):")
    assert "gemini-nano-banana-2.1" in models and "gemini-3.1-flash-image" not in models


async def test_complexity_reaches_the_wire_and_is_refused_where_not_taken(
    client: Client, emulator: Emulator, home: Path
) -> None:
    source = write_png(home / "room.png", (1024, 1024))
    made = await client.call_tool("generate_image", {"prompt": "a room", "complexity": "low"})
    edited = await client.call_tool(
        "edit_image", {"images": [str(source)], "prompt": "add a cat", "complexity": "high"}
    )
    older = await client.call_tool(
        "generate_image", {"prompt": "a room", "model": "gpt-image-2.5-flare", "complexity": "low"}
    )
    unknown = await client.call_tool("generate_image", {"prompt": "a room", "complexity": "extreme"})

    assert not made.is_error and not edited.is_error, text_of(made) + text_of(edited)
    [generation] = emulator.requests_to("/images/generations")
    assert generation.json is not None and generation.json["complexity"] == "low"
    [edit] = emulator.requests_to("/images/edits")
    assert edit.form["complexity"] == ["high"]
    assert older.is_error and text_of(older).startswith("complexity is not supported by gpt-image-2.5-flare")
    assert unknown.is_error
    assert "complexity 'extreme' is not valid for gpt-image-2.6-flare. Use one of: low, medium, high." in text_of(
        unknown
    )


async def test_with_defaults_every_tool_works_against_an_openai_like_provider(
    client: Client, emulator: Emulator
) -> None:
    """Issue 9's "done when": generate, edit, variation and analyze, chained, all with current models."""
    made = await client.call_tool("generate_image", {"prompt": "a red kite"})
    assert made.structured_content is not None, text_of(made)
    image_id = made.structured_content["images"][0]["id"]
    edited = await client.call_tool("edit_image", {"images": [image_id], "prompt": "make the sky purple"})
    varied = await client.call_tool("create_image_variation", {"image": image_id})
    analyzed = await client.call_tool("analyze_image", {"images": [image_id]})

    for result in (made, edited, varied, analyzed):
        assert not result.is_error, text_of(result)
    for result in (made, edited, varied):
        assert result.structured_content is not None and result.structured_content["model"] == "gpt-image-2.6-flare"
    assert varied.structured_content is not None and varied.structured_content["method"] == "edits"
    [chat] = emulator.requests_to("/chat/completions")
    assert chat.json is not None and chat.json["model"] == "gpt-6-luna"
    assert emulator.requests_to("/images/variations") == []
