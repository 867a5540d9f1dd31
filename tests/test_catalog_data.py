"""The catalog as data: the shipped models.toml says what December 2026 is, and a user file can change it."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from mcp_server_images.backends.base import ImageRequest
from mcp_server_images.backends.openai_images import edit_fields, generation_body
from mcp_server_images.catalog.catalog import Catalog
from mcp_server_images.catalog.load import SHIPPED, CatalogError
from mcp_server_images.catalog.options import ImageOptions, option
from mcp_server_images.catalog.spec import Api, Family, ImageEndpoint, ModelKind, ModelSpec, Prices, Status
from mcp_server_images.cli import load_settings
from mcp_server_images.errors import ParameterError
from mcp_server_images.providers import ProviderKind
from mcp_server_images.settings import Settings

CATALOG = Catalog.load()
IMAGE_MODELS = [
    "gpt-image-2.6-flare",
    "gpt-image-2.6-sunburst",
    "gpt-image-2.5-flare",
    "gpt-image-2.5-sunburst",
    "gpt-image-2",
    "gpt-image-1.5",
    "gpt-image-1-mini",
    "chatgpt-image-latest",
    "gpt-image-1",
    "dall-e-3",
    "dall-e-2",
    "gemini-nano-banana-2.1",
    "gemini-3-pro-image",
    "gemini-3.1-flash-lite-image",
    "gemini-3.1-flash-image",
    "gemini-2.5-flash-image",
    # The providers' own models, in their blocks after the vendors' models.
    "grok-imagine-image-2.0",
    "mai-image-2.7",
]
VISION_MODELS = [
    "gpt-6-luna",
    "gpt-6.1-sol",
    "gpt-6.1-terra",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4o",
    "gpt-4o-mini",
]
CURRENT_PRICES = Prices(text_input=5.0, text_cached=1.25, image_input=8.0, image_cached=2.0, image_output=30.0)


def user_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(catalog: Catalog, model: str, endpoint: ImageEndpoint, **options: object) -> str:
    with pytest.raises(ParameterError) as caught:
        catalog.validate(model, endpoint, "a lighthouse", ImageOptions.from_arguments(options))
    return str(caught.value)


def values(spec: ModelSpec, name: str, endpoint: ImageEndpoint = ImageEndpoint.GENERATIONS) -> tuple[str, ...]:
    """What the model takes for an option, as the option table reads its entry."""
    return option(name).values(spec, endpoint)


# --- the shipped table --------------------------------------------------------------------------------------------


def test_the_shipped_file_lists_every_model_in_order() -> None:
    assert [spec.name for spec in CATALOG.of_kind(ModelKind.IMAGE)] == IMAGE_MODELS
    assert [spec.name for spec in CATALOG.of_kind(ModelKind.VISION)] == VISION_MODELS
    assert SHIPPED.name == "models.toml" and SHIPPED.parent.name == "catalog"


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("gpt-image-2-2026-04-21", "gpt-image-2"),
        ("gpt-image-2.5-flare-2026-09-08", "gpt-image-2.5-flare"),
        ("gpt-image-2.5-sunburst-2026-09-08", "gpt-image-2.5-sunburst"),
        ("gpt-image-1.5-2025-12-16", "gpt-image-1.5"),
        ("openai/gpt-image-2.6-flare", "gpt-image-2.6-flare"),
        ("OpenAI/GPT-4o-mini", "gpt-4o-mini"),
        ("gpt-image-2.6-sunburst-2027-01-01", "gpt-image-2.6-sunburst"),
    ],
)
def test_aliases_prefixes_and_snapshots_find_their_model(typed: str, canonical: str) -> None:
    spec = CATALOG.lookup(typed)
    assert spec is not None and spec.name == canonical


@pytest.mark.parametrize(
    ("model", "status", "shutdown", "replacements"),
    [
        ("dall-e-2", Status.SHUT_DOWN, date(2026, 5, 12), ["gpt-image-2.6-flare", "gpt-image-2.6-sunburst"]),
        ("dall-e-3", Status.SHUT_DOWN, date(2026, 5, 12), ["gpt-image-2.6-flare", "gpt-image-2.6-sunburst"]),
        (
            "gpt-image-1",
            Status.SHUT_DOWN,
            date(2026, 10, 23),
            ["gpt-image-2.6-flare", "gpt-image-2.6-sunburst", "gpt-image-2.5-sunburst"],
        ),
        ("gpt-image-1.5", Status.DEPRECATED, date(2026, 12, 1), ["gpt-image-2.6-flare", "gpt-image-2.6-sunburst"]),
        ("gpt-image-1-mini", Status.DEPRECATED, date(2026, 12, 1), ["gpt-image-2.6-flare", "gpt-image-2.6-sunburst"]),
        (
            "chatgpt-image-latest",
            Status.DEPRECATED,
            date(2026, 12, 1),
            ["gpt-image-2.6-flare", "gpt-image-2.6-sunburst"],
        ),
        ("gpt-image-2", Status.ACTIVE, None, []),
        ("gpt-image-2.6-flare", Status.ACTIVE, None, []),
        ("gpt-4o-mini", Status.DEPRECATED, date(2027, 1, 14), ["gpt-6-luna"]),
        ("gpt-4.1", Status.DEPRECATED, date(2027, 1, 14), ["gpt-6-luna"]),
        ("gpt-6-luna", Status.ACTIVE, None, []),
        ("gpt-5", Status.DEPRECATED, date(2026, 12, 11), ["gpt-6.1-sol", "gpt-6.1-terra"]),
        ("gpt-5-mini", Status.DEPRECATED, date(2026, 12, 11), ["gpt-6.1-sol", "gpt-6.1-terra"]),
        ("gpt-5-nano", Status.DEPRECATED, date(2026, 12, 11), ["gpt-6.1-sol", "gpt-6.1-terra"]),
        ("gemini-3.1-flash-image", Status.SHUT_DOWN, date(2026, 10, 29), ["gemini-nano-banana-2.1"]),
        ("gemini-2.5-flash-image", Status.SHUT_DOWN, date(2026, 10, 2), ["gemini-nano-banana-2.1"]),
        ("gemini-nano-banana-2.1", Status.ACTIVE, None, []),
    ],
)
def test_lifecycle_on_openai(model: str, status: Status, shutdown: date | None, replacements: list[str]) -> None:
    spec = CATALOG.lookup(model)
    assert spec is not None
    assert (spec.lifecycle.status, spec.lifecycle.shutdown) == (status, shutdown)
    assert [r.model for r in spec.lifecycle.replacements] == replacements


def test_every_named_replacement_is_active_so_advice_never_points_at_a_dead_end() -> None:
    for spec in CATALOG:
        for replacement in spec.lifecycle.replacements:
            target = CATALOG.lookup(replacement.model)
            assert target is not None and target.lifecycle.status is Status.ACTIVE, (spec.name, replacement)
            assert target.kind is spec.kind


def test_the_default_models_have_no_announced_shutdown() -> None:
    """Nor does the Responses API's mainline model: gpt-5, gpt-5-mini and gpt-5-nano shut down on 2026-12-11, and no
    default depends on them; nor does any fallback of the catalog's defaults."""
    settings = Settings()
    for configured, kind in (
        (settings.default_model, ModelKind.IMAGE),
        (settings.vision_model, ModelKind.VISION),
        (settings.responses_model, ModelKind.VISION),
    ):
        spec = CATALOG.lookup(configured)
        assert spec is not None and spec.kind is kind
        assert spec.lifecycle.status is Status.ACTIVE and spec.lifecycle.shutdown is None
        assert spec.lifecycle.reported_shutdown is None
    for kind in ModelKind:
        for name in CATALOG.defaults(kind):
            spec = CATALOG.lookup(name)
            assert spec is not None and spec.lifecycle.shutdown is None and not name.startswith("gpt-5"), name
    assert CATALOG.defaults(ModelKind.IMAGE)[0] == settings.default_model
    assert CATALOG.defaults(ModelKind.VISION)[0] == settings.vision_model


