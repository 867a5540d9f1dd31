"""ModelDirectory: the provider's model list, asked lazily, cached, refreshed, and never a reason to fail a call.

The first half drives it with a scripted lister and an injected clock; the second asks the emulator's
`GET /v1/models` over real HTTP, in each of the shapes providers answer (a list, 404, 401, HTML, no server).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime

import anyio
import pytest
from pydantic import SecretStr

from mcp_server_images.backends.client import UpstreamClient
from mcp_server_images.backends.errors import UpstreamError
from mcp_server_images.backends.model_list import ModelsAPI
from mcp_server_images.backends.redact import Redactor
from mcp_server_images.backends.retry import RetryPolicy
from mcp_server_images.catalog.catalog import Catalog
from mcp_server_images.catalog.discovery import DefaultChoice, ModelDirectory
from mcp_server_images.catalog.spec import ModelKind, ServedModel
from mcp_server_images.errors import ImageServerError
from mcp_server_images.providers import ProviderKind, endpoint_of
from mcp_server_images.settings import Settings
from mcp_server_images.telemetry import Telemetry
from tests.fake_openai import Emulator
from tests.support.clock import FrozenClock
from tests.support.servers import SettingsFactory, free_port

pytestmark = pytest.mark.anyio

CATALOG = Catalog.load()
TODAY = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HOUR = 3600.0
DISCOVERY_LOG = "mcp_server_images.catalog.discovery"
OPENAI_TODAY = [
    "gpt-image-2.6-flare",
    "gpt-image-2.6-sunburst",
    "gpt-image-2.5-flare",
    "gpt-image-2.5-sunburst",
    "gpt-image-2",
    "gpt-6-luna",
    "gpt-4o-mini",
]


class Monotonic:
    """The directory's monotonic clock (how old its list is), moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Lister:
    """A provider's model list as a script: the models it answers, or the error it raises; counts the calls."""

    def __init__(self, models: Sequence[str | ServedModel] = (), error: ImageServerError | None = None) -> None:
        self.models = list(models)
        self.error = error
        self.calls = 0
        self.gate: anyio.Event | None = None

    async def __call__(self) -> list[ServedModel]:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return [m if isinstance(m, ServedModel) else ServedModel(m) for m in self.models]


def directory(
    lister: Lister, provider: ProviderKind = ProviderKind.OPENAI, monotonic: Monotonic | None = None
) -> ModelDirectory:
    return ModelDirectory(
        CATALOG,
        lister,
        provider=provider,
        refresh_after=6 * HOUR,
        clock=FrozenClock(TODAY),
        monotonic=monotonic or Monotonic(),
    )


def warnings_from_discovery(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == DISCOVERY_LOG and r.levelno == logging.WARNING]


# --- caching and sharing ------------------------------------------------------------------------------------------


async def test_the_list_is_asked_only_when_a_question_needs_it_then_cached() -> None:
    lister = Lister(OPENAI_TODAY)
    models = directory(lister)
    assert lister.calls == 0, "building the directory (at start-up) asks nothing"

    assert await models.is_served("gpt-image-2") is True
    assert await models.is_served("openai/gpt-image-2.6-flare") is True
    assert await models.is_served("dall-e-3") is False
    assert lister.calls == 1


async def test_the_list_is_refreshed_after_the_ttl() -> None:
    clock = Monotonic()
    lister = Lister(["gpt-image-2"])
    models = directory(lister, monotonic=clock)
    assert await models.is_served("gpt-image-2.6-flare") is False

    lister.models = ["gpt-image-2", "gpt-image-2.6-flare"]
    clock.now += 6 * HOUR - 1
    assert await models.is_served("gpt-image-2.6-flare") is False, "still within the TTL"
    clock.now += 2
    assert await models.is_served("gpt-image-2.6-flare") is True
    assert lister.calls == 2


