"""Image options from the option table, as a client meets them: checked against the model's catalog entry (also a
user's models file), sent on the wire, kept in the sidecar and shown by list_models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from tests.fake_openai import Emulator
from tests.support.images import write_png
from tests.support.results import sidecar_of, text_of
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio


def listed(structured: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    assert structured is not None
    return {model["name"]: model for model in structured["models"]}


async def test_input_fidelity_takes_the_values_the_models_file_gives(
    make_settings: SettingsFactory, emulator: Emulator, tmp_path: Path, home: Path
) -> None:
    models_file = tmp_path / "models.toml"
    models_file.write_text('[models."gpt-image-2"]\ninput_fidelities = ["high"]\n', encoding="utf-8")
    source = write_png(home / "face.png", (1024, 1024))
    async with open_client(make_settings(models_file=models_file)) as client:
        refused = await client.call_tool(
            "edit_image",
            {"images": [str(source)], "prompt": "smile", "model": "gpt-image-2", "input_fidelity": "low"},
        )
        taken = await client.call_tool(
            "edit_image",
            {"images": [str(source)], "prompt": "smile", "model": "gpt-image-2", "input_fidelity": "high"},
        )

    assert refused.is_error
    assert text_of(refused).startswith("input_fidelity 'low' is not valid for gpt-image-2. Use one of: high.")
    assert not taken.is_error, text_of(taken)
    [request] = emulator.requests_to("/images/edits")
    assert request.form["input_fidelity"] == ["high"]


async def test_list_models_names_the_options_each_model_takes(client: Client) -> None:
    result = await client.call_tool("list_models", {})

    models = listed(result.structured_content)
    assert {"size", "quality", "output_format", "complexity", "input_fidelity"} <= set(
        models["gpt-image-2.6-flare"]["options"]
    )
    assert "complexity" not in models["gpt-image-2"]["options"] and "input_fidelity" in models["gpt-image-2"]["options"]
    assert models["gpt-6-luna"]["options"] == []


LOCAL_MODEL = """
[models."local-diffusion"]
kind = "image"
family = "gpt-image"
api = "images"
endpoints = ["generations", "edits"]
sizes = ["512x512", "1024x1024"]
output_formats = ["png"]
max_n = 4
max_edit_images = 1
seed = true
"""
"""A local server's model (as vLLM-Omni serves one), marked in the user's models file as taking a seed."""


@pytest.fixture
async def local(make_settings: SettingsFactory, emulator: Emulator, tmp_path: Path) -> AsyncIterator[Client]:
    models_file = tmp_path / "models.toml"
    models_file.write_text(LOCAL_MODEL, encoding="utf-8")
    emulator.set(served_models=["gpt-image-2.6-flare", "local-diffusion", "gpt-6-luna"])
    async with open_client(make_settings(models_file=models_file)) as client:
        yield client


async def test_a_seed_reaches_the_images_api_and_repeats_the_image(
    local: Client, emulator: Emulator, home: Path
) -> None:
    first, again, other = [
        await local.call_tool("generate_image", {"prompt": "a fox", "model": "local-diffusion", "seed": seed})
        for seed in (7, 7, 4_000_000_000)
    ]
    source = write_png(home / "fox.png", (512, 512))
    edited = await local.call_tool(
        "edit_image", {"images": [str(source)], "prompt": "add snow", "model": "local-diffusion", "seed": 7}
    )

    for result in (first, again, other, edited):
        assert not result.is_error, text_of(result)
    generations = [request.json for request in emulator.requests_to("/images/generations")]
    assert [body["seed"] for body in generations if body is not None] == [7, 7, 4_000_000_000]
    [edit] = emulator.requests_to("/images/edits")
    assert edit.form["seed"] == ["7"]
    stored = [stored_path(result) for result in (first, again, other)]
    assert stored[0].read_bytes() == stored[1].read_bytes() != stored[2].read_bytes()
    assert sidecar_of(stored[0])["parameters"] == {"n": 1, "seed": 7}


def stored_path(result: CallToolResult) -> Path:
    assert result.structured_content is not None
    return Path(result.structured_content["images"][0]["path"])


async def test_a_seed_is_refused_for_models_that_take_none_naming_those_that_do(
    local: Client, client: Client, emulator: Emulator
) -> None:
    shipped = await client.call_tool("generate_image", {"prompt": "a fox", "seed": 7})
    with_file = await local.call_tool("generate_image", {"prompt": "a fox", "seed": 7})
    out_of_range = await local.call_tool("generate_image", {"prompt": "a fox", "model": "local-diffusion", "seed": -1})

    assert text_of(shipped) == (
        "seed is not supported by gpt-image-2.6-flare; leave it out. No model in the catalog takes it."
    )
    assert text_of(with_file) == (
        "seed is not supported by gpt-image-2.6-flare; leave it out. Models that take it: local-diffusion."
    )
    assert text_of(out_of_range) == "seed must be between 0 and 4294967295, got -1."
    assert emulator.requests_to("/images/") == []


async def test_a_seed_goes_to_a_model_outside_the_catalog_as_given(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    emulator.set(served_models=["google/gemini-4-pro-image"])
    async with open_client(make_settings(provider="dedalus")) as client:
        result = await client.call_tool(
            "generate_image", {"prompt": "a heron", "model": "google/gemini-4-pro-image", "seed": 12}
        )

    assert not result.is_error, text_of(result)
    [request] = emulator.requests_to("/chat/completions")
    assert request.json is not None and request.json["seed"] == 12


async def test_list_models_shows_which_models_take_a_seed(local: Client) -> None:
    result = await local.call_tool("list_models", {})

    models = listed(result.structured_content)
    assert "seed" in models["local-diffusion"]["options"] and "seed" not in models["gpt-image-2.6-flare"]["options"]
    [line] = [line for line in text_of(result).splitlines() if line.startswith("- local-diffusion")]
    assert "; seed;" in line


async def test_seed_is_described_once_by_generate_image(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    generate = tools["generate_image"].input_schema["properties"]["seed"]
    edit = tools["edit_image"].input_schema["properties"]["seed"]

    assert (generate["type"], generate["minimum"], generate["maximum"]) == ("integer", 0, 4_294_967_295)
    assert "list_models" in generate["description"] and edit == {"type": "integer"}
