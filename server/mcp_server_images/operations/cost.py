"""What a call cost and what it would cost: pure functions of usage, the catalog's prices and the request.

A call is priced as a list of parts, one per upstream request, each a model and the `usage` its answer gave: a
fan-out is several parts of one model; a Responses call (a mainline model plus the image tool) is two parts of two
models. Prices are the catalog's, in USD per 1M tokens. A provider that states what a request cost (OpenRouter's
`usage.cost`) is taken at its word for that part. When any part lacks usage, or a price its tokens need, the
amount is unknown (None) and the basis says why: a figure is never made up.

Streamed partial images: the catalog gives the extra output tokens each partial costs (gpt-image-2.5 and 2.6: 100).
Our sources do not say whether the `usage` of the final event already counts them, so they are added to it; at
most 3 partials x 100 tokens ($0.009) may be counted twice, never missed.

Usage is taken only when it can be right: every `*_tokens` count a whole number from 0 to MAX_TOKENS_PER_IMAGE per
image of the answer. Anything else (negative, fractional, NaN, a string, 10**30) makes the cost unknown with a
note saying why, never an exact-looking figure, and keeps every sum small enough that nothing can overflow. A cost
the provider reports is taken likewise only when it can be right: a finite figure from $0 to `most_per_image` for
each image of the answer (REPORTED_COST_FACTOR times what an image of unknown cost counts at); anything else
(infinite, NaN, negative, $10**30) makes the call's cost unknown, so the ledger counts it at what it reserved.

Estimates come from the catalog's per-image output tokens at 1024x1024 by quality (published per-image figures),
scaled by pixel count, plus the prompt's text at about 4 characters a token. Input images of an edit are not
estimated (no published formula), nor what an output format bills on top where the catalog says so (gpt-image-2.6's
SVG authoring), which the basis says. Once calls like it have been paid for, recorded costs take over (learned.py).
Where no figure is published, the highest per-image figure of the catalog (`highest_per_image`) is what the ledger
counts while a cap is set (see ledger.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..catalog.options import ImageOptions, option
from ..catalog.spec import REFERENCE_PIXELS, ImageEndpoint, ModelKind, ModelSpec, Prices

CURRENCY = "USD"
CHARS_PER_TOKEN = 4
"""A prompt's text tokens, estimated from its length (English averages about 4 characters a token)."""
PER_MILLION = 1_000_000
MAX_TOKENS_PER_IMAGE = 1_000_000
"""The most tokens of any kind one image of an answer may report: about 25 times a 4K image at the highest
published quality with sixteen input images; a count above it is not believed."""

REPORTED_COST_FACTOR = 100
"""How many times the figure an image of unknown cost counts at (Caps.unknown_per_image: the setting
MCP_IMAGES_UNKNOWN_COST_PER_IMAGE, else the catalog's highest per-image figure, $0.211 for 1024x1024) one image of
an answer may be reported to cost: about twelve times a 4K image at the highest published quality (about 8 times
that figure), room for sixteen input images and for a model several times dearer than any the catalog lists; a
figure above it is not believed. By default $21.10 an image."""

Lookup = Callable[[str], ModelSpec | None]
"""The catalog's entry for a model name (either spelling), or None for a model it does not describe."""


@dataclass(frozen=True)
class BilledPart:
    """One upstream request's share of a call: the model that answered and the usage it reported."""

    model: str
    usage: Mapping[str, Any] | None
    partial_images: int = 0
    """Well-formed partial images the request streamed."""
    images: int = 1
    """Items the answer carried: what its usage is judged against (MAX_TOKENS_PER_IMAGE each)."""
    reported: float | None = None
    """What the provider said the request cost, in USD, where it says."""


@dataclass(frozen=True)
class Estimate:
    amount: float | None
    basis: str
    reserve: float | None = None
    """What budgets reserve when it is more than `amount`: the catalog's figure, when recorded costs (learned.py)
    put the estimate below it."""

    @property
    def reserved(self) -> float | None:
        """What a budget counts for the call before it is made: the higher of the estimate and `reserve`."""
        return self.amount if self.reserve is None or self.amount is None else max(self.amount, self.reserve)

    def public(self) -> dict[str, Any]:
        return {"amount": _rounded(self.amount), "basis": self.basis}


