"""The catalog's checks, called directly: names in every spelling, size strings, the free-size rule and validate.

The free-size rule is also checked against the emulator's own reading of the API, so the two cannot drift apart.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_server_images.catalog.catalog import Catalog
from mcp_server_images.catalog.options import ImageOptions
from mcp_server_images.catalog.sizes import parse_size
from mcp_server_images.catalog.spec import FreeSizeRule, ImageEndpoint
from mcp_server_images.errors import ParameterError
from mcp_server_images.providers import ProviderKind
from tests.fake_openai.rules import _free_size_ok

CATALOG = Catalog.load()
lookup, validate = CATALOG.lookup, CATALOG.validate
canonical_name, wire_name = Catalog.canonical_name, Catalog.wire_name
RULE = FreeSizeRule(min_pixels=655_360)
"""gpt-image-2's rule, as models.toml gives it."""


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("gpt-image-1", "gpt-image-1"),
        ("openai/gpt-image-1", "gpt-image-1"),
        ("OpenAI/GPT-Image-1", "gpt-image-1"),
        ("  dall-e-3 ", "dall-e-3"),
        ("gpt-image-2-2026-04-21", "gpt-image-2"),
        ("openai/gpt-image-1-mini-2025-10-06", "gpt-image-1-mini"),
        ("gpt-image-1.5", "gpt-image-1.5"),
    ],
)
def test_lookup_finds_every_spelling(typed: str, found: str) -> None:
    spec = lookup(typed)
    assert spec is not None
    assert spec.name == found


@pytest.mark.parametrize("typed", ["acme/imagine-9", "gpt-image-3", "dall-e-3-hd", "gpt-image-1-2025", ""])
def test_lookup_leaves_unknown_models_alone(typed: str) -> None:
    assert lookup(typed) is None


@pytest.mark.parametrize(
    ("model", "provider", "wire"),
    [
        ("openai/gpt-image-1", ProviderKind.OPENAI, "gpt-image-1"),
        ("gpt-image-1", ProviderKind.OPENAI, "gpt-image-1"),
        ("gpt-image-1", ProviderKind.DEDALUS, "openai/gpt-image-1"),
        ("openai/gpt-image-1", ProviderKind.DEDALUS, "openai/gpt-image-1"),
        ("acme/imagine-9", ProviderKind.DEDALUS, "acme/imagine-9"),
        (" openai/gpt-image-1 ", ProviderKind.CUSTOM, "openai/gpt-image-1"),
    ],
)
def test_wire_names_follow_the_provider(model: str, provider: ProviderKind, wire: str) -> None:
    assert wire_name(model, provider) == wire


def test_canonical_name_drops_only_the_openai_prefix() -> None:
    assert canonical_name("openai/dall-e-2") == "dall-e-2"
    assert canonical_name("acme/dall-e-2") == "acme/dall-e-2"


@pytest.mark.parametrize(
    ("size", "parsed"),
    [
        ("1024x1024", (1024, 1024)),
        (" 1536X1024 ", (1536, 1024)),
        ("auto", None),
        ("1024", None),
        ("1024x", None),
        ("0x1024", None),
        ("01024x1024", None),
        ("1024x1024x3", None),
        ("-16x16", None),
        ("123456x16", None),
        ("1024 x 1024", None),
    ],
)
def test_parse_size(size: str, parsed: tuple[int, int] | None) -> None:
    assert parse_size(size) == parsed


@pytest.mark.parametrize(
    ("width", "height", "problem"),
    [
        (1024, 1024, None),
        (3840, 2160, None),
        (1024, 3072, None),
        (3072, 1024, None),
        (1000, 1024, "both sides must be multiples of 16"),
        (1024, 3088, "the aspect ratio must be between 1:3 and 3:1"),
        (3856, 1536, "the long side must be at most 3840 px"),
        (3840, 2176, "at most 8,294,400 pixels in total"),
        (512, 512, "at least 655,360 pixels in total (e.g. 1024x640)"),
    ],
)
def test_free_size_rule_boundaries(width: int, height: int, problem: str | None) -> None:
    assert RULE.problem(width, height) == problem


sides = st.one_of(
    st.integers(min_value=1, max_value=5000), st.integers(min_value=1, max_value=300).map(lambda k: 16 * k)
)


