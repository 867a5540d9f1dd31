"""list_models as the client sees it: one line per model to read, and the same facts as structuredContent."""

from __future__ import annotations

from dataclasses import asdict

from mcp.types import CallToolResult, TextContent

from ..catalog.spec import ImageEndpoint
from ..operations.models import ListedModel, ModelList
from .results import ListedModelEntry, ModelListResult, ModelPrices


def model_list_result(listing: ModelList) -> CallToolResult:
    data = ModelListResult(
        models=[_entry(model) for model in listing.models], provider_listed=listing.provider_listed, notes=listing.notes
    )
    return CallToolResult(
        content=[TextContent(type="text", text=_table(data))], structured_content=data.model_dump(mode="json")
    )


def _entry(model: ListedModel) -> ListedModelEntry:
    spec = model.spec
    prices = model.prices
    return ListedModelEntry(
        name=model.name,
        kind=model.kind.value,
        status=model.status.value,
        shutdown=model.shutdown.isoformat() if model.shutdown else None,
        served=model.served,
        default=model.default,
        endpoints=[endpoint.value for endpoint in ImageEndpoint if endpoint in spec.endpoints],
        sizes=list(spec.sizes),
        free_size=spec.free_size.describe() if spec.free_size else None,
        qualities=list(spec.qualities),
        output_formats=list(spec.output_formats),
        complexities=list(spec.complexities),
        max_edit_images=spec.max_edit_images,
        prices_per_1m=ModelPrices(**asdict(prices)) if prices else None,
        apis=[api.value for api in spec.usable_apis],
    )


def _table(data: ModelListResult) -> str:
    """One line per model: name, flags, status, and what it takes; then where the list came from and the notes."""
    source = "this provider's model list" if data.provider_listed else "the catalog (the provider gives no model list)"
    lines = [f"{len(data.models)} models, from {source}:"]
    lines += [_line(model) for model in data.models]
    return "\n".join(lines + data.notes)


def _line(model: ListedModelEntry) -> str:
    flags = " (default)" if model.default else ""
    status = model.status.replace("_", " ")
    if model.shutdown:
        status = (
            f"was shut down on {model.shutdown}"
            if model.status == "shut_down"
            else f"{status}, shuts down on {model.shutdown}"
        )
    parts = [f"- {model.name}{flags} [{model.kind}; {status}]"]
    if model.endpoints:
        parts.append("/".join(model.endpoints))
    if model.sizes:
        parts.append("sizes " + ", ".join(model.sizes) + (" or free WxH" if model.free_size else ""))
    choices = (("quality", model.qualities), ("formats", model.output_formats), ("complexity", model.complexities))
    parts += [f"{label} {'/'.join(values)}" for label, values in choices if values]
    if model.max_edit_images:
        parts.append(f"up to {model.max_edit_images} edit images")
    if model.prices_per_1m and model.prices_per_1m.image_output is not None:
        parts.append(f"${model.prices_per_1m.image_output:g}/1M image out")
    if model.kind == "image":
        parts.append("api " + "/".join(model.apis))
    return "; ".join(parts)
