"""Estimates that learn: the ledger keeps each call's estimate beside its actual cost; once three calls alike (model,
quality, size, output format) are paid for, the next estimate is the median of their recent costs per image and
says so; budgets reserve the higher of that and the catalog's figure; usage_report shows per model what an image
cost on average and how far the estimates were off. Costs come from the `usage` the emulator reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.fake_openai import Emulator
from tests.support.results import text_of
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio

LOW = {"prompt": "a fox", "quality": "low", "size": "1024x1024"}
"""The catalog estimates gpt-image-2.6-flare at low quality and 1024x1024 at 700 image tokens: $0.021 (plus the
prompt's two tokens at $5 per 1M)."""
CATALOG_LOW = (700 * 30 + 2 * 5) / 1e6


def usage(image_tokens: int) -> dict[str, Any]:
    """What the API reports for one image of `image_tokens` output tokens and a prompt of 10 text tokens."""
    return {
        "input_tokens": 10,
        "output_tokens": image_tokens,
        "total_tokens": 10 + image_tokens,
        "input_tokens_details": {"text_tokens": 10, "image_tokens": 0},
    }


def cost_of(image_tokens: int) -> float:
    return (10 * 5 + image_tokens * 30) / 1e6


async def paid(client: Client, emulator: Emulator, image_tokens: int, **arguments: Any) -> dict[str, Any]:
    """One call whose answer reports `image_tokens`; its cost object."""
    emulator.set(usage=usage(image_tokens))
    result = await client.call_tool("generate_image", {**LOW, **arguments})
    assert not result.is_error and result.structured_content is not None, text_of(result)
    cost: dict[str, Any] = result.structured_content["cost"]
    return cost


async def dry_estimate(client: Client, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool("generate_image", {**LOW, **arguments, "dry_run": True})
    assert result.structured_content is not None, text_of(result)
    estimate: dict[str, Any] = result.structured_content["cost"]["estimate"]
    return estimate


def ledger_entries(output_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted((output_dir / ".ledger").rglob("*.json"))]


async def test_estimates_converge_on_recorded_costs(client: Client, emulator: Emulator, output_dir: Path) -> None:
    tokens = [1000, 1400, 1200]
    made = [await paid(client, emulator, n) for n in tokens]
    learned = await dry_estimate(client)
    emulator.set(usage=usage(1200))
    fourth = await client.call_tool("generate_image", LOW)
    pair = await dry_estimate(client, n=2)
    other_quality = await dry_estimate(client, quality="medium")
    for n in (1300, 1300, 1300):
        await paid(client, emulator, n)
    moved = await dry_estimate(client)

    for cost in made:
        assert cost["estimate"]["amount"] == pytest.approx(CATALOG_LOW, abs=1e-6), "too few calls yet: the catalog's"
    assert learned["amount"] == pytest.approx(cost_of(1200))
    assert learned["basis"].startswith("about $0.036, from your last 3 calls like it (the median cost per image)")
    assert "the catalog's figure is $0.021" in learned["basis"]
    assert "Cost: $0.036 (from usage); estimated $0.036." in text_of(fourth)
    assert pair["amount"] == pytest.approx(2 * cost_of(1200)) and "x 2 images" in pair["basis"]
    assert other_quality["amount"] == pytest.approx((6185 * 30 + 2 * 5) / 1e6), "medium has no history"
    assert moved["amount"] == pytest.approx(cost_of(1300)), "the median of the last calls moves with the costs"
    entries = [entry for entry in ledger_entries(output_dir) if entry["kind"] == "settle"]
    assert entries[0]["estimate"] == pytest.approx(CATALOG_LOW) and entries[0]["amount"] == pytest.approx(cost_of(1000))
    assert (entries[0]["operation"], entries[0]["quality"], entries[0]["size"], entries[0]["output_format"]) == (
        "generate",
        "low",
        "1024x1024",
        None,
    )
    assert entries[3]["estimate"] == pytest.approx(cost_of(1200))


async def test_old_ledger_entries_without_estimates_still_read(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    async with open_client(make_settings()) as client:
        await paid(client, emulator, 1000)
    for entry in (output_dir / ".ledger").rglob("*.json"):
        old = {key: value for key, value in json.loads(entry.read_text()).items() if key in OLD_KEYS}
        entry.write_text(json.dumps(old))

    async with open_client(make_settings()) as client:
        report = await client.call_tool("usage_report", {})
        estimate = await dry_estimate(client)

    assert report.structured_content is not None, text_of(report)
    flare = report.structured_content["per_model"]["gpt-image-2.6-flare"]
    assert (flare["images"], flare["calls_estimated"], flare["estimate_off"]) == (1, 0, None)
    assert "gpt-image-2.6-flare: $0.030 per image on average (1 image(s))." in text_of(report)
    assert estimate["amount"] == pytest.approx(CATALOG_LOW), "an entry without quality and size is no call alike"


OLD_KEYS = ("id", "kind", "time", "amount", "model", "user", "images", "exact")
"""The fields a ledger entry had before estimates were kept beside costs."""


async def test_usage_report_shows_cost_per_image_and_how_far_estimates_were_off(
    client: Client, emulator: Emulator
) -> None:
    for n in (1400, 1400, 1400, 1400):
        await paid(client, emulator, n)

    report = await client.call_tool("usage_report", {})

    assert report.structured_content is not None, text_of(report)
    flare = report.structured_content["per_model"]["gpt-image-2.6-flare"]
    estimates = 3 * CATALOG_LOW + cost_of(1400)
    assert flare["average_per_image"] == pytest.approx(cost_of(1400))
    assert flare["estimate_off"] == pytest.approx(estimates / (4 * cost_of(1400)) - 1, abs=1e-4)
    assert (flare["calls"], flare["images"], flare["calls_estimated"]) == (4, 4, 4)
    assert "gpt-image-2.6-flare: $0.042 per image on average (4 image(s)); estimates were 38% too low (4 call(s))." in (
        text_of(report)
    )


@pytest.mark.parametrize(
    ("image_tokens", "cap", "reserved"),
    [(100, 0.015, "$0.021"), (2000, 0.05, "$0.060")],
    ids=["history-cheaper-than-the-catalog", "history-dearer-than-the-catalog"],
)
async def test_budgets_reserve_the_higher_of_the_learned_and_the_catalog_estimate(
    make_settings: SettingsFactory, emulator: Emulator, image_tokens: int, cap: float, reserved: str
) -> None:
    """A cheaper history never lets a call past a cap the published figure hits; a dearer one is what is reserved."""
    async with open_client(make_settings()) as client:
        for _ in range(3):
            await paid(client, emulator, image_tokens)
    async with open_client(make_settings(max_cost_per_call=cap)) as client:
        emulator.set(usage=usage(image_tokens))
        refused = await client.call_tool("generate_image", LOW)
        dry = await dry_estimate(client)

    assert refused.is_error
    assert text_of(refused).startswith(f"Refused before any request: this call is estimated at {reserved}")
    assert dry["amount"] == pytest.approx(cost_of(image_tokens)) and "from your last 3 calls" in dry["basis"]
    assert len(emulator.requests_to("/images/generations")) == 3