def test_dall_e_3_advice_names_both_2_6_models() -> None:
    spec = CATALOG.lookup("dall-e-3")
    assert spec is not None
    assert spec.lifecycle.advice() == "use gpt-image-2.6-flare (fast) or gpt-image-2.6-sunburst (best quality)"


def test_prices_are_given_only_where_published() -> None:
    priced = {spec.name: spec.prices for spec in CATALOG if spec.prices is not None}
    gemini = (
        "gemini-nano-banana-2.1",
        "gemini-3-pro-image",
        "gemini-3.1-flash-lite-image",
        "gemini-3.1-flash-image",
        "gemini-2.5-flash-image",
    )
    assert priced == {
        name: CURRENT_PRICES
        for name in ("gpt-image-2.6-flare", "gpt-image-2.6-sunburst", "gpt-image-2.5-flare", "gpt-image-2.5-sunburst")
    } | {"gpt-image-2": CURRENT_PRICES} | {name: Prices(image_output=30.0) for name in gemini}


def test_facts_of_december_2026() -> None:
    """World-2026-12: 2.6's own token use and SVG surcharge, gpt-image-2's reported (unconfirmed) shutdown, Azure's
    own date for gpt-image-1.5, and the serial and date of the shipped catalog."""
    flare, two_five = CATALOG.lookup("gpt-image-2.6-flare"), CATALOG.lookup("gpt-image-2.5-flare")
    assert flare is not None and two_five is not None
    assert dict(flare.estimate_tokens) == {"low": 700, "medium": 6185, "high": 7033}
    assert dict(two_five.estimate_tokens) == {"low": 200, "medium": 1767, "high": 7033}
    assert "svg" in flare.estimate_leaves_out and not two_five.estimate_leaves_out
    two = CATALOG.lookup("gpt-image-2-2026-04-21")
    assert two is not None and two.lifecycle.status is Status.ACTIVE and two.lifecycle.shutdown is None
    assert (two.lifecycle.reported_shutdown, two.lifecycle.reported_by) == (
        date(2027, 2, 10),
        "contentforge release v4.7.1, one source",
    )
    one_five = CATALOG.lookup("gpt-image-1.5")
    assert one_five is not None
    azure = one_five.lifecycle_at("azure")
    assert (azure.owner, azure.status, azure.shutdown) == (
        "Microsoft (Azure OpenAI)",
        Status.DEPRECATED,
        date(2026, 12, 16),
    )
    assert azure.replacements == one_five.lifecycle.replacements
    assert one_five.lifecycle_at("openai").shutdown == date(2026, 12, 1)
    assert (CATALOG.in_force.serial, CATALOG.in_force.published) == (2026120700, date(2026, 12, 7))


