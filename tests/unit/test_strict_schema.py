"""Which response schemas go to the model with `strict: true`: OpenAI accepts only closed, fully required objects."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_server_images.operations.analyze import strict_compatible


def closed(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
        **extra,
    }


STRING = {"type": "string"}


@pytest.mark.parametrize(
    "schema",
    [
        closed({"caption": STRING, "count": {"type": "integer"}}),
        closed({}),
        closed({"tags": {"type": "array", "items": closed({"name": STRING})}}),
        closed({"box": closed({"x": {"type": "number"}, "y": {"type": "number"}})}),
        closed({"colour": {"enum": [{"not": "a schema"}, "red"]}}),
        closed({"kind": {"const": {"type": "object"}}}),
        closed({"note": {"type": ["string", "null"], "default": {"properties": {"x": STRING}}}}),
        closed({"either": {"anyOf": [closed({"a": STRING}), STRING]}}),
    ],
)
def test_closed_and_fully_required_schemas_are_strict(schema: dict[str, Any]) -> None:
    assert strict_compatible(schema)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"caption": STRING}, "required": ["caption"]},
        {"type": "object", "properties": {"caption": STRING}, "additionalProperties": False},
        {"type": "object", "properties": {"caption": STRING}, "required": [], "additionalProperties": False},
        {"type": "object", "properties": {"a": STRING}, "required": ["a"], "additionalProperties": True},
        {"type": "object", "properties": {"a": STRING}, "required": ["a", "b"], "additionalProperties": False},
        closed({"box": {"type": "object", "properties": {"x": STRING}}}),
        closed({"tags": {"type": "array", "items": {"type": "object", "properties": {"n": STRING}}}}),
        closed({"either": {"anyOf": [{"properties": {"a": STRING}, "required": ["a"]}, STRING]}}),
        closed({"loose": {"type": "object"}}),
    ],
)
def test_open_or_partly_required_objects_anywhere_are_not_strict(schema: dict[str, Any]) -> None:
    assert not strict_compatible(schema)


def test_definitions_are_checked_too() -> None:
    schema = closed({"item": {"$ref": "#/$defs/item"}}, **{"$defs": {"item": {"type": "object", "properties": {}}}})

    assert not strict_compatible(schema)
    schema["$defs"]["item"] = closed({})
    assert strict_compatible(schema)


def test_property_names_are_never_taken_for_keywords() -> None:
    open_object = {"type": "object", "properties": {"x": STRING}}
    assert not strict_compatible(closed({"default": open_object, "enum": open_object}))
    assert strict_compatible(closed({"properties": closed({"x": STRING}), "const": STRING}))
