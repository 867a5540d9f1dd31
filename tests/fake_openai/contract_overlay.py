"""What the API gained after the vendored contract (openai/openai-openapi f85dbe2, 2026-08-21), laid over it.

No newer OpenAPI document is published, so each addition here cites where it comes from (the sources listed in
shared/reference/models-2026-11.md). Everything the contract already covers is still checked against it as is.
"""

from __future__ import annotations

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
NEW_GENERATION_FORMATS = ("gif", "svg")
"""gpt-image-2.6 generations: animated GIF and SVG, still as b64_json (apidog.com; wavespeed.ai gpt-image-2-6-api)."""

IMAGE_REQUESTS = ("CreateImageRequest", "CreateImageEditRequest")


def apply(spec: dict[str, Any]) -> None:
    """Extend the loaded contract in place (before its `nullable` flags are converted)."""
    schemas = spec["components"]["schemas"]
    for name in IMAGE_REQUESTS:
        properties = schemas[name]["properties"]
        _extend_enum(properties["model"], NEW_IMAGE_MODELS)
        _extend_enum(properties["quality"], NEW_QUALITIES)
        properties["complexity"] = dict(COMPLEXITY)
    _extend_enum(schemas["CreateImageRequest"]["properties"]["output_format"], NEW_GENERATION_FORMATS)


def _extend_enum(schema: dict[str, Any], values: tuple[str, ...]) -> None:
    """Add values to the enum of a property, or to the enum branch of an `anyOf` (model names)."""
    branches = [part for part in schema.get("anyOf", []) if "enum" in part] or [schema]
    for branch in branches:
        branch["enum"] = [*branch["enum"], *(value for value in values if value not in branch["enum"])]