def test_what_the_new_models_take() -> None:
    flare = CATALOG.lookup("gpt-image-2.6-flare")
    assert flare is not None
    assert values(flare, "quality") == ("auto", "low", "medium", "high", "xhigh", "max")
    assert values(flare, "complexity") == ("low", "medium", "high")
    assert values(flare, "output_format") == ("png", "jpeg", "webp", "gif", "svg")
    assert values(flare, "output_format", ImageEndpoint.EDITS) == ("png", "jpeg", "webp")
    assert "transparent" in values(flare, "background")
    assert (flare.streaming, flare.max_partial_images, flare.max_edit_images) == (True, 3, 16)
    assert values(flare, "input_fidelity", ImageEndpoint.EDITS) == ("high", "low")
    two = CATALOG.lookup("gpt-image-2")
    assert two is not None and values(two, "background") == ("auto", "opaque") and values(two, "complexity") == ()
    assert two.free_size is not None and two.free_size.min_pixels == 655_360
    mini = CATALOG.lookup("gpt-image-1-mini")
    assert mini is not None and values(mini, "input_fidelity", ImageEndpoint.EDITS) == ()
    dalle = CATALOG.lookup("dall-e-3")
    assert dalle is not None and dalle.family is Family.DALL_E and dalle.n_per_request == 1
    luna = CATALOG.lookup("gpt-6-luna")
    assert luna is not None and luna.family is Family.CHAT and luna.endpoints == frozenset()


