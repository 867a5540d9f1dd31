"""list_models as the client sees it: one line per model to read, and the same facts as structuredContent."""

from __future__ import annotations

from dataclasses import asdict

from mcp.types import CallToolResult, TextContent

from ...catalog.options import OPTIONS, ImageOption, option
from ...catalog.spec import ImageEndpoint, ModelSpec
from ...operations.model_choice import ListedModel, ModelList
from .results import CatalogInfo, ListedModelEntry, ModelListResult, ModelPrices


def model_list_result(listing: ModelList) -> CallToolResult:
    data = ModelListResult(
        models=[_entry(model) for model in listing.models],
        provider_listed=listing.provider_listed,
        notes=listing.notes,
        catalog=_catalog(listing),
    )
    source = "this provider's model list" if data.provider_listed else "the catalog (the provider gives no model list)"
    several = len({entry.provider for entry in data.models}) > 1
    if several:
        source = "each provider's model list" if data.provider_listed else "the providers' lists and the catalog"
    lines = [f"{len(data.models)} models, from {source}:"]
    lines += [_line(model, entry, several=several) for model, entry in zip(listing.models, data.models, strict=True)]
    in_force = f"Catalog: {listing.catalog.describe(listing.today)}; {listing.feed.describe()}."
    return CallToolResult(
        content=[TextContent(type="text", text="\n".join([*lines, *data.notes, in_force]))],
        structured_content=data.model_dump(mode="json"),
    )


def _catalog(listing: ModelList) -> CatalogInfo:
    in_force = listing.catalog
    published = in_force.published
    return CatalogInfo(
        serial=in_force.serial,
        source=in_force.source,
        published=published.isoformat() if published else None,
        age_days=max((listing.today - published).days, 0) if published else None,
        fetched=in_force.fetched.isoformat() if in_force.fetched else None,
        valid_until=in_force.valid_until.isoformat() if in_force.valid_until else None,
        feed=listing.feed.describe(),
    )


def _entry(model: ListedModel) -> ListedModelEntry:
    spec = model.spec
    prices = model.prices
    return ListedModelEntry(
        name=model.name,
        provider=model.provider,
        kind=model.kind.value,
        status=model.status.value,
        shutdown=model.shutdown.isoformat() if model.shutdown else None,
        served=model.served,
        default=model.default,
        endpoints=[endpoint.value for endpoint in ImageEndpoint if endpoint in spec.endpoints],
        sizes=list(_generations("size", spec)),
        free_size=spec.free_size.describe() if spec.free_size else None,
        qualities=list(_generations("quality", spec)),
        output_formats=list(_generations("output_format", spec)),
        complexities=list(_generations("complexity", spec)),
        options=[row.name for row in OPTIONS if _takes(row, spec)],
        max_edit_images=spec.max_edit_images,
        prices_per_1m=ModelPrices(**asdict(prices)) if prices else None,
        apis=[api.value for api in spec.usable_apis],
        reported_shutdown=model.reported_shutdown.isoformat() if model.reported_shutdown else None,
    )


def _generations(name: str, spec: ModelSpec) -> tuple[str, ...]:
    return option(name).values(spec, ImageEndpoint.GENERATIONS)


def _takes(row: ImageOption, spec: ModelSpec) -> bool:
    return any(row.taken_by(spec, endpoint) for endpoint in ImageEndpoint)


def _line(model: ListedModel, entry: ListedModelEntry, *, several: bool) -> str:
    """Name (with its provider where there are several), flags, status, then what it takes: endpoints, sizes, the
    option table's listed options, edit inputs, price and APIs."""
    flags = (f"@{entry.provider}" if several else "") + (" (default)" if entry.default else "")
    status = entry.status.replace("_", " ")
    if entry.shutdown:
        shut = entry.status == "shut_down"
        status = f"was shut down on {entry.shutdown}" if shut else f"{status}, shuts down on {entry.shutdown}"
    elif entry.reported_shutdown:
        source = model.spec.lifecycle.reported_by
        status = f"{status}, reported to shut down on {entry.reported_shutdown} ({source}; unconfirmed)"
    parts = [f"- {entry.name}{flags} [{entry.kind}; {status}]"]
    if entry.endpoints:
        parts.append("/".join(entry.endpoints))
    if entry.sizes:
        parts.append("sizes " + ", ".join(entry.sizes) + (" or free WxH" if entry.free_size else ""))
    for row in OPTIONS:
        if row.listed and _takes(row, model.spec):
            values = "/".join(_generations(row.name, model.spec))
            parts.append(f"{row.listed} {values}" if values else row.listed)
    if entry.max_edit_images:
        parts.append(f"up to {entry.max_edit_images} edit images")
    if entry.prices_per_1m and entry.prices_per_1m.image_output is not None:
        parts.append(f"${entry.prices_per_1m.image_output:g}/1M image out")
    if entry.kind == "image":
        parts.append("api " + "/".join(entry.apis))
    return "; ".join(parts)