@dataclass(frozen=True)
class Cost:
    """A call's cost: exact when computed from usage, with the estimate made before the call when there was one."""

    amount: float | None
    exact: bool
    basis: str
    estimate: Estimate | None = None
    currency: str = CURRENCY

    def public(self) -> dict[str, Any]:
        """The `cost` object of structuredContent and of the sidecar."""
        return {
            "amount": _rounded(self.amount),
            "currency": self.currency,
            "exact": self.exact,
            "basis": self.basis,
            "estimate": self.estimate.public() if self.estimate else None,
        }

    def text(self) -> str:
        """One line for the result's text: "Cost: $0.125 (from usage); estimated $0.211."."""
        if self.amount is None:
            line = f"Cost: unknown ({self.basis})"
        else:
            line = f"Cost: {usd(self.amount)} ({'from usage' if self.exact else 'estimated'})"
        if self.estimate is not None:
            line += f"; estimated {usd(self.estimate.amount)}" if self.estimate.amount is not None else ""
        return line + "."


def usd(amount: float | None) -> str:
    if amount is None:
        return "unknown"
    return f"${amount:.4f}" if 0 < amount < 0.01 else f"${amount:.3f}"


def _rounded(amount: float | None) -> float | None:
    return None if amount is None else round(amount, 6)


@dataclass
class Tokens:
    """Tokens of one model by what they are billed as."""

    text_input: int = 0
    text_cached: int = 0
    image_input: int = 0
    image_cached: int = 0
    image_output: int = 0
    text_output: int = 0

    def add(self, other: Tokens) -> None:
        for name in PRICED:
            setattr(self, name, getattr(self, name) + getattr(other, name))


PRICED = ("text_input", "text_cached", "image_input", "image_cached", "image_output", "text_output")
SHORT = {
    "text_input": "text in",
    "text_cached": "cached text in",
    "image_input": "image in",
    "image_cached": "cached image in",
    "image_output": "image out",
    "text_output": "text out",
}


def most_per_image(unknown_per_image: float) -> float:
    """The most one image of an answer may be reported to cost, from what an image of unknown cost counts at."""
    return REPORTED_COST_FACTOR * unknown_per_image


def price(parts: Sequence[BilledPart], lookup: Lookup, most_reported: float) -> Cost:
    """The exact cost of a call's parts: what the provider reported where it did, the rest from their usage and the
    catalog's prices; unknown with the reason when a part cannot be priced or a reported cost cannot be right
    (more than `most_reported` per image, see most_per_image)."""
    if not parts:
        return Cost(None, exact=True, basis="no request was answered")
    for part in parts:
        problem = reported_problem(part, most_reported)
        if problem is not None:
            return Cost(None, exact=True, basis=problem)
    reported = [part.reported for part in parts if part.reported is not None]
    if len(reported) == len(parts):
        return Cost(sum(reported), exact=True, basis=f"the cost the provider reported for {len(parts)} request(s)")
    priced = _priced_by_tokens([part for part in parts if part.reported is None], lookup)
    if priced.amount is None or not reported:
        return priced
    basis = f"${sum(reported):g} as the provider reported it, and {priced.basis}"
    return Cost(priced.amount + sum(reported), exact=True, basis=basis)


def _priced_by_tokens(parts: Sequence[BilledPart], lookup: Lookup) -> Cost:
    """Parts priced from their usage at the catalog's prices per 1M tokens."""
    by_model: dict[str, tuple[ModelSpec, Tokens]] = {}
    for part in parts:
        spec = lookup(part.model)
        unknown = _unpriced(part, spec)
        if unknown is not None or spec is None or part.usage is None:
            return Cost(None, exact=True, basis=unknown or f"no published prices for {part.model} in the catalog")
        tokens = usage_tokens(part.usage, spec, part.partial_images)
        if spec.name in by_model:
            by_model[spec.name][1].add(tokens)
        else:
            by_model[spec.name] = (spec, tokens)
    total = 0.0
    terms: list[str] = []
    for name, (spec, tokens) in by_model.items():
        prices = spec.prices or Prices()
        for kind in PRICED:
            count = getattr(tokens, kind)
            if count <= 0:
                continue
            rate = getattr(prices, kind)
            if rate is None:
                return Cost(None, exact=True, basis=f"no published {SHORT[kind]} price for {name}")
            total += count * rate / PER_MILLION
            terms.append(f"{count} {SHORT[kind]} @ ${rate:g}")
    return Cost(total, exact=True, basis=f"usage x catalog prices per 1M tokens: {', '.join(terms) or 'no tokens'}")


