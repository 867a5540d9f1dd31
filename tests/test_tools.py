"""What a client sees before calling anything: the tools, their annotations and their schemas."""

from __future__ import annotations

import pytest
from mcp import Client

pytestmark = pytest.mark.anyio


async def test_tool_list(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert set(tools) == {
        "generate_image",
        "edit_image",
        "create_image_variation",
        "analyze_image",
        "list_images",
        "get_job",
    }
    for name in ("analyze_image", "list_images", "get_job"):
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
    edit = tools["edit_image"].input_schema["properties"]
    assert edit["images"]["maxItems"] == 16
    assert "mask_region" in edit and "mask_invert" in edit
    assert "2048" in tools["analyze_image"].input_schema["properties"]["images"]["description"]
