"""The catalog's vocabulary: what one model accepts, its lifecycle on OpenAI and its prices, as frozen data.

These types carry no behaviour beyond reading themselves; loading lives in `load.py`, request checks in
`checks.py`, and what each image option's fields mean in the option table (`options.py`). An empty tuple always
means "this model does not take that parameter".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class ImageEndpoint(StrEnum):
    """The three Images API operations; not every model offers all of them."""

    GENERATIONS = "generations"
    EDITS = "edits"
    VARIATIONS = "variations"


class Family(StrEnum):
    """Request and answer shapes differ by family: DALL·E answers with URLs and does not stream."""

    GPT_IMAGE = "gpt-image"
    DALL_E = "dall-e"
    GROK = "grok"
    """xAI's: answers with a URL unless asked for b64_json, as DALL·E does."""
    CHAT = "chat"


class ModelKind(StrEnum):
    """What a model is for here: making images, or reading them (vision)."""

    IMAGE = "image"
    VISION = "vision"


class Api(StrEnum):
    """An upstream API that serves models: the Images API, Chat Completions, or the Responses API (whose
    image_generation tool drives a GPT image model through a mainline model)."""

    IMAGES = "images"
    CHAT = "chat"
    RESPONSES = "responses"


class Status(StrEnum):
    """A model's state on OpenAI's own API (gateways may differ; their model list says so)."""

    ACTIVE = "active"
    DEPRECATED = "deprecated"
    SHUT_DOWN = "shut_down"


@dataclass(frozen=True)
class FreeSizeRule:
    """Sizes beyond the fixed list: any WxH within these bounds (gpt-image-2 and later)."""

    multiple: int = 16
    max_aspect: int = 3
    max_edge: int = 3840
    min_pixels: int = 0
    max_pixels: int = 3840 * 2160
    min_edge: int = 0
    """The shortest a side may be (MAI-Image-2.7: 768 px)."""

    def problem(self, width: int, height: int) -> str | None:
        """Why a WxH breaks the rule, or None when it is fine."""
        if width % self.multiple or height % self.multiple:
            return f"both sides must be multiples of {self.multiple}"
        if min(width, height) < self.min_edge:
            return f"both sides must be at least {self.min_edge} px"
        if max(width, height) > self.max_aspect * min(width, height):
            return f"the aspect ratio must be between 1:{self.max_aspect} and {self.max_aspect}:1"
        if max(width, height) > self.max_edge:
            return f"the long side must be at most {self.max_edge} px"
        if width * height > self.max_pixels:
            return f"at most {self.max_pixels:,} pixels in total"
        if width * height < self.min_pixels:
            return f"at least {self.min_pixels:,} pixels in total (e.g. 1024x640)"
        return None

    def describe(self) -> str:
        pixels = f"{self.min_pixels:,} to {self.max_pixels:,}" if self.min_pixels else f"at most {self.max_pixels:,}"
        return (
            f"any WIDTHxHEIGHT with both sides multiples of {self.multiple}, aspect between 1:{self.max_aspect} "
            f"and {self.max_aspect}:1, long side at most {self.max_edge} px and {pixels} pixels"
        )


@dataclass(frozen=True)
class Replacement:
    """A model to use instead, and what it is best for ("fast", "best quality")."""

    model: str
    note: str = ""

    def __str__(self) -> str:
        return f"{self.model} ({self.note})" if self.note else self.model


@dataclass(frozen=True)
class Lifecycle:
    """Where a model stands on OpenAI: active, deprecated with a shutdown date, or shut down on a date."""

    status: Status = Status.ACTIVE
    shutdown: date | None = None
    notice: date | None = None
    replacements: tuple[Replacement, ...] = ()
    owner: str = "OpenAI"
    """Whose lifecycle this is (Google retires its Gemini image models itself), for messages."""
    reported_shutdown: date | None = None
    """A shutdown date only one source gives (unconfirmed): shown, never acted on; the provider's own model list
    (`shutdown_date`) decides at run time."""
    reported_by: str = ""
    """The one source of `reported_shutdown`."""

    def advice(self) -> str:
        """What to use instead, as in 'use A (fast) or B (best quality)'; empty when no replacement is named."""
        if not self.replacements:
            return ""
        named = [str(r) for r in self.replacements]
        listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + f" or {named[-1]}"
        return f"use {listed}"