@pytest.mark.parametrize(
    ("model", "endpoint", "options", "message"),
    [
        (
            "gpt-image-2.6-flare",
            ImageEndpoint.EDITS,
            {"output_format": "gif"},
            "output_format 'gif' is not valid for gpt-image-2.6-flare edits. Use one of: png, jpeg, webp. "
            "output_format 'gif' is available for image generations only "
            "(gpt-image-2.6-flare, gpt-image-2.6-sunburst).",
        ),
        (
            "gpt-image-2.5-sunburst",
            ImageEndpoint.EDITS,
            {"complexity": "high"},
            "complexity is not supported by gpt-image-2.5-sunburst; leave it out. Models that take it: "
            "gpt-image-2.6-flare, gpt-image-2.6-sunburst.",
        ),
        (
            "gpt-image-2.6-sunburst",
            ImageEndpoint.GENERATIONS,
            {"complexity": "extreme"},
            "complexity 'extreme' is not valid for gpt-image-2.6-sunburst. Use one of: low, medium, high.",
        ),
        (
            "dall-e-2",
            ImageEndpoint.GENERATIONS,
            {"style": "vivid"},
            "style is not supported by dall-e-2; leave it out. Models that take it: dall-e-3.",
        ),
        (
            "gpt-image-1-mini",
            ImageEndpoint.EDITS,
            {"input_fidelity": "high"},
            "input_fidelity is not supported by gpt-image-1-mini; leave it out. Models that take it: "
            "gpt-image-2.6-flare, gpt-image-2.6-sunburst, gpt-image-2.5-flare, gpt-image-2.5-sunburst, gpt-image-2.",
        ),
        (
            "gpt-image-2",
            ImageEndpoint.GENERATIONS,
            {"size": "8000x2000"},
            "size '8000x2000' is not valid for gpt-image-2: the aspect ratio must be between 1:3 and 3:1.",
        ),
    ],
)
def test_per_model_checks_name_the_valid_values_and_the_models(
    model: str, endpoint: ImageEndpoint, options: dict[str, object], message: str
) -> None:
    assert refusal(CATALOG, model, endpoint, **options) == message


def test_valid_new_parameters_pass() -> None:
    options = ImageOptions.of(quality="max", complexity="low", output_format="svg", size="2048x1152")
    spec = CATALOG.validate("gpt-image-2.6-sunburst", ImageEndpoint.GENERATIONS, "a fox", options)
    assert spec is not None and spec.name == "gpt-image-2.6-sunburst"
    assert CATALOG.validate("acme/imagine-9", ImageEndpoint.GENERATIONS, "x", ImageOptions.of(quality="max")) is None


def test_hints_name_the_longest_lived_models_that_take_a_value() -> None:
    assert CATALOG.models_supporting("background", "transparent") == [
        "gpt-image-2.6-flare",
        "gpt-image-2.6-sunburst",
        "gpt-image-2.5-flare",
        "gpt-image-2.5-sunburst",
    ]
    assert CATALOG.models_supporting("style") == ["dall-e-3"], "only shut-down models take it, so they are named"
    assert CATALOG.models_supporting(endpoint=ImageEndpoint.VARIATIONS) == ["dall-e-2"]


def test_names_on_the_wire() -> None:
    assert Catalog.wire_name("openai/gpt-image-2", ProviderKind.OPENAI) == "gpt-image-2"
    assert Catalog.wire_name("gpt-image-2", ProviderKind.DEDALUS) == "openai/gpt-image-2"
    assert Catalog.wire_name(" acme/x ", ProviderKind.CUSTOM) == "acme/x"
    assert Catalog.canonical_name("openai/gpt-6-luna") == "gpt-6-luna"


