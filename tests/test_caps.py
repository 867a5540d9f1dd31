"""A budget is a limit: no call gets past a cap, whatever its cost, its confirmation, its usage or the state of the
ledger.

Calls whose cost cannot be estimated count at their worst case (the catalog's highest per-image figure, $0.211 for
a 1024x1024 image) and confirm_cost does not change that; prices that are not finite numbers are refused when the
models file is read; usage an upstream reports, and a cost a provider states (OpenRouter), are taken only when
they can be right; and a damaged ledger entry is skipped with one warning, never a blockade and never a NaN in a
sum.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from mcp_server_images.catalog.catalog import Catalog
from mcp_server_images.catalog.load import CatalogError
from tests.fake_openai import Emulator, Fault
from tests.support.images import png_bytes
from tests.support.results import entries, text_of
from tests.support.servers import SettingsFactory, open_client
from tests.support.upstream import b64_answer
from tests.support.waiting import until

pytestmark = pytest.mark.anyio

GENERATIONS = "/images/generations"
GENERATIONS_PATH = "/v1" + GENERATIONS
FOX_PNG = png_bytes((32, 32), (200, 40, 40))
WORST_CASE = 7033 * 30 / 1e6
"""The catalog's highest per-image figure: gpt-image-2 and later at high quality, 1024x1024 ($0.211)."""
LEDGER = ".ledger"


def report_of(result: CallToolResult) -> dict[str, Any]:
    structured: dict[str, Any] | None = result.structured_content
    assert structured is not None, text_of(result)
    return structured


@pytest.mark.parametrize(
    "unknown",
    [
        pytest.param({"quality": "xhigh", "size": "1024x1024"}, id="unpublished-quality"),
        pytest.param({"model": "acme/imagine-9", "size": "1024x1024"}, id="gateway-model"),
    ],
)
async def test_confirmed_calls_of_unknown_cost_never_pass_a_cap_together(
    make_settings: SettingsFactory, emulator: Emulator, unknown: dict[str, str]
) -> None:
    """Ten confirmed calls at once under a $1 daily cap, each counted at its worst case: four fit, six are refused
    before any request, and the day's spend ends within the cap."""
    if "model" in unknown:  # the gateway answers for its own model, without usage
        emulator.enqueue(*[Fault(status=200, body=b64_answer(FOX_PNG), path=GENERATIONS_PATH) for _ in range(10)])
    settings = make_settings(provider=emulator.base_url, daily_budget=1.0)
    results: list[CallToolResult] = []

    async def call(client: Client) -> None:
        arguments = {"prompt": "a red fox", "confirm_cost": True, **unknown}
        results.append(await client.call_tool("generate_image", arguments))

    with emulator.hold(GENERATIONS) as upstream:
        async with open_client(settings) as client, anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(call, client)
            await upstream.until_held(4)
            await until(lambda: sum(r.is_error for r in results) == 6, "six refusals")
            upstream.release()
    async with open_client(settings) as client:
        report = report_of(await client.call_tool("usage_report", {}))

    refused = [text_of(r) for r in results if r.is_error]
    assert len(emulator.requests_to(GENERATIONS)) == 4
    assert all("its cost cannot be estimated" in text and "counts as its worst case" in text for text in refused)
    assert all("daily budget of $1.000" in text for text in refused)
    assert report["calls"] == 4 and report["today"]["spent"] <= 1.0


