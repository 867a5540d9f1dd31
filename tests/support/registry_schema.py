"""The MCP registry's rules for server.json, as a JSON Schema, for the test of manifests/server.json.

Written on 2026-11-22 from the registry's published documentation of the server.json format, schema version
2025-12-11 (https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json, documented in the
modelcontextprotocol/registry repository under docs/reference/server-json/). The published schema file itself
cannot be fetched at test time (the tests have no network) and no package on PyPI or npm ships it, so this
encodes the rules that decide whether `mcp-publisher publish` accepts the file: required fields, the
reverse-DNS name, the 100-character description, pinned versions, camelCase package fields, transports and
environment variable inputs.
"""

from __future__ import annotations

from typing import Any

SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"

_PINNED_VERSION: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "not": {"anyOf": [{"const": "latest"}, {"pattern": r"^[\^~<>=]"}, {"pattern": r"(^|\.)[x*]($|\.)"}]},
}
_INPUT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "description": {"type": "string"},
        "isRequired": {"type": "boolean"},
        "isSecret": {"type": "boolean"},
        "format": {"enum": ["string", "number", "boolean", "filepath"]},
        "value": {"type": "string"},
        "default": {"type": "string"},
        "placeholder": {"type": "string"},
        "choices": {"type": "array", "items": {"type": "string"}},
    },
}
_KEY_VALUE: dict[str, Any] = {
    "allOf": [_INPUT, {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}]
}
_TRANSPORT: dict[str, Any] = {
    "anyOf": [
        {"type": "object", "required": ["type"], "properties": {"type": {"const": "stdio"}}},
        {
            "type": "object",
            "required": ["type", "url"],
            "properties": {"type": {"enum": ["streamable-http", "sse"]}, "url": {"type": "string"}},
        },
    ]
}
_PACKAGE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["registryType", "identifier", "version", "transport"],
    "properties": {
        "registryType": {"type": "string", "minLength": 1},
        "registryBaseUrl": {"type": "string", "format": "uri"},
        "identifier": {"type": "string", "minLength": 1},
        "version": _PINNED_VERSION,
        "fileSha256": {"type": "string", "pattern": "^[a-f0-9]{64}$"},
        "runtimeHint": {"type": "string"},
        "transport": _TRANSPORT,
        "runtimeArguments": {"type": "array"},
        "packageArguments": {"type": "array"},
        "environmentVariables": {"type": "array", "items": _KEY_VALUE},
    },
}
SERVER_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["$schema", "name", "description", "version"],
    "properties": {
        "$schema": {"const": SCHEMA_URL},
        "name": {"type": "string", "pattern": "^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$", "minLength": 3, "maxLength": 200},
        "title": {"type": "string", "minLength": 1, "maxLength": 100},
        "description": {"type": "string", "minLength": 1, "maxLength": 100},
        "version": _PINNED_VERSION,
        "websiteUrl": {"type": "string", "format": "uri"},
        "repository": {
            "type": "object",
            "required": ["url", "source"],
            "properties": {"url": {"type": "string", "format": "uri"}, "source": {"type": "string"}},
        },
        "packages": {"type": "array", "items": _PACKAGE},
        "remotes": {"type": "array", "items": _TRANSPORT},
        "_meta": {"type": "object"},
    },
}