def _unpriced(part: BilledPart, spec: ModelSpec | None) -> str | None:
    """Why a part's cost cannot be known, or None."""
    if part.usage is None:
        return f"the API returned no usage for {part.model}"
    problem = usage_problem(part.usage, part.images)
    if problem is not None:
        return f"the API reported usage for {part.model} that cannot be right ({problem})"
    if spec is None or spec.prices is None or all(getattr(spec.prices, kind) is None for kind in PRICED):
        return f"no published prices for {part.model} in the catalog"
    return None


def reported_problem(part: BilledPart, most_reported: float) -> str | None:
    """Why the cost the provider reported for a part cannot be right, or None: it must be a finite figure from $0
    to `most_reported` for each image of the answer. A figure that is not believed is never summed: the call's cost
    is unknown, and the ledger counts it at what it reserved before it was sent."""
    reported = part.reported
    bound = most_reported * max(part.images, 1)
    if reported is None or (math.isfinite(reported) and 0 <= reported <= bound):
        return None
    return (
        f"the provider reported a cost for {part.model} that cannot be right (${reported:g}: not a figure from $0 to "
        f"{usd(bound)} for {max(part.images, 1)} image(s)), so the spend ledger counts the call at what it reserved "
        "before it was sent (its estimate, or its worst case while a budget is set)"
    )


def usage_problem(usage: Mapping[str, Any], images: int) -> str | None:
    """What makes an answer's usage unbelievable, or None: every `*_tokens` count, at any depth, must be a whole
    number from 0 to MAX_TOKENS_PER_IMAGE for each image of the answer."""
    bound = MAX_TOKENS_PER_IMAGE * max(images, 1)
    for key, value in usage.items():
        if isinstance(value, Mapping):
            problem = usage_problem(value, images)
            if problem is not None:
                return f"{key}.{problem}"
        elif key.endswith("_tokens"):
            whole = isinstance(value, int) and not isinstance(value, bool)
            if not whole or not 0 <= value <= bound:
                shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
                return f"{key} = {shown}: not a count of 0 to {bound:,} tokens"
    return None