async def test_a_confirmation_accepts_a_price_and_never_lifts_a_cap(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    async with open_client(make_settings(daily_budget=0.2)) as client:
        refused = await client.call_tool(
            "generate_image", {"prompt": "a red fox", "quality": "xhigh", "size": "1024x1024", "confirm_cost": True}
        )

    assert refused.is_error and emulator.requests_to(GENERATIONS) == []
    assert f"this call is estimated at ${WORST_CASE:.3f}" in text_of(refused)
    assert "daily budget of $0.200" in text_of(refused)


async def test_a_call_settled_at_an_unknown_cost_still_counts(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    """The gateway's model answers without usage: its call stays counted at what it reserved, so the calls after
    it cannot spend the cap again."""
    emulator.enqueue(*[Fault(status=200, body=b64_answer(FOX_PNG), path=GENERATIONS_PATH) for _ in range(2)])
    settings = make_settings(provider=emulator.base_url, daily_budget=0.5)
    acme = {"prompt": "a red fox", "model": "acme/imagine-9", "size": "1024x1024", "confirm_cost": True}
    async with open_client(settings) as client:
        made = [await client.call_tool("generate_image", acme) for _ in range(3)]
        report = report_of(await client.call_tool("usage_report", {}))

    assert [r.is_error for r in made] == [False, False, True], [text_of(r) for r in made]
    assert report["calls_of_unknown_cost"] == 2
    assert report["today"]["spent"] == pytest.approx(2 * WORST_CASE)


@pytest.mark.parametrize("price", ["nan", "inf", "-inf", "-1.0", "1e400"])
def test_a_price_that_is_not_a_finite_number_is_refused_naming_file_model_and_field(tmp_path: Path, price: str) -> None:
    models = tmp_path / "models.toml"
    models.write_text(f'[models."gpt-image-2"]\nprices = {{ image_output = {price} }}\n')

    with pytest.raises(CatalogError) as caught:
        Catalog.load(models)

    said = str(caught.value)
    assert said.startswith('[models."gpt-image-2"] in ') and f'changed by [models."gpt-image-2"] in {models})' in said
    assert "prices.image_output must be a price in USD per 1M tokens (a finite number of 0 or more)" in said


def ledger_files(output_dir: Path) -> list[Path]:
    return sorted((output_dir / LEDGER).glob("*/*.json"))


async def test_a_nan_left_in_the_ledger_is_skipped_with_one_warning(
    make_settings: SettingsFactory, emulator: Emulator, caplog: pytest.LogCaptureFixture, output_dir: Path
) -> None:
    """A NaN amount written by an earlier server (a models file with `image_output = nan`) counts for nothing:
    the cap refuses again once it is spent, and no sum is NaN."""
    settings = make_settings(daily_budget=0.2)
    async with open_client(settings) as client:
        await client.call_tool("generate_image", {"prompt": "a red fox", "quality": "low", "size": "1024x1024"})
    [first, *_] = ledger_files(output_dir)
    poisoned = json.loads(first.read_text()) | {"id": "f" * 16, "amount": math.nan}
    nan_entry = first.with_name(f"{int(first.stem) + 100:09d}.json")
    nan_entry.write_text(json.dumps(poisoned))
    caplog.set_level(logging.WARNING)

    async with open_client(settings) as client:
        second = await client.call_tool("generate_image", {"prompt": "a red fox", "quality": "low"})
        third = await client.call_tool("generate_image", {"prompt": "a red fox", "quality": "low"})
        report = report_of(await client.call_tool("usage_report", {}))

    assert not second.is_error, text_of(second)
    assert third.is_error and "daily budget of $0.200" in text_of(third)
    assert not any(isinstance(v, float) and math.isnan(v) for v in (report["today"]["spent"], report["month"]["spent"]))
    warnings = [r.getMessage() for r in caplog.records if str(nan_entry) in r.getMessage()]
    assert len(warnings) == 1 and "not a finite number" in warnings[0]


async def test_an_empty_ledger_entry_blocks_nothing(
    make_settings: SettingsFactory, emulator: Emulator, caplog: pytest.LogCaptureFixture, output_dir: Path
) -> None:
    settings = make_settings(daily_budget=5.0)
    async with open_client(settings) as client:
        await client.call_tool("generate_image", {"prompt": "a red fox", "quality": "low"})
    last = ledger_files(output_dir)[-1]
    last.write_bytes(b"")  # truncated to 0 bytes, as a full disk or a crash of another writer leaves it
    caplog.set_level(logging.WARNING)

    async with open_client(settings) as client:
        made = [await client.call_tool("generate_image", {"prompt": "a red fox", "quality": "low"}) for _ in range(2)]

    assert not any(r.is_error for r in made), [text_of(r) for r in made]
    assert len([r for r in caplog.records if str(last) in r.getMessage()]) == 1


async def test_every_ledger_entry_and_its_folder_are_synced(
    make_settings: SettingsFactory, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, output_dir: Path
) -> None:
    """Reserve and settle alike: the file, then the folders naming it, reach the disk before the call goes on."""
    synced: list[Path] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append(Path(os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    async with open_client(make_settings(daily_budget=5.0)) as client:
        made = await client.call_tool("generate_image", {"prompt": "a red fox", "quality": "low"})

    assert not made.is_error, text_of(made)
    [month] = (output_dir / LEDGER).iterdir()
    files = ledger_files(output_dir)
    assert [json.loads(f.read_text())["kind"] for f in files] == ["reserve", "settle"]
    entries_synced = [path for path in synced if path.parent == month]
    assert len(entries_synced) == 2, "each entry's file, written under a temporary name, then linked"
    assert synced.count(month) >= 2 and (output_dir / LEDGER) in synced


def answer_with_usage(usage: str) -> str:
    """An Images API answer with one good image, its usage written as given (JSON numbers the encoder refuses)."""
    answer = json.dumps(b64_answer(FOX_PNG, usage={"output_tokens": 0}))
    return answer.replace('{"output_tokens": 0}', usage)


@dataclass(frozen=True)
class Answering:
    """Who answers with the scripted usage: OpenAI's Images API, or a provider the emulator plays."""

    path: str = GENERATIONS_PATH
    provider: str | None = None
    model: str | None = None

    def settings(self, emulator: Emulator) -> dict[str, Any]:
        if self.provider is None:
            return {}
        return {
            "provider": self.provider,
            "base_url": emulator.base_url_for(self.provider),
            "api_key": emulator.key_for(self.provider),
        }


OPENAI = Answering()
OPENROUTER = Answering("/openrouter/api/v1/images", "openrouter", "openai/gpt-image-2.6-flare")
"""OpenRouter's Image API, whose answers state what the call cost (`usage.cost`)."""


def openrouter_cost(cost: str) -> str:
    """OpenRouter's usage with its stated cost written as given (JSON numbers the encoder refuses)."""
    return '{"prompt_tokens": 12, "completion_tokens": 1290, "cost": ' + cost + "}"


@pytest.mark.parametrize(
    ("usage", "on"),
    [
        pytest.param('{"input_tokens": 5, "output_tokens": 1000000000000000000000000000000}', OPENAI, id="10**30"),
        pytest.param('{"input_tokens": 5, "output_tokens": ' + "9" * 400 + "}", OPENAI, id="400-digits"),
        pytest.param('{"input_tokens": -5, "output_tokens": 4160}', OPENAI, id="negative"),
        pytest.param('{"input_tokens": 5, "output_tokens": 4160.5}', OPENAI, id="fraction"),
        pytest.param('{"input_tokens": 5, "output_tokens": NaN}', OPENAI, id="nan"),
        pytest.param('{"input_tokens": 5, "output_tokens": Infinity}', OPENAI, id="infinity"),
        pytest.param('{"input_tokens": 5, "output_tokens": "4160"}', OPENAI, id="string"),
        pytest.param('{"input_tokens_details": {"image_tokens": -1}, "output_tokens": 4160}', OPENAI, id="nested"),
        pytest.param(openrouter_cost("Infinity"), OPENROUTER, id="reported-cost-infinity"),
        pytest.param(openrouter_cost("NaN"), OPENROUTER, id="reported-cost-nan"),
        pytest.param(openrouter_cost("-0.04"), OPENROUTER, id="reported-cost-negative"),
        pytest.param(openrouter_cost("1e30"), OPENROUTER, id="reported-cost-huge"),
        pytest.param(openrouter_cost("21.2"), OPENROUTER, id="reported-cost-above-100-worst-cases"),
        pytest.param(openrouter_cost("9" * 400), OPENROUTER, id="reported-cost-400-digits"),
    ],
)
async def test_usage_that_cannot_be_right_makes_the_cost_unknown_and_keeps_the_image(
    make_settings: SettingsFactory, emulator: Emulator, usage: str, on: Answering
) -> None:
    """Token counts, and the cost a provider states (OpenRouter), that cannot be right: the call's cost is unknown,
    counted at what it reserved, never summed."""
    arguments = {"prompt": "a red fox", "quality": "low"} | ({"model": on.model} if on.model else {})
    emulator.enqueue(Fault(status=200, body=answer_with_usage(usage), path=on.path))
    async with open_client(make_settings(daily_budget=1.0, **on.settings(emulator))) as client:
        made = await client.call_tool("generate_image", arguments)
        after = await client.call_tool("generate_image", arguments)
        report = report_of(await client.call_tool("usage_report", {}))

    assert not made.is_error, text_of(made)
    [image] = entries(made)
    assert Path(image["path"]).is_file(), "the image was stored"
    cost = report_of(made)["cost"]
    assert cost["amount"] is None
    told = "the provider reported a cost for" if on.provider is not None else "the API reported usage"
    assert "that cannot be right" in cost["basis"] and f"Cost: unknown ({told}" in text_of(made)
    assert "(from usage)" not in text_of(made)
    assert not after.is_error, "the next call is not refused for a made-up figure"
    assert report["today"]["spent"] < 1.0 and report["calls_of_unknown_cost"] == 1
