"""What each image model accepts, as data, and the checks that run before any upstream call.

The table follows the OpenAI images contract (see shared/reference/openai-images-api.md). A model that is not in
the table passes through with generic checks only, because gateways serve models we have never heard of.
Validation messages always name the values the chosen model does accept, so an assistant can retry correctly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ..errors import ParameterError
from ..settings import ProviderKind


class ImageEndpoint(StrEnum):
    """The three Images API operations; not every model offers all of them."""

    GENERATIONS = "generations"
    EDITS = "edits"
    VARIATIONS = "variations"


class Family(StrEnum):
    """GPT image models and DALL·E models differ in response format, parameters and streaming."""

    GPT_IMAGE = "gpt-image"
    DALL_E = "dall-e"


@dataclass(frozen=True)
class FreeSizeRule:
    """gpt-image-2 accepts any WxH within these bounds, besides the standard sizes."""

    multiple: int = 16
    max_aspect: int = 3
    max_edge: int = 3840
    max_pixels: int = 3840 * 2160

    def problem(self, width: int, height: int) -> str | None:
        """Why a WxH breaks the rule, or None when it is fine."""
        if width % self.multiple or height % self.multiple:
            return f"both sides must be multiples of {self.multiple}"
        if max(width, height) > self.max_aspect * min(width, height):
            return f"the aspect ratio must be between 1:{self.max_aspect} and {self.max_aspect}:1"
        if max(width, height) > self.max_edge:
            return f"the long side must be at most {self.max_edge} px"
        if width * height > self.max_pixels:
            return f"at most {self.max_pixels:,} pixels (3840x2160)"
        return None

    def describe(self) -> str:
        return (
            f"any WIDTHxHEIGHT with both sides multiples of {self.multiple}, aspect between 1:{self.max_aspect} "
            f"and {self.max_aspect}:1, long side at most {self.max_edge} px and at most 3840x2160 pixels"
        )


GPT_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
GPT_QUALITIES = ("auto", "low", "medium", "high")
GPT_FORMATS = ("png", "jpeg", "webp")
GPT_BACKGROUNDS = ("auto", "opaque", "transparent")
MODERATIONS = ("auto", "low")
MAX_N = 10


@dataclass(frozen=True)
class ModelSpec:
    """One model's capabilities. Empty tuples mean the model does not take that parameter."""

    name: str
    family: Family
    endpoints: frozenset[ImageEndpoint]
    sizes: tuple[str, ...]
    edit_sizes: tuple[str, ...]
    qualities: tuple[str, ...]
    max_prompt_chars: int
    max_edit_images: int
    n_per_request: int = MAX_N
    """Most images one upstream request may ask for; larger n is served by concurrent requests."""
    free_size: FreeSizeRule | None = None
    styles: tuple[str, ...] = ()
    output_formats: tuple[str, ...] = ()
    backgrounds: tuple[str, ...] = ()
    moderations: tuple[str, ...] = ()
    input_fidelity: bool = False

    @property
    def accepts_response_format(self) -> bool:
        """DALL·E models answer with a URL unless asked for b64_json; GPT image models reject the parameter."""
        return self.family is Family.DALL_E

    @property
    def streams(self) -> bool:
        return self.family is Family.GPT_IMAGE


def _gpt_image(name: str, *, free_size: FreeSizeRule | None = None, input_fidelity: bool = True) -> ModelSpec:
    return ModelSpec(
        name=name,
        family=Family.GPT_IMAGE,
        endpoints=frozenset({ImageEndpoint.GENERATIONS, ImageEndpoint.EDITS}),
        sizes=GPT_SIZES,
        edit_sizes=GPT_SIZES,
        qualities=GPT_QUALITIES,
        max_prompt_chars=32_000,
        max_edit_images=16,
        free_size=free_size,
        output_formats=GPT_FORMATS,
        backgrounds=GPT_BACKGROUNDS,
        moderations=MODERATIONS,
        input_fidelity=input_fidelity,
    )


CATALOG: tuple[ModelSpec, ...] = (
    _gpt_image("gpt-image-2", free_size=FreeSizeRule()),
    _gpt_image("gpt-image-1.5"),
    _gpt_image("gpt-image-1"),
    _gpt_image("gpt-image-1-mini", input_fidelity=False),
    ModelSpec(
        name="dall-e-3",
        family=Family.DALL_E,
        endpoints=frozenset({ImageEndpoint.GENERATIONS}),
        sizes=("1024x1024", "1792x1024", "1024x1792"),
        edit_sizes=(),
        qualities=("standard", "hd"),
        max_prompt_chars=4_000,
        max_edit_images=0,
        n_per_request=1,
        styles=("vivid", "natural"),
    ),
    ModelSpec(
        name="dall-e-2",
        family=Family.DALL_E,
        endpoints=frozenset({ImageEndpoint.GENERATIONS, ImageEndpoint.EDITS, ImageEndpoint.VARIATIONS}),
        sizes=("256x256", "512x512", "1024x1024"),
        edit_sizes=("256x256", "512x512", "1024x1024"),
        qualities=("standard",),
        max_prompt_chars=1_000,
        max_edit_images=1,
    ),
)

_BY_NAME = {spec.name: spec for spec in CATALOG}
_PROVIDER_PREFIX = "openai/"
_SNAPSHOT = re.compile(r"^(?P<base>.+)-\d{4}-\d{2}-\d{2}$")
_SIZE = re.compile(r"^(?P<w>[1-9]\d{1,4})x(?P<h>[1-9]\d{1,4})$")


