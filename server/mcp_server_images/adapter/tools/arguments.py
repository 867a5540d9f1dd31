"""Tool arguments that do not fit the schema, said in one line each: which parameter, what came, what would fit.

The SDK reports such arguments with pydantic's own text (several lines per problem and a link to pydantic's
docs), which an assistant reads badly and a person cannot act on. The expected form is read from the tool's
advertised input schema, so the message and the schema the client sees cannot disagree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

MAX_SHOWN = 60
"""Longest excerpt of a rejected value in a message; image data would otherwise flood the result."""
MAX_HINT = 80
"""Longest description sentence quoted as a hint on the expected text."""
_SENTENCE_END = re.compile(r"\.\s+(?=[A-Z])")


def argument_problems(tool: str, error: ValidationError, schema: Mapping[str, Any]) -> str:
    """One line per rejected argument (the first problem of each), e.g.

    `Argument n of generate_image: got 20, expected a whole number from 1 to 10.`
    """
    lines: dict[str, str] = {}
    for problem in error.errors(include_url=False):
        location = tuple(problem["loc"])
        where = _path(location)
        if where in lines:
            continue
        given = "nothing" if problem["type"] == "missing" else shorten(problem["input"])
        expected = describe(_node(schema, location, schema))
        lines[where] = f"Argument {where} of {tool}: got {given}, expected {expected}."
    return "\n".join(lines.values())


def shorten(value: Any) -> str:
    """The value as JSON, cut to MAX_SHOWN characters."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:  # a circular structure cannot come from JSON, but keep the message safe
        text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def _path(location: Sequence[int | str]) -> str:
    """`("mask_region", 0, "x")` as `mask_region[0].x`."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _node(node: Mapping[str, Any], location: Sequence[int | str], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema of the value at `location`, following `$ref`s and skipping the null branch of optionals."""
    node = _concrete(node, root)
    for part in location:
        if isinstance(part, int):
            node = _concrete(node.get("items", {}), root)
        else:
            node = _concrete(node.get("properties", {}).get(part, {}), root)
    return node


def _concrete(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        node = {**root.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {}), **_without(node, "$ref")}
    options = [option for option in node.get("anyOf", []) if option.get("type") != "null"]
    if len(options) == 1:
        node = {**_concrete(options[0], root), **_without(node, "anyOf")}
    return node


def _without(node: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k != key}


def describe(node: Mapping[str, Any]) -> str:
    """The expected form of a value in words, from its JSON schema."""
    if "enum" in node:
        return "one of " + ", ".join(str(choice) for choice in node["enum"])
    kind = node.get("type")
    if kind in ("integer", "number"):
        return _number(node, "a whole number" if kind == "integer" else "a number")
    if kind == "array":
        return _list(node)
    if kind == "object":
        examples = node.get("examples")
        if examples:
            return f"an object like {json.dumps(examples[0])}"
        return "an object with " + ", ".join(node.get("required", node.get("properties", {})))
    if kind == "string":
        return _text(node)
    return "true or false" if kind == "boolean" else "a value as the tool's description says"


def _text(node: Mapping[str, Any]) -> str:
    """Text, with the first sentence of the parameter's description when that is short enough to help."""
    first = _SENTENCE_END.split(str(node.get("description", "")), maxsplit=1)[0].rstrip(".")
    return f"text ({first})" if first and len(first) <= MAX_HINT else "text"


def _number(node: Mapping[str, Any], noun: str) -> str:
    low, high = node.get("minimum"), node.get("maximum")
    if low is not None and high is not None:
        return f"{noun} from {low} to {high}"
    if low is not None:
        return f"{noun} of at least {low}"
    if high is not None:
        return f"{noun} of at most {high}"
    return noun


def _list(node: Mapping[str, Any]) -> str:
    low, high = node.get("minItems"), node.get("maxItems")
    count = f"{low}-{high} " if low is not None and high is not None else ""
    items = node.get("items", {})
    examples = items.get("examples")
    if examples:
        return f"a list of {count}objects like [{json.dumps(examples[0])}]"
    plural = {"string": "texts", "integer": "whole numbers", "number": "numbers"}.get(items.get("type", ""), "items")
    return f"a list of {count}{plural}"
