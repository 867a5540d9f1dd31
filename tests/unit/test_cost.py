"""Pricing usage as a list of parts: the shapes the Images, Chat Completions and Responses APIs report, partial
images, several models in one call, and prices that are not published."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mcp_server_images.catalog.catalog import Catalog
from mcp_server_images.catalog.options import ImageOptions
from mcp_server_images.catalog.spec import ModelKind, Prices
from mcp_server_images.operations.cost import (
    Ask,
    BilledPart,
    estimate,
    highest_per_image,
    most_per_image,
    price,
    stored_cost,
)

CATALOG = Catalog.load(None)
MOST_REPORTED = most_per_image(highest_per_image(CATALOG.of_kind(ModelKind.IMAGE)))


def test_partial_images_add_their_output_tokens() -> None:
    usage = {"input_tokens": 0, "output_tokens": 4160}

    flare = price([BilledPart("gpt-image-2.6-flare", usage, partial_images=2)], CATALOG.lookup, MOST_REPORTED)
    plain = price([BilledPart("gpt-image-2", usage, partial_images=2)], CATALOG.lookup, MOST_REPORTED)

    assert flare.amount == pytest.approx((4160 + 200) * 30 / 1e6), "100 tokens per partial on 2.5 and 2.6"
    assert plain.amount == pytest.approx(4160 * 30 / 1e6), "gpt-image-2 publishes no partial cost"


def test_a_provider_prefix_and_flat_cached_tokens_are_understood() -> None:
    usage = {"input_tokens": 100, "output_tokens": 10, "input_tokens_details": {"cached_tokens": 40}}

    cost = price([BilledPart("openai/gpt-image-2", usage)], CATALOG.lookup, MOST_REPORTED)

    assert cost.amount == pytest.approx((60 * 5 + 40 * 1.25 + 10 * 30) / 1e6)


def test_a_call_of_two_models_is_two_parts_and_unknown_when_one_has_no_price() -> None:
    image = BilledPart("gpt-image-2", {"input_tokens": 10, "output_tokens": 1000})
    mainline = BilledPart("gpt-6-luna", {"prompt_tokens": 500, "completion_tokens": 80})

    both = price([image, mainline], CATALOG.lookup, MOST_REPORTED)

    assert both.amount is None and "gpt-6-luna" in both.basis


def test_a_priced_mainline_model_adds_its_text_tokens() -> None:
    luna = replace(CATALOG.lookup("gpt-6-luna"), prices=Prices(text_input=2.0, text_output=8.0))  # type: ignore[type-var]
    specs = {"gpt-6-luna": luna, "gpt-image-2": CATALOG.lookup("gpt-image-2")}
    image = BilledPart("gpt-image-2", {"input_tokens": 10, "output_tokens": 1000})
    mainline = BilledPart("gpt-6-luna", {"prompt_tokens": 500, "completion_tokens": 80})

    both = price([image, mainline], specs.get, MOST_REPORTED)

    assert both.amount == pytest.approx((10 * 5 + 1000 * 30 + 500 * 2 + 80 * 8) / 1e6)
    assert both.exact and "80 text out @ $8" in both.basis


def test_no_usage_means_unknown() -> None:
    cost = price([BilledPart("gpt-image-2", None)], CATALOG.lookup, MOST_REPORTED)
    assert cost.amount is None and cost.text() == "Cost: unknown (the API returned no usage for gpt-image-2)."


def test_estimates_scale_with_size_and_know_nothing_of_unpublished_qualities() -> None:
    spec = CATALOG.lookup("gpt-image-2.6-sunburst")

    square = estimate(Ask("gpt-image-2.6-sunburst", spec, ImageOptions.of(quality="medium", size="1024x1024")))
    wide = estimate(Ask("gpt-image-2.6-sunburst", spec, ImageOptions.of(n=3, quality="medium", size="2048x1024")))
    xhigh = estimate(Ask("gpt-image-2.6-sunburst", spec, ImageOptions.of(quality="xhigh", size="1024x1024")))

    assert square.amount == pytest.approx(6185 * 30 / 1e6)
    assert wide.amount == pytest.approx(3 * 2 * 6185 * 30 / 1e6)
    assert xhigh.amount is None and "quality xhigh" in xhigh.basis


def test_gpt_image_2_6_is_not_estimated_like_2_5() -> None:
    """2.6 uses 3-4x 2.5's output tokens at low and medium quality, the same at high, and SVG bills an authoring
    model on top (world-2026-12.md): the estimate takes 3.5x and calls an SVG estimate a lower bound."""

    def at(model: str, quality: str) -> float | None:
        return estimate(Ask(model, CATALOG.lookup(model), ImageOptions.of(size="1024x1024", quality=quality))).amount

    for quality, factor in (("low", 3.5), ("medium", 3.5), ("high", 1.0)):
        two_five, two_six = at("gpt-image-2.5-flare", quality), at("gpt-image-2.6-flare", quality)
        assert two_five is not None and two_six == pytest.approx(two_five * factor, rel=1e-3), quality
    assert at("gpt-image-2.5-flare", "medium") == pytest.approx(0.053, abs=1e-4)
    svg = estimate(
        Ask(
            "gpt-image-2.6-flare",
            CATALOG.lookup("gpt-image-2.6-flare"),
            ImageOptions.of(quality="low", output_format="svg"),
        )
    )
    png = estimate(
        Ask(
            "gpt-image-2.6-flare",
            CATALOG.lookup("gpt-image-2.6-flare"),
            ImageOptions.of(quality="low", output_format="png"),
        )
    )
    assert svg.amount == png.amount and "lower bound" in svg.basis and "authoring model" in svg.basis
    assert "lower bound" not in png.basis


def test_a_call_rebuilt_from_sidecars_sums_their_costs() -> None:
    assert stored_cost([{"amount": 0.1}, {"amount": 0.2}]).amount == pytest.approx(0.3)  # type: ignore[union-attr]
    assert stored_cost([{"amount": 0.1}, {"amount": None}]).amount is None  # type: ignore[union-attr]
    assert stored_cost([None]) is None