def canonical_name(model: str) -> str:
    """The model name without a provider prefix: `openai/gpt-image-1` and `gpt-image-1` are the same model."""
    model = model.strip()
    return model[len(_PROVIDER_PREFIX) :] if model.lower().startswith(_PROVIDER_PREFIX) else model


def wire_name(model: str, provider: ProviderKind) -> str:
    """The spelling the provider expects: Dedalus wants `openai/…`, OpenAI the bare name, gateways what was typed."""
    if provider is ProviderKind.OPENAI:
        return canonical_name(model)
    if provider is ProviderKind.DEDALUS and "/" not in model:
        return _PROVIDER_PREFIX + model.strip()
    return model.strip()


def lookup(model: str) -> ModelSpec | None:
    """The catalog entry for a model in either spelling, including dated snapshots (gpt-image-2-2026-04-21)."""
    name = canonical_name(model).lower()
    if name in _BY_NAME:
        return _BY_NAME[name]
    snapshot = _SNAPSHOT.match(name)
    return _BY_NAME.get(snapshot.group("base")) if snapshot else None


def parse_size(size: str) -> tuple[int, int] | None:
    """(width, height) of a WxH size string, or None for 'auto' and malformed strings."""
    match = _SIZE.match(size.strip().lower())
    return (int(match.group("w")), int(match.group("h"))) if match else None


def models_supporting(attribute: str) -> list[str]:
    """Names of catalogued models that take a parameter (non-empty attribute), for 'use one of' hints."""
    return [spec.name for spec in CATALOG if getattr(spec, attribute)]


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


def _one_of(values: Iterable[str]) -> str:
    return ", ".join(values)


def _check_choice(param: str, value: str | None, allowed: tuple[str, ...], model: str, attribute: str) -> None:
    if value is None:
        return
    if not allowed:
        takers = models_supporting(attribute)
        hint = f" Models that take it: {_one_of(takers)}." if takers else ""
        raise ParameterError(param, f"{param} is not supported by {model}; leave it out.{hint}")
    if value not in allowed:
        raise ParameterError(param, f"{param} {value!r} is not valid for {model}. Use one of: {_one_of(allowed)}.")


def _check_size(size: str | None, sizes: tuple[str, ...], spec: ModelSpec, endpoint: ImageEndpoint) -> None:
    if size is None or size in sizes:
        return
    dims = parse_size(size)
    if spec.free_size is not None and dims is not None:
        problem = spec.free_size.problem(*dims)
        if problem is None:
            return
        raise ParameterError("size", f"size {size!r} is not valid for {spec.name}: {problem}.")
    valid = _one_of(sizes)
    if spec.free_size is not None:
        valid += f", or {spec.free_size.describe()}"
    what = "edits" if endpoint is ImageEndpoint.EDITS else "images"
    raise ParameterError("size", f"size {size!r} is not valid for {spec.name} {what}. Use one of: {valid}.")


def validate(model: str, endpoint: ImageEndpoint, prompt: str | None, options: ImageOptions) -> ModelSpec | None:
    """Check a request against the model's entry; raise ParameterError naming the valid values.

    Returns the model's spec, or None for a model outside the catalog (generic checks only).
    """
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
    spec = lookup(model)
    if spec is None:
        return None
    if endpoint not in spec.endpoints:
        takers = _one_of(s.name for s in CATALOG if endpoint in s.endpoints)
        raise ParameterError("model", f"{spec.name} does not support image {endpoint}. Models that do: {takers}.")
    if prompt is not None and len(prompt) > spec.max_prompt_chars:
        raise ParameterError(
            "prompt",
            f"prompt is {len(prompt):,} characters; {spec.name} takes at most {spec.max_prompt_chars:,}. Shorten it.",
        )
    sizes = spec.edit_sizes if endpoint is ImageEndpoint.EDITS else spec.sizes
    _check_size(options.size, sizes, spec, endpoint)
    _check_choice("quality", options.quality, spec.qualities, spec.name, "qualities")
    _check_choice("style", options.style, spec.styles, spec.name, "styles")
    _check_choice("background", options.background, spec.backgrounds, spec.name, "backgrounds")
    _check_choice("output_format", options.output_format, spec.output_formats, spec.name, "output_formats")
    _check_choice("moderation", options.moderation, spec.moderations, spec.name, "moderations")
    if options.input_fidelity is not None:
        fidelities = ("high", "low") if spec.input_fidelity else ()
        _check_choice("input_fidelity", options.input_fidelity, fidelities, spec.name, "input_fidelity")
    _check_format_combinations(spec, options)
    return spec


def _check_format_combinations(spec: ModelSpec, options: ImageOptions) -> None:
    output_format = options.output_format or (spec.output_formats[0] if spec.output_formats else None)
    if options.output_compression is not None:
        if not spec.output_formats:
            raise ParameterError(
                "output_compression",
                f"output_compression is not supported by {spec.name}; "
                f"models that take it: {_one_of(models_supporting('output_formats'))}.",
            )
        if output_format == "png":
            raise ParameterError(
                "output_compression",
                "output_compression applies to jpeg and webp only; set output_format to 'jpeg' or 'webp', "
                "or leave output_compression out.",
            )
    if options.background == "transparent" and output_format == "jpeg":
        raise ParameterError(
            "background",
            "a transparent background needs output_format 'png' or 'webp' (jpeg has no transparency).",
        )