async def test_concurrent_questions_share_one_request() -> None:
    lister = Lister(OPENAI_TODAY)
    lister.gate = anyio.Event()
    models = directory(lister)
    answers: list[bool | None] = []

    async def ask() -> None:
        answers.append(await models.is_served("gpt-image-2"))

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        assert lister.calls == 1
        lister.gate.set()
    assert answers == [True] * 5
    assert lister.calls == 1


async def test_a_failing_list_means_unknown_and_is_logged_once_per_state(caplog: pytest.LogCaptureFixture) -> None:
    clock = Monotonic()
    lister = Lister(error=UpstreamError("Invalid URL (GET /v1/models)", status=404))
    models = directory(lister, provider=ProviderKind.CUSTOM, monotonic=clock)

    assert await models.is_served("gpt-image-2") is None
    clock.now += 7 * HOUR
    assert await models.is_served("gpt-image-2") is None
    assert lister.calls == 2
    assert len(warnings_from_discovery(caplog)) == 1, "the same failure twice is logged once"
    assert "(HTTP 404)" in warnings_from_discovery(caplog)[0]

    lister.error = UpstreamError("Could not reach the image API")
    clock.now += 7 * HOUR
    assert await models.is_served("gpt-image-2") is None
    assert len(warnings_from_discovery(caplog)) == 2
    assert "(unreachable)" in warnings_from_discovery(caplog)[1]

    lister.error = None
    lister.models = ["gpt-image-2"]
    clock.now += 7 * HOUR
    assert await models.is_served("gpt-image-2") is True
    assert len(warnings_from_discovery(caplog)) == 2, "recovering is not a warning"


async def test_a_list_that_later_fails_keeps_the_last_known_answer() -> None:
    clock = Monotonic()
    lister = Lister(["gpt-image-2"])
    models = directory(lister, monotonic=clock)
    assert await models.is_served("gpt-image-2") is True
    lister.error = UpstreamError("overloaded", status=503)
    clock.now += 7 * HOUR
    assert await models.is_served("gpt-image-2") is True


# --- answers ------------------------------------------------------------------------------------------------------


async def test_the_providers_shutdown_date_wins_over_the_catalogs() -> None:
    lister = Lister([ServedModel("gpt-4o-mini", date(2027, 2, 1)), ServedModel("gpt-image-2")])
    models = directory(lister)

    assert await models.shutdown_date("gpt-4o-mini") == date(2027, 2, 1)
    assert await models.shutdown_date("gpt-4o") == date(2027, 1, 14), "not listed: the catalog's date"
    assert await models.shutdown_date("gpt-image-2") is None
    assert await models.shutdown_date("acme/imagine-9") is None


@pytest.mark.parametrize(
    ("provider", "served", "configured", "kind", "expected"),
    [
        (
            ProviderKind.OPENAI,
            OPENAI_TODAY,
            "gpt-image-2.6-flare",
            ModelKind.IMAGE,
            DefaultChoice("gpt-image-2.6-flare"),
        ),
        (
            ProviderKind.OPENAI,
            OPENAI_TODAY,
            "gpt-image-1",
            ModelKind.IMAGE,
            DefaultChoice(
                "gpt-image-2.6-flare",
                "gpt-image-1 is not served by this provider (shut down 2026-10-23); using gpt-image-2.6-flare, "
                "its replacement",
            ),
        ),
        (
            ProviderKind.DEDALUS,
            ["openai/gpt-image-2", "openai/gpt-image-2.5-sunburst", "openai/gpt-4o-mini"],
            "gpt-image-1",
            ModelKind.IMAGE,
            DefaultChoice(
                "openai/gpt-image-2.5-sunburst",
                "gpt-image-1 is not served by this provider (shut down 2026-10-23); using "
                "openai/gpt-image-2.5-sunburst, its replacement",
            ),
        ),
        (
            ProviderKind.CUSTOM,
            ["gpt-image-2", "gpt-image-2.5-flare"],
            "gpt-image-2.6-flare",
            ModelKind.IMAGE,
            DefaultChoice(
                "gpt-image-2.5-flare",
                "gpt-image-2.6-flare is not served by this provider; using gpt-image-2.5-flare, the first of the "
                "catalog's image models this provider serves",
            ),
        ),
        (
            ProviderKind.OPENAI,
            ["gpt-6-luna"],
            "gpt-4o-mini",
            ModelKind.VISION,
            DefaultChoice(
                "gpt-6-luna", "gpt-4o-mini is not served by this provider; using gpt-6-luna, its replacement"
            ),
        ),
        (
            ProviderKind.CUSTOM,
            ["acme/imagine-9"],
            "gpt-image-2.6-flare",
            ModelKind.IMAGE,
            DefaultChoice(
                "gpt-image-2.6-flare",
                "gpt-image-2.6-flare is not served by this provider, and no catalogued alternative is served; "
                "trying it anyway",
            ),
        ),
    ],
)
async def test_the_default_model_is_resolved_against_the_served_list(
    provider: ProviderKind, served: list[str], configured: str, kind: ModelKind, expected: DefaultChoice
) -> None:
    assert await directory(Lister(served), provider=provider).resolve_default(configured, kind) == expected


