"""Tool input schemas as the assistant reads them: pydantic's bookkeeping left out, every word kept.

pydantic writes a `title` on every property and model, wraps each optional parameter in
`anyOf [{type}, {"type": "null"}]` with `"default": null`, and a flag's `"default": false` says what leaving a
flag out already says. None of it helps an assistant choose an argument, and
across the tools it was about a third of what tools/list costs in the assistant's context on every turn. An
omitted parameter means the same as null here, so the schema shows the plain type; the server still accepts an
explicit null, since arguments are validated against the handlers' own types, not against this schema.
"""

from __future__ import annotations

from typing import Any

NAMED_CHILDREN = ("properties", "$defs")
"""Keywords whose keys are names (of parameters, of definitions), not schema keywords."""


def lean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of the schema without titles, null branches, null defaults and flags' false defaults."""
    lean: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "default" and (value is None or (value is False and schema.get("type") == "boolean")):
            continue
        if key in NAMED_CHILDREN and isinstance(value, dict):
            lean[key] = {name: _lean_value(child) for name, child in value.items()}
        else:
            lean[key] = _lean_value(value)
    return _without_null_branch(lean)


def _lean_value(value: Any) -> Any:
    if isinstance(value, dict):
        return lean_schema(value)
    if isinstance(value, list):
        return [_lean_value(item) for item in value]
    return value


def _without_null_branch(schema: dict[str, Any]) -> dict[str, Any]:
    """`anyOf [X, null]` becomes X itself (with the schema's own description); other unions lose only null."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list) or {"type": "null"} not in branches:
        return schema
    rest = [branch for branch in branches if branch != {"type": "null"}]
    outer = {key: value for key, value in schema.items() if key != "anyOf"}
    if len(rest) == 1:
        return {**rest[0], **outer}
    return {**outer, "anyOf": rest}