def usage_tokens(usage: Mapping[str, Any], spec: ModelSpec, partial_images: int = 0) -> Tokens:
    """Split an answer's usage into what each is billed as.

    Reads the Images and Responses shape (`input_tokens`, `input_tokens_details` with `text_tokens`, `image_tokens`,
    `cached_tokens`) and the Chat Completions shape (`prompt_tokens`, `completion_tokens`). Output without a split
    is image output for an image model and text output for a chat model.
    """
    details = _mapping(usage.get("input_tokens_details") or usage.get("prompt_tokens_details"))
    total_in = _count(usage.get("input_tokens", usage.get("prompt_tokens")))
    image_in = _count(details.get("image_tokens"))
    text_in = _count(details["text_tokens"]) if "text_tokens" in details else max(total_in - image_in, 0)
    cached = _mapping(details.get("cached_tokens_details"))
    if cached:
        cached_text, cached_image = _count(cached.get("text_tokens")), _count(cached.get("image_tokens"))
    else:
        cached_total = _count(details.get("cached_tokens"))
        cached_text = min(cached_total, text_in)
        cached_image = min(cached_total - cached_text, image_in)
    out = _count(usage.get("output_tokens", usage.get("completion_tokens")))
    out_details = _mapping(usage.get("output_tokens_details") or usage.get("completion_tokens_details"))
    if "image_tokens" in out_details or "text_tokens" in out_details:
        image_out, text_out = _count(out_details.get("image_tokens")), _count(out_details.get("text_tokens"))
    elif spec.kind is ModelKind.IMAGE:
        image_out, text_out = out, 0
    else:
        image_out, text_out = 0, out
    return Tokens(
        text_input=text_in - cached_text,
        text_cached=cached_text,
        image_input=image_in - cached_image,
        image_cached=cached_image,
        image_output=image_out + partial_images * spec.partial_image_tokens,
        text_output=text_out,
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


@dataclass(frozen=True)
class Ask:
    """What an estimate needs to know about a call."""

    model: str
    spec: ModelSpec | None
    options: ImageOptions = field(default_factory=ImageOptions)
    """What the call asks for: how many images (`n`, over all its requests), and its image options."""
    prompt: str | None = None
    requests: int = 1
    partial_images: int = 0
    """Partial images each request would stream."""
    input_images: int = 0
    leaves_out: str | None = None
    """What else the call pays for that no published figure covers (the Responses API's mainline model)."""


def estimate(ask: Ask) -> Estimate:
    """The cost before calling, from the catalog's published per-image figures; unknown where there are none."""
    spec = ask.spec
    if spec is None or spec.prices is None or not spec.estimate_tokens or spec.prices.image_output is None:
        return Estimate(None, f"no published per-image figure for {ask.model}")
    asked, n = ask.options.quality, ask.options.n
    quality, assumed = asked, ""
    if quality in (None, "auto"):
        quality = max(spec.estimate_tokens, key=lambda name: spec.estimate_tokens[name])
        assumed = f" (quality {asked or 'left out'} counted as {quality})"
    if quality not in spec.estimate_tokens:
        return Estimate(None, f"no published per-image figure for {ask.model} at quality {quality}")
    width, height, size_note = _size(ask.options.size, spec)
    per_image = round(spec.estimate_tokens[quality] * width * height / REFERENCE_PIXELS)
    image_out = n * per_image + ask.requests * ask.partial_images * spec.partial_image_tokens
    text_in = ask.requests * math.ceil(len(ask.prompt or "") / CHARS_PER_TOKEN)
    amount = image_out * spec.prices.image_output / PER_MILLION
    if text_in and spec.prices.text_input is not None:
        amount += text_in * spec.prices.text_input / PER_MILLION
    basis = (
        f"{n} x {width}x{height}{size_note} at {quality}{assumed}: {per_image} image out tokens each "
        f"@ ${spec.prices.image_output:g}/1M (published per-image figure)"
    )
    if ask.partial_images and spec.partial_image_tokens:
        basis += f", {ask.partial_images} partial(s) x {spec.partial_image_tokens} tokens per request"
    if ask.input_images:
        basis += "; input images not counted"
    for left_out in (ask.leaves_out, spec.estimate_leaves_out.get(ask.options.output_format or "")):
        if left_out:
            basis += f"; plus {left_out}"
    return Estimate(amount, basis)


def highest_per_image(specs: Iterable[ModelSpec]) -> float:
    """The highest published per-image figure of these models: USD for one 1024x1024 image at their costliest
    listed quality (the shipped catalog always has some)."""
    figures = [
        max(spec.estimate_tokens.values()) * spec.prices.image_output / PER_MILLION
        for spec in specs
        if spec.prices is not None and spec.prices.image_output is not None and spec.estimate_tokens
    ]
    if not figures:
        raise ValueError("no model has a published per-image figure")
    return max(figures)


def image_pixels(ask: Ask) -> int:
    """The pixels of one image the call asks for: its size, else the largest its model lists, else 1024x1024."""
    if ask.spec is not None:
        width, height, _ = _size(ask.options.size, ask.spec)
        return width * height
    size = str(ask.options.size or "").lower()
    sides = size.split("x")
    if len(sides) == 2 and all(side.isdigit() for side in sides):
        return int(sides[0]) * int(sides[1])
    return REFERENCE_PIXELS


def _size(size: str | None, spec: ModelSpec) -> tuple[int, int, str]:
    """The pixels an image of `size` has; auto or left out counts as the model's largest listed size."""
    if size not in (None, "auto"):
        width, height = (int(side) for side in str(size).lower().split("x"))
        return width, height, ""
    sizes = option("size").values(spec, ImageEndpoint.GENERATIONS)
    listed = [tuple(int(side) for side in s.split("x")) for s in sizes if "x" in s]
    width, height = max(listed, key=lambda wh: wh[0] * wh[1], default=(1024, 1024))
    return width, height, f" (size {size or 'left out'} counted as the largest)"


def stored_cost(costs: Sequence[Mapping[str, Any] | None]) -> Cost | None:
    """A call's cost rebuilt from its requests' `cost` objects (sidecars); None when none was recorded (older
    sidecars), unknown when any request's cost is."""
    if not costs or all(cost is None for cost in costs):
        return None
    amounts = [cost.get("amount") if cost is not None else None for cost in costs]
    if any(not isinstance(amount, int | float) for amount in amounts):
        return Cost(None, exact=True, basis="the cost of a request that made these images is not known")
    total = sum(amount for amount in amounts if isinstance(amount, int | float))
    return Cost(float(total), exact=True, basis=f"sum of the recorded costs of {len(costs)} request(s)")
