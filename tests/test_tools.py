"""What a client sees before calling anything: the tools, their annotations and their schemas."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from mcp import Client
from mcp.types import Tool

from mcp_server_images.adapter.tools.described import OUTPUT_SCHEMAS
from mcp_server_images.catalog.spec import Api
from tests.support.output_schemas import derived_schemas, written
from tests.support.results import TOOLS, text_of
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio


async def test_tool_list(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert list(tools) == TOOLS
    for name in ("analyze_image", "list_images", "list_models", "get_job"):
        annotations = tools[name].annotations
        assert annotations is not None and annotations.read_only_hint is True
    analyze = tools["analyze_image"].annotations
    assert analyze is not None and analyze.open_world_hint is True
    for name in ("generate_image", "edit_image", "create_image_variation"):
        annotations = tools[name].annotations
        assert annotations is not None
        assert (annotations.read_only_hint, annotations.destructive_hint) == (False, False)
        schema = tools[name].output_schema
        assert schema is not None
        assert schema["anyOf"] == [
            {"required": ["images", "model", "usage"]},
            {"required": ["job_id", "status", "elapsed_seconds"]},
        ]
        assert "save_to" in tools[name].input_schema["properties"]
    delete = tools["delete_images"].annotations
    assert delete is not None
    assert (delete.read_only_hint, delete.destructive_hint, delete.idempotent_hint) == (False, True, True)
    for name in ("generate_image", "edit_image", "create_image_variation"):
        assert tools[name].input_schema["properties"]["idempotency_key"]["maxLength"] == 200
    edit = tools["edit_image"].input_schema["properties"]
    assert edit["images"]["maxItems"] == 16
    assert "mask_region" in edit and "mask_invert" in edit
    assert "2048" in tools["analyze_image"].input_schema["properties"]["images"]["description"]


MODEL_VISIBLE_BOUND = 9_216
"""Bytes of name, description and input schema of every tool: 9 KB, with every option and provider of December 2026
(delete_images, idempotency_key, steps and negative_prompt took it to 9868 before the descriptions were trimmed to
9203). An assistant reads all of it on every turn."""


def model_visible(tools: list[Tool]) -> str:
    return json.dumps([{"name": t.name, "description": t.description, "inputSchema": t.input_schema} for t in tools])


def schema_nodes(node: Any) -> list[dict[str, Any]]:
    """Every object in a schema, property maps included, to look for pydantic's bookkeeping anywhere."""
    if isinstance(node, list):
        return [found for item in node for found in schema_nodes(item)]
    if not isinstance(node, dict):
        return []
    return [node] + [found for value in node.values() for found in schema_nodes(value)]


async def test_tool_definitions_stay_lean(client: Client) -> None:
    tools = (await client.list_tools()).tools

    assert len(model_visible(tools).encode()) <= MODEL_VISIBLE_BOUND
    for tool in tools:
        for node in schema_nodes(tool.input_schema):
            assert not isinstance(node.get("title"), str), (tool.name, node)
            assert {"type": "null"} not in node.get("anyOf", []), (tool.name, node)
            assert "default" not in node or node["default"] is not None, (tool.name, node)
        assert tool.description is not None and "\n    " not in tool.description


async def test_an_explicit_null_is_still_accepted(client: Client) -> None:
    """The schema shows optional parameters without null, but a client that sends null is not refused for it."""
    result = await client.call_tool("generate_image", {"prompt": "a red square", "model": None, "size": None})

    assert not result.is_error


