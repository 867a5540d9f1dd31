"""What the API gained after the vendored contract (openai/openai-openapi f85dbe2, 2026-08-21), laid over it.

No newer OpenAPI document is published, so each addition here cites where it comes from (the sources listed in
shared/reference/models-2026-11.md). Everything the contract already covers is still checked against it as is.
"""

from __future__ import annotations

import copy
from typing import Any

NEW_IMAGE_MODELS = (
    # gpt-image-2.5 released 2026-09-08, with dated snapshots (docs.apiyi.com launch note).
    "gpt-image-2.5-flare",
    "gpt-image-2.5-flare-2026-09-08",
    "gpt-image-2.5-sunburst",
    "gpt-image-2.5-sunburst-2026-09-08",
    # gpt-image-2.6 released 2026-11-04 (apidog.com/blog/gpt-image-2-6-api, from OpenAI's docs of 2026-11-05).
    "gpt-image-2.6-flare",
    "gpt-image-2.6-sunburst",
)
NEW_QUALITIES = ("xhigh", "max")
"""gpt-image-2.5 and 2.6 quality tiers (docs.apiyi.com; apidog.com gpt-image-2-6-api)."""
COMPLEXITY = {
    "type": "string",
    "enum": ["low", "medium", "high"],
    "nullable": True,
    "description": "gpt-image-2.6 only; high when omitted (apidog.com gpt-image-2-6-api; docs.laozhang.ai).",
}
SEED = {
    "type": "integer",
    "minimum": 0,
    "nullable": True,
    "description": "Local servers' Images API (vLLM-Omni's extra `seed`, world-2026-12.md); OpenAI's models answer "
    "Unknown parameter. Chat Completions already has `seed` in the contract.",
}
NEW_GENERATION_FORMATS = ("gif", "svg")
"""gpt-image-2.6 generations: animated GIF and SVG, still as b64_json (apidog.com; wavespeed.ai gpt-image-2-6-api)."""

IMAGE_REQUESTS = ("CreateImageRequest", "CreateImageEditRequest")

CHAT_IMAGE_MODALITY = "image"
"""Chat Completions image output as gateways serve it: `modalities: ["image", "text"]` (OpenRouter's documented
request; Dedalus routes gemini-2.5-flash-image through /v1/chat/completions), see shared/reference/models-2026-11.md
"Other APIs that return images". OpenAI's own contract knows text and audio only."""
IMAGE_CONFIG = {
    "type": "object",
    "properties": {
        "aspect_ratio": {"type": "string"},
        "image_size": {"type": "string", "enum": ["1K", "2K", "4K"]},
    },
    "additionalProperties": False,
    "description": "OpenRouter's image_config for chat image output (models-2026-11.md).",
}


XAI_FIELDS = {
    "aspect_ratio": {
        "type": "string",
        "enum": ["1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "2:1", "1:2", "20:9", "9:19.5", "auto"],
    },
    "resolution": {"type": "string", "enum": ["1k", "2k"]},
}
"""xAI's image API takes aspect_ratio and resolution instead of size (docs.x.ai image generation;
shared/reference/world-2026-12.md, "Providers a user may point the server at")."""
LOCAL_FIELDS = {
    "num_inference_steps": {"type": "integer", "minimum": 1},
    "step": {"type": "integer", "minimum": 1},
    "negative_prompt": {"type": "string"},
}
"""Local servers' extras: vLLM-Omni's `num_inference_steps` (docs.vllm.ai vllm-omni image generation API), LocalAI's
`step` and `negative_prompt` (localai.io image generation docs); world-2026-12.md."""
OPENROUTER_IMAGE_REQUEST = {
    "type": "object",
    "required": ["model", "prompt"],
    "properties": {
        "model": {"type": "string"},
        "prompt": {"type": "string"},
        "aspect_ratio": {"type": "string"},
        "background": {"type": "string"},
        "input_references": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "image_url"],
                "properties": {
                    "type": {"type": "string", "enum": ["image_url"]},
                    "image_url": {
                        "type": "object",
                        "required": ["url"],
                        "properties": {"url": {"type": "string"}},
                        "additionalProperties": False,
                    },
                },
                "additionalProperties": False,
            },
        },
        "n": {"type": "integer", "minimum": 1},
        "output_compression": {"type": "integer", "minimum": 0, "maximum": 100},
        "output_format": {"type": "string"},
        "provider": {"type": "object"},
        "quality": {"type": "string"},
        "resolution": {"type": "string"},
        "seed": {"type": "integer"},
        "size": {"type": "string"},
        "stream": {"type": "boolean"},
    },
    "description": "OpenRouter's Image API, POST /api/v1/images (openrouter.ai docs, multimodal image generation); "
    "the fields as the typed SDK realmorrisliu/openrouter-rs src/api/images.rs sends them.",
}