def test_complexity_reaches_the_wire_on_both_endpoints() -> None:
    options = ImageOptions.of(complexity="medium", quality="xhigh")
    spec = CATALOG.lookup("gpt-image-2.6-flare")
    body = generation_body(ImageRequest("gpt-image-2.6-flare", "p", options, spec))
    fields = edit_fields(ImageRequest("gpt-image-2.6-flare", "p", options, spec))
    assert body["complexity"] == fields["complexity"] == "medium"
    assert body["quality"] == fields["quality"] == "xhigh"
    assert "complexity" not in generation_body(
        ImageRequest("gpt-image-2", "p", ImageOptions(), CATALOG.lookup("gpt-image-2"))
    )


# --- the user's file ----------------------------------------------------------------------------------------------


def test_a_user_file_changes_some_fields_of_a_model_and_adds_a_gateway_model(tmp_path: Path) -> None:
    path = user_file(
        tmp_path,
        """
[models."gpt-image-2-2026-04-21"]   # an alias names the model it belongs to
backgrounds = ["auto", "opaque", "transparent"]
remarks = {}

[models."acme/imagine-9"]
extends = "gpt-image-2"
aliases = ["imagine-9"]
qualities = ["draft", "final"]
prices = { image_output = 12.5 }

[defaults]
image = ["imagine-9", "gpt-image-2"]
""",
    )
    catalog = Catalog.load(path)

    two = catalog.lookup("gpt-image-2")
    assert two is not None and "transparent" in values(two, "background")
    assert two.max_edit_images == 16 and two.lifecycle.status is Status.ACTIVE, "the other fields are kept"
    catalog.validate("gpt-image-2", ImageEndpoint.GENERATIONS, "x", ImageOptions.of(background="transparent"))
    imagine = catalog.lookup("imagine-9")
    assert imagine is not None and imagine.name == "acme/imagine-9"
    assert values(imagine, "quality") == ("draft", "final") and imagine.free_size == two.free_size
    assert imagine.aliases == ("imagine-9",) and imagine.prices == Prices(image_output=12.5)
    assert imagine.lifecycle.status is Status.ACTIVE
    assert catalog.defaults(ModelKind.IMAGE) == ("acme/imagine-9", "gpt-image-2")
    assert catalog.defaults(ModelKind.VISION) == CATALOG.defaults(ModelKind.VISION)
    assert (
        refusal(catalog, "imagine-9", ImageEndpoint.GENERATIONS, quality="high")
        == "quality 'high' is not valid for acme/imagine-9. Use one of: draft, final. Models that take quality "
        "'high': gpt-image-2.6-flare, gpt-image-2.6-sunburst, gpt-image-2.5-flare, gpt-image-2.5-sunburst, "
        "gpt-image-2."
    )


