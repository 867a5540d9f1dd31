"""lean_schema: pydantic's bookkeeping goes, the schema's meaning stays."""

from __future__ import annotations

from mcp_server_images.adapter.tools.schemas import lean_schema


def test_titles_null_branches_and_null_defaults_go_but_names_stay() -> None:
    schema = {
        "title": "fooArguments",
        "type": "object",
        "properties": {
            "title": {"title": "Title", "type": "string", "description": "A parameter that is called title."},
            "size": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "description": "WxH."},
            "either": {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}], "default": None},
            "n": {"type": "integer", "default": 1},
        },
        "$defs": {"title": {"title": "Shape", "type": "object"}},
    }

    assert lean_schema(schema) == {
        "type": "object",
        "properties": {
            "title": {"type": "string", "description": "A parameter that is called title."},
            "size": {"type": "string", "description": "WxH."},
            "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "n": {"type": "integer", "default": 1},
        },
        "$defs": {"title": {"type": "object"}},
    }
