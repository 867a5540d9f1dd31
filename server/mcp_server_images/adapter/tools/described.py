"""The tools as the server registers them, with descriptions built at start-up from the option table, the catalog
and the settings.

A handler's signature is its tool's input schema (the SDK derives it); what a handler cannot know when it is
written is filled in here, once, when the server is built:
- an image option of the option table (catalog/options.py) gets its row's description, and a number its bounds,
  in the first tool of TOOLS that takes it; a later tool leaves it bare, since its description says once that
  such parameters are as for that tool (generate_image);
- a `{placeholder}` in a tool's or a parameter's description becomes what the settings and the catalog say:
  `{image_model}` and `{vision_model}` the configured defaults, `{image_models}` the default image model and the
  catalog's other active ones of the vendors the providers serve, `{providers}` (with several providers) how a call
  names one, `{key_hours}` how long an idempotency key holds.
So a server whose default image model is gpt-image-2 says so, and not what the default was when the code was
written.

A handler returning `Annotated[CallToolResult, Model]` publishes Model's JSON schema as its output schema. The SDK
would derive it at every start, for every tool (four return ImagesResult): after the imports, the schemas were the
costliest thing a start built. The schemas are the tools' public output contract, so they are kept as data instead,
in `output_schemas.json` beside this module, exactly as the SDK derives them from the models of results.py
(tests/test_tools.py checks that they still are; `make output-schemas` writes them again after a model changed), and
the SDK is handed them; it still validates every result against the model itself.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import CallToolResult

from ...catalog.catalog import Catalog
from ...catalog.options import OPTIONS, ImageOption
from ...catalog.spec import ModelKind, Status
from ...providers_file import providers_of
from ...settings import Settings
from ..app.ui import tool_meta
from .handlers import TOOLS

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_OPTIONS = {row.name: row for row in OPTIONS}
OUTPUT_SCHEMAS = Path(__file__).with_name("output_schemas.json")
"""Each output model's JSON schema by the model's name, as the SDK derives it."""


def registered_tools(settings: Settings, catalog: Catalog) -> list[Tool]:
    """Every tool of TOOLS this server offers (share_image needs sign-in), in order, with its descriptions filled
    in."""
    words = placeholders(settings, catalog)
    described: set[str] = set()
    """The image options some earlier tool has described."""
    tools = []
    for row in TOOLS:
        if row.signed_in and settings.oauth_issuer is None:
            continue
        tool = Tool.from_function(
            row.handler,
            title=row.title,
            description=_filled(inspect.cleandoc(row.handler.__doc__ or ""), words),
            annotations=row.annotations,
            meta=tool_meta(row.app),
            structured_output=False,  # the output schema is handed over below
        )
        schema = _with_options(tool.parameters, described)
        update: dict[str, Any] = {"parameters": _filled_tree(schema, words)}
        output = output_model(row.handler)
        if output is not None:
            published = output_schema(output)
            update["fn_metadata"] = FuncMetadata(
                arg_model=tool.fn_metadata.arg_model, output_model=output, output_schema=published
            )
        tools.append(tool.model_copy(update=update))
    return tools


def output_model(handler: Callable[..., Any]) -> type | None:
    """The model of a handler's `Annotated[CallToolResult, Model]` return (beside which it may return an
    InputRequiredResult), or None when it returns a bare CallToolResult."""
    returned = get_type_hints(handler, include_extras=True)["return"]
    arms = (returned,) if get_origin(returned) is Annotated else get_args(returned)
    for arm in arms:
        if get_origin(arm) is Annotated and get_args(arm)[0] is CallToolResult:
            model: type = get_args(arm)[1]
            return model
    return None


def output_schema(model: type) -> dict[str, Any]:
    """The output schema of the tools returning `model`."""
    schemas = _output_schemas()
    if model.__name__ not in schemas:
        raise LookupError(f"{OUTPUT_SCHEMAS.name} has no schema for {model.__name__}: run `make output-schemas`")
    return schemas[model.__name__]


@cache
def _output_schemas() -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = json.loads(OUTPUT_SCHEMAS.read_text(encoding="utf-8"))
    return schemas


def placeholders(settings: Settings, catalog: Catalog) -> dict[str, str]:
    """What each `{placeholder}` of a description stands for on this server."""
    configured = providers_of(settings)
    image = _catalog_name(catalog, configured.defaults.get("generate", settings.default_model))
    vendors = [endpoint.profile.vendors for endpoint in configured.endpoints]
    active = [
        spec.name
        for spec in catalog.of_kind(ModelKind.IMAGE)
        if spec.lifecycle.status is Status.ACTIVE and any(served is None or spec.vendor in served for served in vendors)
    ]
    names = [endpoint.name for endpoint in configured.endpoints]
    return {
        "image_model": image,
        "vision_model": _catalog_name(catalog, configured.defaults.get("vision", settings.vision_model)),
        "image_models": ", ".join([f"{image} (default)", *(name for name in active if name != image)]),
        "providers": f" MODEL@PROVIDER picks the provider: {', '.join(names)}." if len(names) > 1 else "",
        "key_hours": f"{settings.record_retention_hours:g}",
    }


def _catalog_name(catalog: Catalog, model: str) -> str:
    """A catalogued model under its catalog name (any spelling was configured), another model as configured."""
    spec = catalog.lookup(model)
    return spec.name if spec is not None else model


def _with_options(schema: dict[str, Any], described: set[str]) -> dict[str, Any]:
    """The schema with the option table's words on the options this tool is the first to take."""
    properties = dict(schema.get("properties", {}))
    for name, node in properties.items():
        row = _OPTIONS.get(name)
        if row is None or name in described or "description" in node:
            continue
        properties[name] = _option_node(node, row)
        described.add(name)
    return {**schema, "properties": properties}


def _option_node(node: Mapping[str, Any], row: ImageOption) -> dict[str, Any]:
    bounds = {"minimum": row.bounds[0], "maximum": row.bounds[1]} if row.bounds else {}
    return {**node, **bounds, "description": row.description}


def _filled_tree(node: Any, words: Mapping[str, str]) -> Any:
    """Every description in a schema with its placeholders filled in."""
    if isinstance(node, list):
        return [_filled_tree(item, words) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: _filled(value, words) if key == "description" and isinstance(value, str) else _filled_tree(value, words)
        for key, value in node.items()
    }


def _filled(text: str, words: Mapping[str, str]) -> str:
    """The text with each `{name}` replaced; an unknown name stops the start (a typo must not reach a client)."""
    return _PLACEHOLDER.sub(lambda match: words[match.group(1)], text)
