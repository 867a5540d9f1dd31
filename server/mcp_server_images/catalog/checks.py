"""The checks that run on every image request before anything is sent (and so before anything is paid).

A model that is not in the catalog passes with generic checks only, because gateways serve models we have never
heard of. Every refusal names the values the chosen model does accept and the models that take what was asked,
so an assistant can retry correctly in one step.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, NoReturn

from ..errors import ParameterError
from ..providers import PROFILES, ProviderKind
from .options import OPTIONS, Check, ImageOption, ImageOptions, option
from .sizes import parse_size, size_problem
from .spec import ImageEndpoint, ModelSpec

if TYPE_CHECKING:
    from .catalog import Catalog

MAX_N = 10
TRANSPARENT_FORMATS = ("png", "webp")
COMPRESSED_FORMATS = ("jpeg", "webp")


def validate(
    catalog: Catalog,
    model: str,
    endpoint: ImageEndpoint,
    prompt: str | None,
    options: ImageOptions,
    provider: ProviderKind = ProviderKind.CUSTOM,
) -> ModelSpec | None:
    """Check a request against the model's entry and what the provider takes; raise ParameterError naming the
    valid values.

    Returns the model's spec, or None for a model outside the catalog (generic checks only).
    """
    _check_generic(prompt, options)
    _check_provider(options, provider)
    spec = catalog.lookup(model)
    if spec is None:
        return None
    vendors = PROFILES[provider].vendors
    if endpoint not in spec.endpoints:
        takers = _listed(catalog.models_supporting(endpoint=endpoint, vendors=vendors))
        raise ParameterError("model", f"{spec.name} does not support image {endpoint}. Models that do: {takers}.")
    if prompt is not None and len(prompt) > spec.max_prompt_chars:
        raise ParameterError(
            "prompt",
            f"prompt is {len(prompt):,} characters; {spec.name} takes at most {spec.max_prompt_chars:,}. Shorten it.",
        )
    if options.n > spec.max_n:
        raise ParameterError("n", f"n must be between 1 and {spec.max_n} for {spec.name}, got {options.n}.")
    for row in OPTIONS:
        value = options.get(row.name)
        if value is None:
            continue
        if row.check is Check.SIZE:
            _check_size(str(value), spec, endpoint)
        elif row.check is Check.CHOICE:
            _check_choice(catalog, spec, endpoint, row, str(value), vendors)
        elif not row.taken_by(spec, endpoint):
            _refuse_unsupported(catalog, spec, endpoint, row, vendors)
    _check_format_combinations(spec, endpoint, options)
    return spec


def _check_generic(prompt: str | None, options: ImageOptions) -> None:
    if prompt is not None and not prompt.strip():
        raise ParameterError("prompt", "prompt is empty; describe the image you want.")
    if not 1 <= options.n <= MAX_N:
        raise ParameterError("n", f"n must be between 1 and {MAX_N}, got {options.n}.")
    for row in OPTIONS:
        value = options.get(row.name)
        if row.bounds is not None and isinstance(value, int) and not row.bounds[0] <= value <= row.bounds[1]:
            low, high = row.bounds
            raise ParameterError(row.name, f"{row.name} must be between {low} and {high}, got {value}.")
    if options.size is not None and options.size != "auto" and parse_size(options.size) is None:
        raise ParameterError("size", f"size {options.size!r} is not WIDTHxHEIGHT (e.g. 1024x1024) or 'auto'.")


def _check_provider(options: ImageOptions, provider: ProviderKind) -> None:
    """Options only some providers' APIs have (local servers' extras) are refused elsewhere, naming where they work;
    for any model, since no model on another provider could take them."""
    for row in OPTIONS:
        if row.providers is not None and options.get(row.name) is not None and provider not in row.providers:
            where = _listed(kind.value for kind in sorted(row.providers) if kind is not ProviderKind.CUSTOM)
            raise ParameterError(
                row.name,
                f"{row.name} is not taken by the {provider} provider's API; leave it out. It works on {where} "
                "servers (and gateways given by URL) with a model that takes it.",
            )


def _listed(values: Iterable[str]) -> str:
    return ", ".join(values)


def _check_choice(
    catalog: Catalog,
    spec: ModelSpec,
    endpoint: ImageEndpoint,
    row: ImageOption,
    value: str,
    vendors: tuple[str, ...] | None,
) -> None:
    allowed = row.values(spec, endpoint)
    if value in allowed:
        return
    if not allowed:
        _refuse_unsupported(catalog, spec, endpoint, row, vendors)
    param = row.name
    remark = spec.remarks.get(param)
    why = f" ({remark})" if remark else ""
    message = f"{param} {value!r} is not valid for {_what(spec, endpoint, row)}{why}. Use one of: {_listed(allowed)}."
    raise ParameterError(param, message + _value_hint(catalog, param, value, endpoint, vendors))


def _refuse_unsupported(
    catalog: Catalog, spec: ModelSpec, endpoint: ImageEndpoint, row: ImageOption, vendors: tuple[str, ...] | None
) -> NoReturn:
    """The model does not take the option at all: say so, and name the models that do (or that none does)."""
    takers = catalog.models_supporting(row.name, endpoint=endpoint, vendors=vendors)
    hint = f"Models that take it: {_listed(takers)}." if takers else "No model in the catalog takes it."
    raise ParameterError(row.name, f"{row.name} is not supported by {_what(spec, endpoint, row)}; leave it out. {hint}")


def _what(spec: ModelSpec, endpoint: ImageEndpoint, row: ImageOption) -> str:
    """The model, or its edits for an option whose values edits list apart (output formats)."""
    return f"{spec.name} edits" if endpoint is ImageEndpoint.EDITS and row.edit_field is not None else spec.name


def _value_hint(
    catalog: Catalog, param: str, value: str, endpoint: ImageEndpoint, vendors: tuple[str, ...] | None
) -> str:
    """Which models (of the vendors the provider serves) take this exact value, here or, failing that, on another
    endpoint."""
    takers = catalog.models_supporting(param, value, endpoint=endpoint, vendors=vendors)
    if takers:
        return f" Models that take {param} {value!r}: {_listed(takers)}."
    for other in ImageEndpoint:
        elsewhere = (
            catalog.models_supporting(param, value, endpoint=other, vendors=vendors) if other is not endpoint else []
        )
        if elsewhere:
            return f" {param} {value!r} is available for image {other} only ({_listed(elsewhere)})."
    return ""


def _check_size(size: str, spec: ModelSpec, endpoint: ImageEndpoint) -> None:
    if spec.aspect_ratios and not spec.image_config:
        problem = size_problem(size, spec.aspect_ratios, spec.resolutions)
        if problem is not None:
            raise ParameterError("size", f"size {size!r} is not valid for {spec.name}: {problem}.")
        return
    sizes = option("size").values(spec, endpoint)
    if size in sizes:
        return
    dims = parse_size(size)
    if spec.free_size is not None and dims is not None:
        problem = spec.free_size.problem(*dims)
        if problem is None:
            return
        raise ParameterError("size", f"size {size!r} is not valid for {spec.name}: {problem}.")
    valid = _listed(sizes)
    if spec.free_size is not None:
        valid += f", or {spec.free_size.describe()}"
    what = "edits" if endpoint is ImageEndpoint.EDITS else "images"
    raise ParameterError("size", f"size {size!r} is not valid for {spec.name} {what}. Use one of: {valid}.")


def _check_format_combinations(spec: ModelSpec, endpoint: ImageEndpoint, options: ImageOptions) -> None:
    """Compression and transparency need a fitting output format (the model's first format when none is given)."""
    formats = option("output_format").values(spec, endpoint)
    output_format = options.output_format or (formats[0] if formats else None)
    if options.output_compression is not None and output_format not in COMPRESSED_FORMATS:
        raise ParameterError(
            "output_compression",
            "output_compression applies to jpeg and webp only; set output_format to 'jpeg' or 'webp', "
            "or leave output_compression out.",
        )
    if options.background == "transparent" and output_format not in TRANSPARENT_FORMATS:
        reason = (
            "jpeg has no transparency"
            if output_format == "jpeg"
            else f"the API makes transparent images as png or webp only, not {output_format}"
        )
        raise ParameterError("background", f"a transparent background needs output_format 'png' or 'webp' ({reason}).")