@settings(max_examples=200, deadline=None)
@given(width=sides, height=sides)
def test_the_free_size_rule_agrees_with_the_emulator(width: int, height: int) -> None:
    assert (RULE.problem(width, height) is None) == _free_size_ok(f"{width}x{height}")


def test_validate_returns_the_spec_or_none_for_unknown_models() -> None:
    spec = validate("openai/gpt-image-2", ImageEndpoint.GENERATIONS, "a cat", ImageOptions.of(size="1536x864"))
    assert spec is not None and spec.name == "gpt-image-2"
    assert validate("acme/imagine-9", ImageEndpoint.EDITS, "a cat", ImageOptions.of(size="2000x1000")) is None


@pytest.mark.parametrize(
    ("model", "endpoint", "prompt", "options", "param", "message"),
    [
        (
            "dall-e-3",
            ImageEndpoint.EDITS,
            "a cat",
            ImageOptions(),
            "model",
            "dall-e-3 does not support image edits. Models that do: ",
        ),
        (
            "gpt-image-1",
            ImageEndpoint.VARIATIONS,
            None,
            ImageOptions(),
            "model",
            "gpt-image-1 does not support image variations. Models that do: dall-e-2.",
        ),
        ("acme/imagine-9", ImageEndpoint.GENERATIONS, "a cat", ImageOptions(n=0), "n", "n must be between 1 and 10"),
        ("acme/imagine-9", ImageEndpoint.GENERATIONS, "a cat", ImageOptions(n=11), "n", "n must be between 1 and 10"),
        (
            "acme/imagine-9",
            ImageEndpoint.GENERATIONS,
            "a cat",
            ImageOptions.of(output_compression=-1),
            "output_compression",
            "output_compression must be between 0 and 100, got -1.",
        ),
        (
            "dall-e-2",
            ImageEndpoint.EDITS,
            "a cat",
            ImageOptions.of(size="1792x1024"),
            "size",
            "size '1792x1024' is not valid for dall-e-2 edits. Use one of: 256x256, 512x512, 1024x1024.",
        ),
        (
            "gpt-image-2",
            ImageEndpoint.GENERATIONS,
            "a cat",
            ImageOptions.of(size="3840x2176"),
            "size",
            "size '3840x2176' is not valid for gpt-image-2: at most 8,294,400 pixels in total.",
        ),
        (
            "gpt-image-1-mini",
            ImageEndpoint.EDITS,
            "a cat",
            ImageOptions.of(input_fidelity="high"),
            "input_fidelity",
            "input_fidelity is not supported by gpt-image-1-mini; leave it out. Models that take it: gpt-image-2",
        ),
        (
            "gpt-image-1",
            ImageEndpoint.EDITS,
            "a cat",
            ImageOptions.of(input_fidelity="max"),
            "input_fidelity",
            "input_fidelity 'max' is not valid for gpt-image-1. Use one of: high, low.",
        ),
        (
            "gpt-image-1",
            ImageEndpoint.GENERATIONS,
            "a cat",
            ImageOptions.of(output_format="jpeg", background="transparent"),
            "background",
            "a transparent background needs output_format 'png' or 'webp'",
        ),
    ],
)
def test_validate_names_the_parameter_and_what_is_valid(
    model: str, endpoint: ImageEndpoint, prompt: str | None, options: ImageOptions, param: str, message: str
) -> None:
    with pytest.raises(ParameterError) as refused:
        validate(model, endpoint, prompt, options)

    assert refused.value.param == param
    assert str(refused.value).startswith(message)


def test_only_gpt_image_2_takes_free_sizes_and_for_edits_too() -> None:
    with pytest.raises(ParameterError) as refused:
        validate("gpt-image-1", ImageEndpoint.EDITS, "a cat", ImageOptions.of(size="1536x864"))
    assert str(refused.value) == (
        "size '1536x864' is not valid for gpt-image-1 edits. Use one of: 1024x1024, 1536x1024, 1024x1536, auto."
    )
    spec = validate("gpt-image-2", ImageEndpoint.EDITS, "a cat", ImageOptions.of(size="2048x1152"))
    assert spec is not None and spec.name == "gpt-image-2"


def test_a_variation_without_prompt_skips_the_prompt_checks() -> None:
    spec = validate("dall-e-2", ImageEndpoint.VARIATIONS, None, ImageOptions.of(n=3, size="256x256"))
    assert spec is not None and spec.name == "dall-e-2"
