"""The tools' output schemas as the SDK derives them from the models of results.py, and `make output-schemas`,
which writes them to the file the server publishes them from (adapter/tools/output_schemas.json)."""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver.tools import Tool

from mcp_server_images.adapter.tools.described import OUTPUT_SCHEMAS, output_model
from mcp_server_images.adapter.tools.handlers import TOOLS


def derived_schemas() -> dict[str, dict[str, Any]]:
    """Each output model's schema by the model's name: the output schema the SDK gives a handler returning it when
    it derives one itself."""
    schemas: dict[str, dict[str, Any]] = {}
    for row in TOOLS:
        model = output_model(row.handler)
        derived = Tool.from_function(row.handler).output_schema
        if model is not None and derived is not None:
            schemas[model.__name__] = derived
    return schemas


def written(schemas: dict[str, dict[str, Any]]) -> str:
    """The file's text."""
    return json.dumps(schemas, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OUTPUT_SCHEMAS.write_text(written(derived_schemas()), encoding="utf-8")
    print(f"wrote {OUTPUT_SCHEMAS}")