def apply(spec: dict[str, Any]) -> None:
    """Extend the loaded contract in place (before its `nullable` flags are converted)."""
    schemas = spec["components"]["schemas"]
    for name in IMAGE_REQUESTS:
        properties = schemas[name]["properties"]
        _extend_enum(properties["model"], NEW_IMAGE_MODELS)
        _extend_enum(properties["quality"], NEW_QUALITIES)
        properties["complexity"] = dict(COMPLEXITY)
        properties["seed"] = dict(SEED)
    _extend_enum(schemas["CreateImageRequest"]["properties"]["output_format"], NEW_GENERATION_FORMATS)
    # The Responses API's image_generation tool takes what the image models take on the Images API (the newer
    # models' qualities, complexity and generation formats from the same sources as above).
    tool = schemas["ImageGenTool"]["properties"]
    _extend_enum(tool["quality"], NEW_QUALITIES)
    _extend_enum(tool["output_format"], NEW_GENERATION_FORMATS)
    tool["complexity"] = dict(COMPLEXITY)
    _extend_enum(schemas["ResponseModalities"]["anyOf"][0]["items"], (CHAT_IMAGE_MODALITY,))
    chat = next(part for part in schemas["CreateChatCompletionRequest"]["allOf"] if "properties" in part)
    chat["properties"]["image_config"] = dict(IMAGE_CONFIG)
    # The providers' own request shapes, each a copy of OpenAI's with what that provider adds (the emulator checks a
    # provider's requests against its own, so an OpenAI request carrying them still breaks the contract).
    for name, base, extra in (
        ("XaiImageRequest", "CreateImageRequest", XAI_FIELDS),
        ("XaiImageEditRequest", "CreateImageEditRequest", XAI_FIELDS),
        ("LocalImageRequest", "CreateImageRequest", LOCAL_FIELDS),
        ("LocalImageEditRequest", "CreateImageEditRequest", LOCAL_FIELDS),
    ):
        schemas[name] = copy.deepcopy(schemas[base])
        schemas[name]["properties"] |= copy.deepcopy(extra)
    schemas["OpenRouterImageRequest"] = copy.deepcopy(OPENROUTER_IMAGE_REQUEST)
    # Not newer than the contract, but a reading of it: InputItem is a `oneOf` told apart by its OpenAPI
    # `discriminator: type`, which JSON Schema ignores, and a user message with input_text/input_image parts is
    # both an EasyInputMessage and an Item, so every such request would fail `oneOf`. `anyOf` still requires one.
    schemas["InputItem"]["anyOf"] = schemas["InputItem"].pop("oneOf")


def _extend_enum(schema: dict[str, Any], values: tuple[str, ...]) -> None:
    """Add values to the enum of a property, or to the enum branch of an `anyOf` (model names)."""
    branches = [part for part in schema.get("anyOf", []) if "enum" in part] or [schema]
    for branch in branches:
        branch["enum"] = [*branch["enum"], *(value for value in values if value not in branch["enum"])]
