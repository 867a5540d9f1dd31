"""The option table: every image option the tools take, one row each, and the options of one call.

A row says what the option is called, how it is checked, which models.toml field says what a model takes, which
Images API endpoints and which upstream APIs send it (and under which name), and how the tools describe it. What
used to be written out per option is read from here: the request checks (checks.py), the catalog file's fields
(load.py), the fields each backend sends, the sidecar's parameters, list_models' lines and the tools' parameter
descriptions. A new option is one row, the models.toml entries of the models that take it, and the tool parameter
that receives it (adapter/tools/handlers.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ..providers import ProviderKind
from .spec import Api, ImageEndpoint, ModelSpec

OptionValue = str | int
"""An option's value as a tool received it: text, or a whole number."""

GENERATIONS, EDITS, VARIATIONS = ImageEndpoint.GENERATIONS, ImageEndpoint.EDITS, ImageEndpoint.VARIATIONS
_MAKING = frozenset({GENERATIONS, EDITS})
_IMAGES_AND_RESPONSES = frozenset({Api.IMAGES, Api.RESPONSES})
DIFFUSION_SERVERS = frozenset({ProviderKind.VLLM_OMNI, ProviderKind.LOCALAI, ProviderKind.CUSTOM})
"""Local servers whose Images API takes a step count (vLLM-Omni `num_inference_steps`, LocalAI `step`;
world-2026-12.md), and gateways given by URL, of which nothing is known."""


class Check(StrEnum):
    """How a value is checked against the chosen model's catalog entry."""

    CHOICE = "choice"
    """One of the values the model's field lists; a model whose list is empty does not take the option."""
    SIZE = "size"
    """One of the listed sizes or, for a model with a `free_size` rule, any WIDTHxHEIGHT within it."""
    NUMBER = "number"
    """A whole number within `bounds` (for any model); a catalogued model takes it when its flag field is true,
    or when it takes the option the row `needs`."""
    TEXT = "text"
    """Any text; a catalogued model takes it when its flag field is true."""


@dataclass(frozen=True)
class ImageOption:
    """One image option: a row of the table."""

    name: str
    check: Check
    field: str | None
    """The models.toml field: the values a model takes (a list), or for a number a flag that it takes it."""
    endpoints: frozenset[ImageEndpoint]
    """The Images API endpoints that take it."""
    apis: frozenset[Api]
    """The upstream APIs whose requests carry it as a field (chat sends a size its own way, see chat_images)."""
    description: str
    """What the tools' parameter says (filled in at start-up, adapter/tools/described.py)."""
    edit_field: str | None = None
    """The models.toml field of what edits take, when it may differ; left out of an entry, it is `field`'s list."""
    bounds: tuple[int, int] | None = None
    """A number's lowest and highest value."""
    needs: str | None = None
    """The option a model must take for this one to apply (output_compression needs an output_format)."""
    listed: str | None = None
    """Its label in list_models' line for a model that takes it; None: not shown there."""
    wire: str | None = None
    """The request field's name, when it is not `name` (a provider may name it otherwise: backends/dialects.py)."""
    providers: frozenset[ProviderKind] | None = None
    """The provider kinds whose APIs take it at all (local servers' extras); None: any provider, as the model
    decides."""

    @property
    def kind(self) -> type[OptionValue]:
        return int if self.check is Check.NUMBER else str

    @property
    def flagged(self) -> bool:
        """Whether a model's field is a flag that it takes the option (numbers and text), not a list of values."""
        return self.check in (Check.NUMBER, Check.TEXT)

    @property
    def sent_as(self) -> str:
        return self.wire or self.name

    def values(self, spec: ModelSpec, endpoint: ImageEndpoint) -> tuple[str, ...]:
        """The values the model takes on the endpoint (choices and sizes); () when it takes none there."""
        if endpoint not in self.endpoints or self.field is None or self.flagged:
            return ()
        listing = self.edit_field if endpoint is EDITS and self.edit_field else self.field
        return spec.option_values.get(listing, ())

    def taken_by(self, spec: ModelSpec, endpoint: ImageEndpoint) -> bool:
        """Whether the model takes this option on the endpoint at all."""
        if endpoint not in self.endpoints or endpoint not in spec.endpoints:
            return False
        if self.needs is not None:
            return option(self.needs).taken_by(spec, endpoint)
        if self.flagged:
            return self.field in spec.option_flags
        return bool(self.values(spec, endpoint)) or (self.check is Check.SIZE and spec.free_size is not None)