async def test_an_unknown_list_keeps_the_default_except_a_shut_down_one_on_openai() -> None:
    missing = UpstreamError("no list", status=404)
    on_openai = directory(Lister(error=missing))
    on_gateway = directory(Lister(error=missing), provider=ProviderKind.CUSTOM)

    assert await on_openai.resolve_default("gpt-image-2", ModelKind.IMAGE) == DefaultChoice("gpt-image-2")
    assert await on_openai.resolve_default("dall-e-3", ModelKind.IMAGE) == DefaultChoice(
        "gpt-image-2.6-flare",
        "dall-e-3 was shut down by OpenAI on 2026-05-12; using gpt-image-2.6-flare, its replacement",
    )
    assert await on_gateway.resolve_default("dall-e-3", ModelKind.IMAGE) == DefaultChoice("dall-e-3")


async def test_shut_down_models_are_refused_unless_the_provider_still_serves_them() -> None:
    openai = directory(Lister(OPENAI_TODAY))
    gateway = directory(Lister(["dall-e-3", "gpt-image-2"]), provider=ProviderKind.CUSTOM)
    other_gateway = directory(Lister(["gpt-image-2.6-sunburst"]), provider=ProviderKind.CUSTOM)

    assert await openai.lifecycle_problem("dall-e-3") == (
        "dall-e-3 was shut down by OpenAI on 2026-05-12; use gpt-image-2.6-flare (fast) or gpt-image-2.6-sunburst "
        "(best quality)."
    )
    assert await openai.lifecycle_problem("openai/gpt-image-1") == (
        "gpt-image-1 was shut down by OpenAI on 2026-10-23; use gpt-image-2.6-flare (fast), "
        "gpt-image-2.6-sunburst (best quality) or gpt-image-2.5-sunburst (named by projects that migrated)."
    )
    assert await openai.lifecycle_problem("gpt-image-2") is None
    assert await openai.lifecycle_problem("gpt-image-1.5") is None, "deprecated, not yet shut down"
    assert await openai.lifecycle_problem("acme/imagine-9") is None
    assert await gateway.lifecycle_problem("dall-e-3") is None, "a gateway that still serves it passes it through"
    assert await other_gateway.lifecycle_problem("dall-e-2") == (
        "dall-e-2 was shut down by OpenAI on 2026-05-12, and this provider does not serve it; "
        "use gpt-image-2.6-sunburst (best quality)."
    )


async def test_without_a_list_shut_down_models_are_refused_on_openai_only() -> None:
    missing = UpstreamError("no list", status=401)
    assert await directory(Lister(error=missing)).lifecycle_problem("dall-e-2") == (
        "dall-e-2 was shut down by OpenAI on 2026-05-12; use gpt-image-2.6-flare (fast) or gpt-image-2.6-sunburst "
        "(best quality)."
    )
    assert await directory(Lister(error=missing), provider=ProviderKind.CUSTOM).lifecycle_problem("dall-e-2") is None