def test_the_models_file_is_a_setting_and_a_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = user_file(tmp_path, '[models."gpt-image-2"]\nmax_n = 4\n')
    assert load_settings(["--models-file", str(path)]).models_file == path
    monkeypatch.setenv("MCP_IMAGES_MODELS_FILE", str(path))
    monkeypatch.setenv("MCP_IMAGES_MODELS_REFRESH_HOURS", "0.5")
    settings = Settings()
    assert settings.models_file == path and settings.models_refresh_hours == 0.5
    catalog = Catalog.load(settings.models_file)
    assert refusal(catalog, "gpt-image-2", ImageEndpoint.GENERATIONS, n=5) == (
        "n must be between 1 and 4 for gpt-image-2, got 5."
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[models."gpt-image-2"]\nqualites = ["low"]\n',
            "unknown field(s) qualites. Known fields:",
        ),
        ('[models."gpt-image-2"]\nmax_n = "ten"\n', "max_n must be a whole number of 0 or more, not 'ten'."),
        ('[models."gpt-image-2"]\nmax_n = 0\n', "max_n must be 1 or more, not 0."),
        ('[models."gpt-image-2"]\nqualities = "low"\n', 'qualities must be a list of strings, e.g. ["a", "b"].'),
        ('[models."gpt-image-2"]\nendpoints = ["paint"]\n', "endpoints is 'paint'; use one of: generations, edits"),
        ('[models."gpt-image-2"]\nstatus = "retired"\n', "status is 'retired'; use one of: active, deprecated"),
        ('[models."gpt-image-2"]\nstatus = "deprecated"\n', "a deprecated model needs its shutdown date"),
        ('[models."gpt-image-2"]\nshutdown = "2027-01-01"\n', "shutdown must be a TOML date such as 2026-12-01"),
        ('[models."new-model"]\nsizes = ["1024x1024"]\n', "missing kind, family, api (or extend a model"),
        ('[models."a"]\nextends = "b"\n[models."b"]\nextends = "a"\n', "extends goes round in a circle (a -> b -> a)"),
        ('[models."a"]\nextends = "nothing"\n', "extends 'nothing', which is not a model in the catalog."),
        (
            '[models."gpt-image-2"]\nreplacements = [{ model = "gpt-9" }]\n',
            "replacement 'gpt-9' is not a model in the catalog.",
        ),
        ('[models."x"]\nextends = "gpt-image-2"\naliases = ["dall-e-3-hd", "gpt-image-1"]\n', "already belongs to"),
        ('[defaults]\nimage = ["gpt-4o"]\n', "image lists 'gpt-4o', which is not a catalogued image model."),
        ("[providers]\nx = 1\n", "unknown top-level keys ['providers']"),
        ('[models."gpt-image-2"\n', "is not valid TOML"),
        ('[models."gpt-image-2"]\nprices = { image_output = "cheap" }\n', "must be a price in USD per 1M tokens"),
    ],
)
def test_mistakes_in_a_user_file_name_the_file_and_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = user_file(tmp_path, text)
    with pytest.raises(CatalogError) as caught:
        Catalog.load(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_user_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"Cannot read the models file .*nowhere\.toml"):
        Catalog.load(tmp_path / "nowhere.toml")


def test_the_readme_example_of_a_models_file_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    [example] = [block for block in re.findall(r"```toml\n(.*?)```", readme, re.S) if "acme/imagine-9" in block]
    user_file = tmp_path / "models.toml"
    user_file.write_text(example)
    catalog = Catalog.load(user_file)
    gateway_model = catalog.lookup("acme/imagine-9")
    assert gateway_model is not None and values(gateway_model, "size") == ("1024x1024", "2048x2048")
    changed = catalog.lookup("gpt-image-2.5-flare")
    assert changed is not None and changed.lifecycle.status is Status.DEPRECATED


def test_the_readme_example_of_a_chat_routed_gateway_model_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    [example] = [block for block in re.findall(r"```toml\n(.*?)```", readme, re.S) if "acme/painter-image" in block]
    user_file = tmp_path / "models.toml"
    user_file.write_text("\n".join(line.strip() for line in example.splitlines()))
    painter = Catalog.load(user_file).lookup("acme/painter-image")
    assert painter is not None and painter.usable_apis == (Api.CHAT,) and painter.max_edit_images == 2


def test_catalogued_apis_vendors_and_image_config() -> None:
    gemini = CATALOG.lookup("google/gemini-nano-banana-2.1")
    assert gemini is not None and (gemini.vendor, gemini.image_config, gemini.usable_apis) == (
        "google",
        True,
        (Api.CHAT,),
    )
    for name in ("gemini-2.5-flash-image", "gemini-3.1-flash-image"):
        retired = CATALOG.lookup(name)
        assert retired is not None and retired.lifecycle.owner == "Google"
        assert retired.lifecycle.status is Status.SHUT_DOWN
    gpt = CATALOG.lookup("gpt-image-2.6-flare")
    assert gpt is not None and gpt.usable_apis == (Api.IMAGES, Api.RESPONSES)
    dall_e = CATALOG.lookup("dall-e-3")
    assert dall_e is not None and dall_e.usable_apis == (Api.IMAGES,)
    assert (
        Catalog.wire_name("gemini-nano-banana-2.1", ProviderKind.DEDALUS, "google") == "google/gemini-nano-banana-2.1"
    )