@dataclass(frozen=True)
class Prices:
    """USD per 1M tokens where published; None where our sources give no figure (never guessed)."""

    text_input: float | None = None
    text_cached: float | None = None
    image_input: float | None = None
    image_cached: float | None = None
    image_output: float | None = None
    text_output: float | None = None
    """Text a model writes (a mainline model's answer in a Responses call); no current catalogued model has one."""


REFERENCE_PIXELS = 1024 * 1024
"""The size `ModelSpec.estimate_tokens` is given for; other sizes scale with their pixel count."""


@dataclass(frozen=True)
class ModelSpec:
    """One model's capabilities. Empty tuples mean the model does not take that parameter."""

    name: str
    kind: ModelKind
    family: Family
    api: Api
    """The API a call uses when it asks for none (and no setting prefers another of `apis`)."""
    apis: tuple[Api, ...] = ()
    """Every API the model can be used through, `api` first; () means `api` only (see `usable_apis`)."""
    vendor: str = "openai"
    """Whose model it is: the prefix gateways such as Dedalus put before the name (`google/gemini-...`)."""
    image_config: bool = False
    """Chat image models: takes `image_config` {aspect_ratio, image_size}; without it a size goes into the text."""
    aspect_ratios: tuple[str, ...] = ()
    """The aspect ratios the model takes (`16:9`, `auto`): an image_config model's, else a model that takes
    `aspect_ratio` and `resolution` instead of `size` (xAI), whose sizes must have one of them."""
    resolutions: tuple[str, ...] = ()
    """Its resolution tiers (`1k`, `2k`): the long side in units of 1024 px."""
    deployment: str | None = None
    """On Azure: the deployment a call naming this model goes to (else a call names the deployment itself)."""
    aliases: tuple[str, ...] = ()
    endpoints: frozenset[ImageEndpoint] = frozenset()
    option_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per list field of the option table (sizes, qualities, edit_output_formats, ...), the values the model takes;
    a field that is absent or empty means the model does not take that option there."""
    option_flags: frozenset[str] = frozenset()
    """The option table's flag fields that are true for this model (it takes that option)."""
    free_size: FreeSizeRule | None = None
    max_edit_images: int = 0
    max_n: int = 1
    n_per_request: int = 1
    """Most images one upstream request may ask for; larger n is served by concurrent requests."""
    max_prompt_chars: int = 32_000
    streaming: bool = False
    max_partial_images: int = 0
    remarks: Mapping[str, str] = field(default_factory=dict)
    """Per parameter, a sentence added when a value is refused (why gpt-image-2 refuses transparency)."""
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    lifecycle_on: Mapping[str, Lifecycle] = field(default_factory=dict)
    """Lifecycles on providers whose dates differ from the vendor's own, by provider kind (Azure's)."""
    prices: Prices | None = None
    estimate_tokens: Mapping[str, int] = field(default_factory=dict)
    """Quality -> image output tokens of one 1024x1024 image, for estimates before a call (from published figures)."""
    partial_image_tokens: int = 0
    """Extra image output tokens each streamed partial image costs."""
    estimate_leaves_out: Mapping[str, str] = field(default_factory=dict)
    """Per output format, what else such an answer bills that no published figure covers (gpt-image-2.6's SVG
    authoring model), so an estimate for it is a lower bound and says so."""

    def lifecycle_at(self, provider: str) -> Lifecycle:
        """Its lifecycle on a provider kind: that provider's own where the catalog gives one, else the vendor's."""
        return self.lifecycle_on.get(provider, self.lifecycle)

    @property
    def accepts_response_format(self) -> bool:
        """DALL·E and Grok models answer with a URL unless asked for b64_json; GPT image models reject the
        parameter."""
        return self.family in (Family.DALL_E, Family.GROK)

    @property
    def streams(self) -> bool:
        return self.streaming

    @property
    def usable_apis(self) -> tuple[Api, ...]:
        """The APIs this model can be used through, its default first."""
        return (self.api, *(api for api in self.apis if api is not self.api))


@dataclass(frozen=True)
class ServedModel:
    """One entry of the provider's model list, as `GET /models` gave it."""

    id: str
    shutdown_date: date | None = None
    parameters: frozenset[str] | None = None
    """The request parameters the provider says the model takes (OpenRouter's image model listing); None where
    it does not say."""
