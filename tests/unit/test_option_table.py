"""The option table agrees with what is derived from it: the tools' parameters, the request fields each API gets
(checked against the OpenAPI contract), the catalog file's fields and the values a call may carry."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from mcp_server_images.adapter.tools.handlers import create_image_variation, edit_image, generate_image
from mcp_server_images.catalog.load import SHIPPED
from mcp_server_images.catalog.options import OPTIONS, Check, ImageOptions, catalog_fields
from mcp_server_images.catalog.spec import Api, ImageEndpoint
from tests.fake_openai import contract

NAMES = {row.name for row in OPTIONS}
EVERY_OPTION = ImageOptions.from_arguments({row.name: row.bounds[0] if row.bounds else "x" for row in OPTIONS})


@pytest.mark.parametrize(
    ("handler", "endpoint"),
    [
        (generate_image, ImageEndpoint.GENERATIONS),
        (edit_image, ImageEndpoint.EDITS),
        (create_image_variation, ImageEndpoint.VARIATIONS),
    ],
)
def test_each_tool_takes_the_options_its_endpoint_takes(handler: Callable[..., Any], endpoint: ImageEndpoint) -> None:
    parameters = set(inspect.signature(handler).parameters)

    assert parameters & NAMES == {row.name for row in OPTIONS if endpoint in row.endpoints}


LOCAL_EXTRAS = {"num_inference_steps", "negative_prompt"}
"""Fields only local servers' Images APIs take (world-2026-12.md: vLLM-Omni, LocalAI)."""


@pytest.mark.parametrize(
    ("api", "endpoint", "schema", "fields"),
    [
        (
            Api.IMAGES,
            ImageEndpoint.GENERATIONS,
            "LocalImageRequest",
            {"size", "quality", "style", "background", "output_format", "output_compression", "moderation"}
            | {"complexity", "seed", "num_inference_steps", "negative_prompt"},
        ),
        (
            Api.IMAGES,
            ImageEndpoint.EDITS,
            "LocalImageEditRequest",
            {"size", "quality", "background", "input_fidelity", "output_format", "output_compression", "complexity"}
            | {"seed", "num_inference_steps", "negative_prompt"},
        ),
        (Api.IMAGES, ImageEndpoint.VARIATIONS, "CreateImageVariationRequest", {"size"}),
        (
            Api.RESPONSES,
            None,
            "ImageGenTool",
            {"size", "quality", "background", "output_format", "output_compression", "moderation", "input_fidelity"}
            | {"complexity"},
        ),
        (Api.CHAT, None, "CreateChatCompletionRequest", {"seed"}),
    ],
)
def test_each_api_gets_the_fields_its_contract_knows(
    api: Api, endpoint: ImageEndpoint | None, schema: str, fields: set[str]
) -> None:
    sent = set(EVERY_OPTION.sent(api, endpoint))
    openai_schema = schema.replace("Local", "Create")

    assert sent == fields
    assert sent <= contract.properties(schema)
    # Only local servers' requests carry their extras; OpenAI's contract knows every other field.
    assert sent - LOCAL_EXTRAS <= contract.properties(openai_schema)
    assert not LOCAL_EXTRAS & contract.properties(openai_schema)


def test_every_catalog_field_of_the_table_is_documented_in_the_shipped_file() -> None:
    header = "\n".join(line for line in SHIPPED.read_text().splitlines() if line.startswith("#"))

    for name in catalog_fields():
        assert name in header, name
    assert catalog_fields()["input_fidelities"] is Check.CHOICE


def test_a_call_carries_only_the_tables_options_with_their_types() -> None:
    options = ImageOptions.from_arguments({"prompt": "a fox", "n": 2, "quality": "high", "output_compression": 80})

    assert options.parameters() == {"n": 2, "quality": "high", "output_compression": 80}
    with pytest.raises(TypeError, match="sharpness"):
        ImageOptions.of(sharpness="high")
    with pytest.raises(TypeError, match="output_compression"):
        ImageOptions.of(output_compression="80")