async def test_descriptions_name_the_models_and_limits(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    generate = tools["generate_image"].input_schema["properties"]
    edit = tools["edit_image"].input_schema["properties"]

    for model in ("gpt-image-2.6-flare", "gpt-image-2.6-sunburst", "gpt-image-2.5", "gpt-image-2", "list_models"):
        assert model in generate["model"]["description"]
    assert "gpt-image-2.6-flare (default)" in generate["model"]["description"]
    assert "shut-down ones are refused" in generate["model"]["description"]
    assert "gpt-image-2.6-flare" in edit["model"]["description"]
    for value in ("xhigh", "max"):
        assert value in generate["quality"]["description"]
    for value in ("gif", "svg"):
        assert value in generate["output_format"]["description"]
    assert "low, medium or high" in generate["complexity"]["description"] and "complexity" in edit
    assert "3840x2160" in generate["size"]["description"] and "32000" in generate["prompt"]["description"]
    assert edit["images"]["maxItems"] == 16 and generate["n"]["maximum"] == 10
    variation_model = tools["create_image_variation"].input_schema["properties"]["model"]["description"]
    assert "dall-e-2 is shut down" in variation_model and "edits on the default image model" in variation_model
    assert "default gpt-6-luna" in tools["analyze_image"].input_schema["properties"]["model"]["description"]
    shared = [
        *("quality", "complexity", "background", "output_format", "output_compression", "api"),
        *("save_to", "overwrite", "dry_run", "confirm_cost"),
    ]
    for tool, names in (("edit_image", shared), ("create_image_variation", shared[-4:])):
        # Said once, by generate_image: the other tools point there instead of repeating it per parameter.
        said = " ".join((tools[tool].description or "").split())
        assert "Undescribed parameters: as for generate_image" in said
        properties = tools[tool].input_schema["properties"]
        for name in names:
            assert "description" not in properties[name] and "description" in generate[name], (tool, name)


async def test_descriptions_follow_the_configured_defaults(make_settings: SettingsFactory) -> None:
    """Built at start-up from the settings and the catalog, so they never name a stale default."""
    async with open_client(make_settings(default_model="openai/gpt-image-2", vision_model="gpt-4.1")) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    model = tools["generate_image"].input_schema["properties"]["model"]["description"]
    edit_model = tools["edit_image"].input_schema["properties"]["model"]["description"]
    vision_model = tools["analyze_image"].input_schema["properties"]["model"]["description"]

    assert model.startswith("gpt-image-2 (default), gpt-image-2.6-flare, gpt-image-2.6-sunburst")
    assert "gpt-image-2.6-flare (default" not in model and model.count("gpt-image-2,") == 0
    assert edit_model == "As for generate_image (default gpt-image-2)."
    assert vision_model.startswith("Vision chat model, default gpt-4.1;") and "gpt-6-luna" not in vision_model


async def test_the_api_parameter_offers_every_upstream_api(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    for name in ("generate_image", "edit_image"):
        assert tools[name].input_schema["properties"]["api"]["enum"] == [api.value for api in Api]


async def test_every_tool_with_structured_content_declares_a_schema_its_results_meet(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    made = await client.call_tool("generate_image", {"prompt": "a red square"})
    assert made.structured_content is not None
    [image] = made.structured_content["images"]
    calls: dict[str, list[dict[str, Any]]] = {
        "analyze_image": [{"images": [image["id"]]}, {"images": [image["id"]], "response_schema": COLOURS}],
        "usage_report": [{}],
    }

    for name, arguments in calls.items():
        schema = tools[name].output_schema
        assert schema is not None, name
        for given in arguments:
            result = await client.call_tool(name, given)
            assert not result.is_error, text_of(result)
            jsonschema.validate(result.structured_content, schema)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"unexpected": True}, schema)


COLOURS = {
    "type": "object",
    "properties": {"colours": {"type": "array", "items": {"type": "string"}}},
    "required": ["colours"],
}


def test_the_published_output_schemas_are_the_models() -> None:
    """The output schemas the tools publish are kept as data: they must be what the SDK derives from the models of
    adapter/tools/results.py. After a model changed, `make output-schemas` writes them again."""
    assert OUTPUT_SCHEMAS.read_text(encoding="utf-8") == written(derived_schemas()), "run `make output-schemas`"