async def test_a_deprecated_model_counts_as_shut_down_once_its_date_has_passed() -> None:
    later = ModelDirectory(
        CATALOG,
        Lister(OPENAI_TODAY),
        provider=ProviderKind.OPENAI,
        refresh_after=HOUR,
        clock=FrozenClock(datetime(2026, 12, 2, tzinfo=UTC)),
    )
    assert await later.lifecycle_problem("gpt-image-1-mini") == (
        "gpt-image-1-mini was shut down by OpenAI on 2026-12-01; use gpt-image-2.6-flare (fast) or "
        "gpt-image-2.6-sunburst (best quality)."
    )


async def test_model_not_found_marks_a_model_shut_down_for_the_rest_of_the_process() -> None:
    stale = directory(Lister(["dall-e-3", "gpt-image-2", "gpt-image-2.6-flare"]))
    assert await stale.lifecycle_problem("dall-e-3") is None, "the list (stale) still has it"

    stale.mark_shut_down("openai/dall-e-3")
    stale.mark_shut_down("gpt-image-2")

    assert await stale.lifecycle_problem("dall-e-3") == (
        "dall-e-3 was shut down by OpenAI on 2026-05-12; use gpt-image-2.6-flare (fast)."
    )
    assert await stale.is_served("dall-e-3") is False
    assert await stale.lifecycle_problem("gpt-image-2") == (
        "gpt-image-2 is not served by this provider any more (it answered model_not_found); use gpt-image-2.6-flare."
    )
    assert await stale.resolve_default("gpt-image-2", ModelKind.IMAGE) == DefaultChoice(
        "gpt-image-2.6-flare",
        "gpt-image-2 is not served by this provider; using gpt-image-2.6-flare, the first of the catalog's image "
        "models this provider serves",
    )


# --- over HTTP, against the emulator ------------------------------------------------------------------------------


@asynccontextmanager
async def models_api(settings: Settings) -> AsyncIterator[ModelsAPI]:
    client = UpstreamClient(
        endpoint_of(settings),
        timeout=30,
        max_concurrency=2,
        retry=RetryPolicy(max_retries=0, clock=FrozenClock(TODAY)),
        max_answer_bytes=settings.max_upstream_bytes,
        redactor=Redactor([]),
        telemetry=Telemetry(settings.provider),
    )
    try:
        yield ModelsAPI(client)
    finally:
        await client.aclose()


async def test_the_emulators_list_over_http(make_settings: SettingsFactory, emulator: Emulator) -> None:
    async with models_api(make_settings()) as api:
        listed = {model.id: model.shutdown_date for model in await api.list()}
        models = ModelDirectory(
            CATALOG, api.list, provider=ProviderKind.OPENAI, refresh_after=HOUR, clock=FrozenClock(TODAY)
        )

        assert listed["gpt-image-1.5"] == date(2026, 12, 1)
        assert listed["gpt-image-2.6-flare"] is None
        assert "dall-e-3" not in listed and "text-embedding-3-small" in listed
        assert await models.is_served("gpt-image-2.6-sunburst") is True
        assert await models.shutdown_date("gpt-4o-mini") == date(2027, 1, 14)
        assert (await models.lifecycle_problem("dall-e-3") or "").startswith("dall-e-3 was shut down by OpenAI")
        assert await models.resolve_default("gpt-image-1", ModelKind.IMAGE) == DefaultChoice(
            "gpt-image-2.6-flare",
            "gpt-image-1 is not served by this provider (shut down 2026-10-23); using gpt-image-2.6-flare, "
            "its replacement",
        )
    assert len(emulator.requests_to("/v1/models")) == 2
    assert emulator.requests_to("/v1/models")[0].headers["authorization"] == f"Bearer {emulator.api_key}"