OPTIONS: tuple[ImageOption, ...] = (
    ImageOption(
        "size",
        Check.SIZE,
        "sizes",
        frozenset(ImageEndpoint),
        _IMAGES_AND_RESPONSES,
        "WIDTHxHEIGHT. Any of 1024x1024, 1536x1024, 1024x1536, auto; gpt-image-2 and later any with sides multiple "
        "of 16, aspect 1:3 to 3:1, up to 3840x2160.",
        edit_field="edit_sizes",
    ),
    ImageOption(
        "quality",
        Check.CHOICE,
        "qualities",
        _MAKING,
        _IMAGES_AND_RESPONSES,
        "auto, low, medium, high; gpt-image-2.5/2.6 also xhigh, max (slower).",
        listed="quality",
    ),
    ImageOption(
        "style",
        Check.CHOICE,
        "styles",
        frozenset({GENERATIONS}),
        frozenset({Api.IMAGES}),
        "dall-e-3 only: vivid (dramatic) or natural.",
    ),
    ImageOption(
        "background",
        Check.CHOICE,
        "backgrounds",
        _MAKING,
        _IMAGES_AND_RESPONSES,
        "transparent (png or webp output; not gpt-image-2), opaque or auto.",
    ),
    ImageOption(
        "output_format",
        Check.CHOICE,
        "output_formats",
        _MAKING,
        _IMAGES_AND_RESPONSES,
        "png (default), jpeg or webp; gpt-image-2.6 generations also gif (animated) and svg.",
        edit_field="edit_output_formats",
        listed="formats",
    ),
    ImageOption(
        "output_compression",
        Check.NUMBER,
        None,
        _MAKING,
        _IMAGES_AND_RESPONSES,
        "jpeg or webp compression.",
        bounds=(0, 100),
        needs="output_format",
    ),
    ImageOption(
        "moderation",
        Check.CHOICE,
        "moderations",
        frozenset({GENERATIONS}),
        _IMAGES_AND_RESPONSES,
        "auto (default) or low (less filtering).",
    ),
    ImageOption(
        "input_fidelity",
        Check.CHOICE,
        "input_fidelities",
        frozenset({EDITS}),
        _IMAGES_AND_RESPONSES,
        "high keeps faces, logos and details closer; low (default) is faster.",
    ),
    ImageOption(
        "complexity",
        Check.CHOICE,
        "complexities",
        _MAKING,
        _IMAGES_AND_RESPONSES,
        "gpt-image-2.6 only: low, medium or high (default) scene detail; lower is faster.",
        listed="complexity",
    ),
    ImageOption(
        "seed",
        Check.NUMBER,
        "seed",
        _MAKING,
        frozenset({Api.IMAGES, Api.CHAT}),
        "Repeatable images where the model takes it (list_models).",
        bounds=(0, 2**32 - 1),
        listed="seed",
    ),
    ImageOption(
        "steps",
        Check.NUMBER,
        "steps",
        _MAKING,
        frozenset({Api.IMAGES}),
        "Diffusion steps (vLLM-Omni, LocalAI).",
        bounds=(1, 500),
        listed="steps",
        wire="num_inference_steps",
        providers=DIFFUSION_SERVERS,
    ),
    ImageOption(
        "negative_prompt",
        Check.TEXT,
        "negative_prompt",
        _MAKING,
        frozenset({Api.IMAGES}),
        "What to leave out (LocalAI).",
        listed="negative prompt",
        providers=frozenset({ProviderKind.LOCALAI, ProviderKind.CUSTOM}),
    ),
)
"""Every image option, in the order refusals are checked and sidecars list them."""

_BY_NAME = {row.name: row for row in OPTIONS}


def option(name: str) -> ImageOption:
    """The row of an option, by its name."""
    return _BY_NAME[name]


def catalog_fields() -> dict[str, Check]:
    """Every models.toml field the table reads, with the check of its row (a list, or a flag for numbers and
    text)."""
    fields: dict[str, Check] = {}
    for row in OPTIONS:
        for name in (row.field, row.edit_field):
            if name is not None:
                fields[name] = row.check
    return fields


@dataclass(frozen=True)
class ImageOptions:
    """The image options of one call as the user gave them: `n`, and each option of the table that was set."""

    n: int = 1
    given: Mapping[str, OptionValue] = field(default_factory=dict)
    """Option name -> value, only the options that were set, in table order."""

    @classmethod
    def of(cls, n: int = 1, **given: OptionValue | None) -> ImageOptions:
        """The options named like the table's rows; None means not set."""
        unknown = sorted(set(given) - set(_BY_NAME))
        if unknown:
            raise TypeError(f"not image options: {', '.join(unknown)}")
        return cls.from_arguments({"n": n, **given})

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, object]) -> ImageOptions:
        """`n` and every option of the table found in a tool's arguments by name (others are not options)."""
        n = arguments.get("n", 1)
        if not isinstance(n, int):
            raise TypeError(f"n must be a whole number, not {n!r}")
        given: dict[str, OptionValue] = {}
        for row in OPTIONS:
            value = arguments.get(row.name)
            if value is None:
                continue
            if not isinstance(value, row.kind):
                raise TypeError(f"{row.name} must be {row.kind.__name__}, not {value!r}")
            given[row.name] = value
        return cls(n, given)

    def get(self, name: str) -> OptionValue | None:
        return self.given.get(name)

    def parameters(self) -> dict[str, OptionValue]:
        """`n` and the options that were set: what a sidecar records and a quote shows."""
        return {"n": self.n, **self.given}

    def sent(self, api: Api, endpoint: ImageEndpoint | None = None) -> dict[str, OptionValue]:
        """The options that were set and that `api`'s requests carry (on the Images API: that `endpoint` takes),
        by their names on the wire."""
        return {
            row.sent_as: self.given[row.name]
            for row in OPTIONS
            if row.name in self.given and api in row.apis and (endpoint is None or endpoint in row.endpoints)
        }

    # The options with rules of their own beyond the table (sizes, formats, compression, the estimate), typed.

    @property
    def size(self) -> str | None:
        return self._text("size")

    @property
    def quality(self) -> str | None:
        return self._text("quality")

    @property
    def background(self) -> str | None:
        return self._text("background")

    @property
    def output_format(self) -> str | None:
        return self._text("output_format")

    @property
    def output_compression(self) -> int | None:
        value = self.given.get("output_compression")
        return value if isinstance(value, int) else None

    def _text(self, name: str) -> str | None:
        value = self.given.get(name)
        return value if isinstance(value, str) else None
