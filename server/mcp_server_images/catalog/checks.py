"""The checks that run on every image request before anything is sent (and so before anything is paid).

A model that is not in the catalog passes with generic checks only, because gateways serve models we have never
heard of. Every refusal names the values the chosen model does accept and the models that take what was asked,
so an assistant can retry correctly in one step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ParameterError
from .spec import ImageEndpoint, ModelSpec

if TYPE_CHECKING:
    from .catalog import Catalog

MAX_N = 10
_SIZE = re.compile(r"^(?P<w>[1-9]\d{1,4})x(?P<h>[1-9]\d{1,4})$")
CHOICES = ("quality", "style", "background", "output_format", "moderation", "input_fidelity", "complexity")
"""Choice parameters checked against the model's list, in the order a caller reads their refusals."""
TRANSPARENT_FORMATS = ("png", "webp")
COMPRESSED_FORMATS = ("jpeg", "webp")


@dataclass(frozen=True)
class ImageOptions:
    """The optional parameters shared by the image-producing tools, as the user gave them."""

    n: int = 1
    size: str | None = None
    quality: str | None = None
    style: str | None = None
    background: str | None = None
    output_format: str | None = None
    output_compression: int | None = None
    moderation: str | None = None
    input_fidelity: str | None = None
    complexity: str | None = None


def parse_size(size: str) -> tuple[int, int] | None:
    """(width, height) of a WxH size string, or None for 'auto' and malformed strings."""
    match = _SIZE.match(size.strip().lower())
    return (int(match.group("w")), int(match.group("h"))) if match else None


def validate(
    catalog: Catalog, model: str, endpoint: ImageEndpoint, prompt: str | None, options: ImageOptions
) -> ModelSpec | None:
    """Check a request against the model's entry; raise ParameterError naming the valid values.

    Returns the model's spec, or None for a model outside the catalog (generic checks only).
    """
    _check_generic(prompt, options)
    spec = catalog.lookup(model)
    if spec is None:
        return None
    if endpoint not in spec.endpoints:
        takers = _listed(catalog.models_supporting(endpoint=endpoint))
        raise ParameterError("model", f"{spec.name} does not support image {endpoint}. Models that do: {takers}.")
    if prompt is not None and len(prompt) > spec.max_prompt_chars:
        raise ParameterError(
            "prompt",
            f"prompt is {len(prompt):,} characters; {spec.name} takes at most {spec.max_prompt_chars:,}. Shorten it.",
        )
    if options.n > spec.max_n:
        raise ParameterError("n", f"n must be between 1 and {spec.max_n} for {spec.name}, got {options.n}.")
    _check_size(options.size, spec, endpoint)
    for param in CHOICES:
        _check_choice(catalog, spec, endpoint, param, getattr(options, param))
    _check_format_combinations(catalog, spec, endpoint, options)
    return spec


def _check_generic(prompt: str | None, options: ImageOptions) -> None:
    if prompt is not None and not prompt.strip():
        raise ParameterError("prompt", "prompt is empty; describe the image you want.")
    if not 1 <= options.n <= MAX_N:
        raise ParameterError("n", f"n must be between 1 and {MAX_N}, got {options.n}.")
    if options.output_compression is not None and not 0 <= options.output_compression <= 100:
        raise ParameterError(
            "output_compression", f"output_compression must be between 0 and 100, got {options.output_compression}."
        )
    if options.size is not None and options.size != "auto" and parse_size(options.size) is None:
        raise ParameterError("size", f"size {options.size!r} is not WIDTHxHEIGHT (e.g. 1024x1024) or 'auto'.")


def _listed(values: Iterable[str]) -> str:
    return ", ".join(values)


def _check_choice(catalog: Catalog, spec: ModelSpec, endpoint: ImageEndpoint, param: str, value: str | None) -> None:
    if value is None:
        return
    allowed = spec.values_for(param, endpoint)
    if value in allowed:
        return
    what = f"{spec.name} edits" if endpoint is ImageEndpoint.EDITS and param == "output_format" else spec.name
    if not allowed:
        takers = catalog.models_supporting(param, endpoint=endpoint)
        hint = f" Models that take it: {_listed(takers)}." if takers else ""
        raise ParameterError(param, f"{param} is not supported by {what}; leave it out.{hint}")
    remark = spec.remarks.get(param)
    why = f" ({remark})" if remark else ""
    message = f"{param} {value!r} is not valid for {what}{why}. Use one of: {_listed(allowed)}."
    raise ParameterError(param, message + _value_hint(catalog, param, value, endpoint))


def _value_hint(catalog: Catalog, param: str, value: str, endpoint: ImageEndpoint) -> str:
    """Which models take this exact value, here or, failing that, on another endpoint."""
    takers = catalog.models_supporting(param, value, endpoint=endpoint)
    if takers:
        return f" Models that take {param} {value!r}: {_listed(takers)}."
    for other in ImageEndpoint:
        elsewhere = catalog.models_supporting(param, value, endpoint=other) if other is not endpoint else []
        if elsewhere:
            return f" {param} {value!r} is available for image {other} only ({_listed(elsewhere)})."
    return ""


def _check_size(size: str | None, spec: ModelSpec, endpoint: ImageEndpoint) -> None:
    sizes = spec.values_for("size", endpoint)
    if size is None or size in sizes:
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


def _check_format_combinations(
    catalog: Catalog, spec: ModelSpec, endpoint: ImageEndpoint, options: ImageOptions
) -> None:
    formats = spec.values_for("output_format", endpoint)
    output_format = options.output_format or (formats[0] if formats else None)
    if options.output_compression is not None:
        if not formats:
            takers = _listed(catalog.models_supporting("output_format", endpoint=endpoint))
            raise ParameterError(
                "output_compression",
                f"output_compression is not supported by {spec.name}; models that take it: {takers}.",
            )
        if output_format not in COMPRESSED_FORMATS:
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