async def test_a_gateway_that_still_serves_dall_e_3_lets_it_through(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    emulator.set(serves_retired=True)
    async with models_api(make_settings(provider=emulator.base_url)) as api:
        models = ModelDirectory(
            CATALOG, api.list, provider=ProviderKind.CUSTOM, refresh_after=HOUR, clock=FrozenClock(TODAY)
        )
        assert await models.lifecycle_problem("dall-e-3") is None
        assert await models.shutdown_date("dall-e-3") == date(2026, 5, 12)


async def test_dedalus_names_are_compared_in_canonical_form(make_settings: SettingsFactory, emulator: Emulator) -> None:
    emulator.set(served_models=["openai/gpt-image-2", "openai/gpt-image-2.5-flare", "openai/gpt-6-luna"])
    async with models_api(make_settings(provider="dedalus")) as api:
        models = ModelDirectory(
            CATALOG, api.list, provider=ProviderKind.DEDALUS, refresh_after=HOUR, clock=FrozenClock(TODAY)
        )
        assert await models.is_served("gpt-image-2") is True
        assert await models.resolve_default("gpt-6-luna", ModelKind.VISION) == DefaultChoice("gpt-6-luna")
        choice = await models.resolve_default("gpt-image-2.6-flare", ModelKind.IMAGE)
    assert choice.model == "openai/gpt-image-2.5-flare"


@pytest.mark.parametrize(("answer", "state"), [("404", "HTTP 404"), ("401", "HTTP 401"), ("html", "not a model list")])
async def test_a_provider_without_a_usable_list_falls_back_to_the_catalog(
    make_settings: SettingsFactory, emulator: Emulator, caplog: pytest.LogCaptureFixture, answer: str, state: str
) -> None:
    emulator.set(models_answer=answer)
    clock = Monotonic()
    async with models_api(make_settings(provider=emulator.base_url)) as api:
        models = ModelDirectory(
            CATALOG,
            api.list,
            provider=ProviderKind.CUSTOM,
            refresh_after=HOUR,
            clock=FrozenClock(TODAY),
            monotonic=clock,
        )
        assert await models.is_served("gpt-image-2") is None
        assert await models.resolve_default("gpt-image-2.6-flare", ModelKind.IMAGE) == DefaultChoice(
            "gpt-image-2.6-flare"
        )
        assert await models.lifecycle_problem("dall-e-3") is None
        clock.now += 2 * HOUR
        assert await models.is_served("gpt-image-2") is None
    assert len(emulator.requests_to("/v1/models")) == 2
    [warning] = warnings_from_discovery(caplog)
    assert f"The provider's model list is not available ({state})" in warning
    assert emulator.api_key not in caplog.text


async def test_an_unreachable_provider_falls_back_to_the_catalog(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(provider="openai", base_url=f"http://127.0.0.1:{free_port()}/v1", api_key=SecretStr("sk-test"))
    async with models_api(settings) as api:
        models = ModelDirectory(
            CATALOG, api.list, provider=ProviderKind.OPENAI, refresh_after=HOUR, clock=FrozenClock(TODAY)
        )
        assert await models.is_served("gpt-image-2") is None
        assert await models.lifecycle_problem("gpt-image-2") is None
        assert (await models.lifecycle_problem("dall-e-3") or "").startswith("dall-e-3 was shut down by OpenAI")
    [warning] = warnings_from_discovery(caplog)
    assert "(unreachable)" in warning


async def test_the_list_is_asked_again_after_the_ttl_over_http(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    clock = Monotonic()
    async with models_api(make_settings()) as api:
        models = ModelDirectory(
            CATALOG,
            api.list,
            provider=ProviderKind.OPENAI,
            refresh_after=HOUR,
            clock=FrozenClock(TODAY),
            monotonic=clock,
        )
        assert await models.is_served("gpt-image-2.6-flare") is True
        emulator.set(served_models=["gpt-image-2"])
        clock.now += HOUR - 1
        assert await models.is_served("gpt-image-2.6-flare") is True
        clock.now += 2
        assert await models.is_served("gpt-image-2.6-flare") is False
    assert len(emulator.requests_to("/v1/models")) == 2
