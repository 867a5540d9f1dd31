"""Cost you can see and cap, through the MCP client: every result states its cost, dry runs send nothing, budgets
refuse before any request, expensive calls are confirmed first, and usage_report adds it all up.

Prices are the catalog's (gpt-image-2 and later: text in $5, cached text $1.25, image in $8, cached image $2, image
out $30 per 1M tokens); the emulator reports `usage` like the API (4160 image output tokens per image and a text
token per 4 prompt characters), or the usage a test sets.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult, TextResourceContents

from mcp_server_images.store import LocalStore
from mcp_server_images.store.base import LedgerEntry
from tests.fake_openai import Emulator, Fault
from tests.support.clock import FrozenClock
from tests.support.images import png_bytes
from tests.support.results import text_of
from tests.support.s3 import S3Server
from tests.support.servers import SettingsFactory, open_client
from tests.support.signin import issuer_of, signed_in_server
from tests.support.waiting import until

pytestmark = pytest.mark.anyio

GENERATIONS = "/images/generations"
FOX = "a red fox"
"""9 characters: the emulator reports 2 text tokens for it, an estimate counts 3."""
FOX_COST = (2 * 5 + 4160 * 30) / 1e6
"""What the emulator's usage for one image of FOX costs: 0.12481."""
HIGH_ESTIMATE = (3 * 5 + 7033 * 30) / 1e6
"""One 1024x1024 image at high quality, from the published $0.211 per image, plus the prompt: 0.211005."""
HIGH = {"quality": "high", "size": "1024x1024"}
LOW = {"quality": "low", "size": "1024x1024"}


def image_requests(emulator: Emulator) -> list[Any]:
    return emulator.requests_to("/images/")


def cost_of(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    cost: dict[str, Any] = result.structured_content["cost"]
    return cost


async def test_the_cost_comes_from_usage_at_catalog_prices(
    client: Client, emulator: Emulator, output_dir: Path
) -> None:
    emulator.set(
        usage={
            "input_tokens": 1050,
            "output_tokens": 7033,
            "total_tokens": 8083,
            "input_tokens_details": {
                "text_tokens": 50,
                "image_tokens": 1000,
                "cached_tokens_details": {"text_tokens": 20, "image_tokens": 400},
            },
        }
    )

    result = await client.call_tool("generate_image", {"prompt": FOX, "model": "gpt-image-2"})

    expected = (30 * 5 + 20 * 1.25 + 600 * 8 + 400 * 2 + 7033 * 30) / 1e6  # 0.216765
    cost = cost_of(result)
    assert cost["amount"] == pytest.approx(expected)
    assert (cost["currency"], cost["exact"]) == ("USD", True)
    assert "7033 image out @ $30" in cost["basis"] and "400 cached image in @ $2" in cost["basis"]
    assert "Cost: $0.217 (from usage)" in text_of(result)
    [image] = result.structured_content["images"]
    sidecar = json.loads(Path(image["path"]).with_suffix(".json").read_text())
    assert sidecar["cost"]["amount"] == pytest.approx(expected) and sidecar["cost"]["exact"] is True


async def test_a_fan_out_adds_up_every_request(make_settings: SettingsFactory, emulator: Emulator) -> None:
    models = make_settings().output_dir.parent / "models.toml"
    models.write_text('[models."gpt-image-2"]\nn_per_request = 1\n')
    async with open_client(make_settings(models_file=models)) as client:
        result = await client.call_tool("generate_image", {"prompt": FOX, "model": "gpt-image-2", "n": 3})

    assert len(image_requests(emulator)) == 3
    assert cost_of(result)["amount"] == pytest.approx(3 * FOX_COST)


async def test_the_estimate_is_shown_next_to_the_actual_cost(client: Client) -> None:
    result = await client.call_tool("generate_image", {"prompt": FOX, "quality": "high", "size": "1024x1024"})

    cost = cost_of(result)
    assert cost["amount"] == pytest.approx(FOX_COST)
    assert cost["estimate"]["amount"] == pytest.approx(HIGH_ESTIMATE)
    assert "1 x 1024x1024 at high: 7033 image out tokens each" in cost["estimate"]["basis"]
    assert "Cost: $0.125 (from usage); estimated $0.211." in text_of(result)


async def test_a_dry_run_sends_nothing_and_says_what_it_would_do(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool(
        "generate_image", {"prompt": FOX, "quality": "high", "size": "1536x1024", "n": 2, "dry_run": True}
    )

    assert not result.is_error, text_of(result)
    assert image_requests(emulator) == []
    text = text_of(result)
    assert text.startswith("Dry run: nothing was sent and nothing was paid.")
    assert "generate with gpt-image-2.6-flare on /images/generations (n 2, size 1536x1024, quality high)" in text
    structured = result.structured_content
    assert structured is not None and structured["dry_run"] is True and structured["images"] == []
    assert structured["plan"]["parameters"] == {"n": 2, "size": "1536x1024", "quality": "high"}
    expected = (3 * 5 + 2 * round(7033 * 1.5) * 30) / 1e6
    assert structured["cost"]["estimate"]["amount"] == pytest.approx(expected)
    assert f"Estimated cost: ${expected:.3f}" in text


async def test_a_dry_run_checks_what_a_real_call_checks(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool("generate_image", {"prompt": FOX, "size": "1000x1000", "dry_run": True})

    assert result.is_error
    assert "size" in text_of(result) and "multiples of 16" in text_of(result)
    assert image_requests(emulator) == []


async def test_dry_runs_of_edits_and_variations_send_nothing(client: Client, emulator: Emulator, home: Path) -> None:
    picture = home / "cat.png"
    picture.write_bytes(png_bytes((64, 64)))

    edit = await client.call_tool(
        "edit_image", {"images": [str(picture)], "prompt": "add a hat", "quality": "low", "dry_run": True}
    )
    variation = await client.call_tool(
        "create_image_variation", {"image": str(picture), "model": "gpt-image-2", "dry_run": True}
    )

    assert not edit.is_error and not variation.is_error, text_of(edit) + text_of(variation)
    assert image_requests(emulator) == []
    assert "edit with gpt-image-2.6-flare on /images/edits" in text_of(edit)
    assert "input images not counted" in text_of(edit)
    assert "edit with gpt-image-2 on /images/edits" in text_of(variation)


async def test_the_per_call_cap_refuses_before_any_request(make_settings: SettingsFactory, emulator: Emulator) -> None:
    async with open_client(make_settings(max_cost_per_call=0.1)) as client:
        refused = await client.call_tool("generate_image", {"prompt": FOX, **HIGH})
        cheap = await client.call_tool("generate_image", {"prompt": FOX, **LOW})

    assert refused.is_error
    assert "Refused before any request: this call is estimated at $0.211" in text_of(refused)
    assert "above the per-call cap of $0.100" in text_of(refused)
    assert "--max-cost-per-call (MCP_IMAGES_MAX_COST_PER_CALL)" in text_of(refused)
    assert not cheap.is_error, text_of(cheap)
    assert len(image_requests(emulator)) == 1


@pytest.mark.parametrize(
    ("setting", "name", "flag"),
    [
        ("daily_budget", "daily budget", "--daily-budget (MCP_IMAGES_DAILY_BUDGET)"),
        ("monthly_budget", "monthly budget", "--monthly-budget (MCP_IMAGES_MONTHLY_BUDGET)"),
    ],
)
async def test_a_budget_refuses_the_call_that_would_cross_it(
    make_settings: SettingsFactory, emulator: Emulator, setting: str, name: str, flag: str
) -> None:
    async with open_client(make_settings(**{setting: 0.3})) as client:
        first = await client.call_tool("generate_image", {"prompt": FOX, **HIGH})
        second = await client.call_tool("generate_image", {"prompt": FOX, **HIGH})

    assert not first.is_error, text_of(first)
    assert second.is_error
    text = text_of(second)
    assert "Refused before any request: this call is estimated at $0.211" in text
    assert f"$0.125 of the {name} of $0.300 is spent, so $0.175 remains" in text
    assert "00:00 UTC" in text and flag in text
    assert len(image_requests(emulator)) == 1, "the refused call sent nothing"


async def test_the_ledger_survives_a_restart(make_settings: SettingsFactory, emulator: Emulator) -> None:
    settings = make_settings(daily_budget=0.13)
    async with open_client(settings) as client:
        first = await client.call_tool("generate_image", {"prompt": FOX, **LOW})
    async with open_client(settings) as client:
        second = await client.call_tool("generate_image", {"prompt": FOX, **LOW})
        report = await client.call_tool("usage_report", {})

    assert not first.is_error, text_of(first)
    assert second.is_error and "$0.125 of the daily budget of $0.130 is spent" in text_of(second)
    assert len(image_requests(emulator)) == 1
    assert report.structured_content is not None
    assert report.structured_content["today"]["spent"] == pytest.approx(FOX_COST)


@pytest.mark.subprocess
async def test_signed_in_users_have_budgets_of_their_own(emulator: Emulator, output_dir: Path) -> None:
    issuer = issuer_of(emulator)
    budgets = {"MCP_IMAGES_USER_DAILY_BUDGET": "0.13", "MCP_IMAGES_DAILY_BUDGET": "5"}
    with signed_in_server(emulator, issuer, output_dir, budgets) as (_, resource):
        async with open_client(resource, token=issuer.token(resource, subject="alice")) as alice:
            first = await alice.call_tool("generate_image", {"prompt": FOX, **LOW})
            again = await alice.call_tool("generate_image", {"prompt": FOX, **LOW})
        async with open_client(resource, token=issuer.token(resource, subject="bob")) as bob:
            bobs = await bob.call_tool("generate_image", {"prompt": FOX, **LOW})
            report = await bob.call_tool("usage_report", {})

    assert not first.is_error and not bobs.is_error, text_of(first) + text_of(bobs)
    assert again.is_error
    assert "$0.125 of the daily budget of user alice of $0.130 is spent" in text_of(again)
    assert "--user-daily-budget (MCP_IMAGES_USER_DAILY_BUDGET)" in text_of(again)
    assert len(image_requests(emulator)) == 2
    summary = report.structured_content
    assert summary is not None
    assert summary["by_user"] == {"bob": pytest.approx(FOX_COST)}, "bob sees his own spend, not alice's"
    assert summary["today"]["spent"] == pytest.approx(FOX_COST)
    assert summary["user"]["name"] == "bob" and summary["user"]["today"]["remaining"] == pytest.approx(0.13 - FOX_COST)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.subprocess)])
def store_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    """The store two servers share: one local folder, or one SeaweedFS bucket prefix."""
    if request.param == "local":
        return {}
    server: S3Server = request.getfixturevalue("s3_server")
    return server.settings(request.getfixturevalue("s3_prefix"))


async def test_two_servers_on_one_store_never_pass_a_budget_together(
    make_settings: SettingsFactory, emulator: Emulator, store_settings: dict[str, str]
) -> None:
    """Ten calls at once through two servers on one store, with room for four: exactly four reach the API, and
    the ledger then holds each of them once."""
    settings = make_settings(daily_budget=1.0, **store_settings)
    results: list[CallToolResult] = []

    async def call(client: Client) -> None:
        results.append(await client.call_tool("generate_image", {"prompt": FOX, **HIGH}))

    with emulator.hold(GENERATIONS) as upstream:
        async with open_client(settings) as a, open_client(settings) as b, anyio.create_task_group() as group:
            for number in range(10):
                group.start_soon(call, a if number % 2 else b)
            await upstream.until_held(4)
            await until(lambda: sum(r.is_error for r in results) == 6, "six refusals")
            upstream.release()
    async with open_client(settings) as client:
        report = await client.call_tool("usage_report", {})

    made = [r for r in results if not r.is_error]
    assert len(made) == 4 and len(image_requests(emulator)) == 4
    assert all("daily budget of $1.000" in text_of(r) for r in results if r.is_error)
    assert report.structured_content is not None
    assert report.structured_content["calls"] == 4 and report.structured_content["images"] == 4
    assert report.structured_content["today"]["spent"] == pytest.approx(sum(cost_of(r)["amount"] for r in made))


def answering(action: str, asked: list[str]) -> Any:
    async def callback(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action=action, content={"confirm": True} if action == "accept" else None)  # type: ignore[arg-type]

    return callback


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_expensive_call_is_made_once_the_user_accepts(
    make_settings: SettingsFactory, emulator: Emulator, mode: str
) -> None:
    asked: list[str] = []
    async with open_client(
        make_settings(confirm_above=0.1), elicitation_callback=answering("accept", asked), mode=mode
    ) as client:
        result = await client.call_tool("generate_image", {"prompt": FOX, **HIGH})
        cheap = await client.call_tool("generate_image", {"prompt": FOX, **LOW})

    assert not result.is_error and not cheap.is_error, text_of(result)
    assert len(asked) == 1, "only the call above the threshold asks"
    assert asked[0].startswith("This call is estimated at $0.211, above the $0.100 that needs confirmation")
    assert len(image_requests(emulator)) == 2


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_a_declined_confirmation_sends_nothing(
    make_settings: SettingsFactory, emulator: Emulator, mode: str, action: str
) -> None:
    asked: list[str] = []
    async with open_client(
        make_settings(confirm_above=0.1), elicitation_callback=answering(action, asked), mode=mode
    ) as client:
        result = await client.call_tool("generate_image", {"prompt": FOX, **HIGH})

    assert result.is_error
    said = {"decline": "declined", "cancel": "cancelled"}[action]
    assert f"Not made: the user {said} spending $0.211 on this call. Nothing was sent or paid." in text_of(result)
    assert len(asked) == 1 and image_requests(emulator) == []


async def test_a_client_without_elicitation_is_told_to_confirm_by_argument(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    async with open_client(make_settings(confirm_above=0.1)) as client:
        refused = await client.call_tool("generate_image", {"prompt": FOX, **HIGH})
        sent_before = len(image_requests(emulator))
        confirmed = await client.call_tool("generate_image", {"prompt": FOX, **HIGH, "confirm_cost": True})

    assert refused.is_error and sent_before == 0
    assert "Call again with confirm_cost: true to accept the cost." in text_of(refused)
    assert not confirmed.is_error, text_of(confirmed)
    assert len(image_requests(emulator)) == 1


async def test_unknown_prices_stay_unknown(make_settings: SettingsFactory, emulator: Emulator) -> None:
    models = make_settings().output_dir.parent / "models.toml"
    models.write_text('[models."gpt-image-2"]\nprices = {}\nestimate_tokens = {}\n')
    async with open_client(make_settings(models_file=models, daily_budget=1.0)) as client:
        unconfirmed = await client.call_tool("generate_image", {"prompt": FOX, "model": "gpt-image-2"})
        sent_before = len(image_requests(emulator))
        made = await client.call_tool("generate_image", {"prompt": FOX, "model": "gpt-image-2", "confirm_cost": True})
        dry = await client.call_tool("generate_image", {"prompt": FOX, "model": "gpt-image-2", "dry_run": True})
        report = await client.call_tool("usage_report", {})

    assert unconfirmed.is_error and sent_before == 0
    assert text_of(unconfirmed).startswith(
        "Not made: this call is of a cost that cannot be estimated (no published per-image figure for gpt-image-2"
    )
    assert "Call again with confirm_cost: true to accept the cost." in text_of(unconfirmed)
    cost = cost_of(made)
    assert cost["amount"] is None and cost["estimate"]["amount"] is None
    assert "Cost: unknown (no published prices for gpt-image-2 in the catalog)." in text_of(made)
    assert "Estimated cost: unknown (no published per-image figure for gpt-image-2)" in text_of(dry)
    assert report.structured_content is not None and report.structured_content["calls_of_unknown_cost"] == 1
    assert "$" not in json.dumps(cost["amount"])


async def test_usage_report_and_resource_add_up_the_spend(make_settings: SettingsFactory) -> None:
    async with open_client(make_settings(daily_budget=2.0, max_cost_per_call=0.5)) as client:
        await client.call_tool("generate_image", {"prompt": FOX, "n": 2, "quality": "low"})
        await client.call_tool("generate_image", {"prompt": FOX, "model": "gpt-image-2", "quality": "low"})
        report = await client.call_tool("usage_report", {})
        read = await client.read_resource("images://usage")

    assert not report.is_error, text_of(report)
    summary = report.structured_content
    assert summary is not None
    two = (2 * 5 + 2 * 4160 * 30) / 1e6
    assert summary["today"]["spent"] == pytest.approx(two + FOX_COST)
    assert summary["today"]["remaining"] == pytest.approx(2.0 - two - FOX_COST)
    assert summary["by_model"] == {"gpt-image-2": pytest.approx(FOX_COST), "gpt-image-2.6-flare": pytest.approx(two)}
    assert (summary["calls"], summary["images"]) == (2, 3)
    assert summary["average_per_image"] == pytest.approx((two + FOX_COST) / 3, abs=1e-6)
    assert summary["max_cost_per_call"] == 0.5 and summary["month"]["cap"] is None
    text = text_of(report)
    assert "Today (" in text and "$0.374 spent of $2.000 ($1.626 left, resets" in text
    assert "3 image(s), $0.125 per image on average" in text
    [contents] = read.contents
    assert isinstance(contents, TextResourceContents)
    assert json.loads(contents.text)["today"]["spent"] == pytest.approx(two + FOX_COST)


async def test_a_session_as_the_client_prints_it(make_settings: SettingsFactory, emulator: Emulator) -> None:
    """Estimate, call, cost, refusal at the daily cap: run with `-s` to see the session as the SDK client got it."""
    shown: list[str] = []

    async def say(name: str, arguments: dict[str, Any], client: Client) -> CallToolResult:
        result = await client.call_tool(name, arguments)
        shown.append(f">>> {name} {json.dumps(arguments)}\n{'ERROR: ' if result.is_error else ''}{text_of(result)}")
        if result.structured_content and "cost" in result.structured_content:
            shown.append(f"structuredContent.cost = {json.dumps(result.structured_content['cost'])}")
        return result

    async with open_client(make_settings(daily_budget=0.3, inline="none")) as client:
        dry = await say("generate_image", {"prompt": FOX, **HIGH, "dry_run": True}, client)
        made = await say("generate_image", {"prompt": FOX, **HIGH}, client)
        refused = await say("generate_image", {"prompt": FOX, **HIGH}, client)
        await say("usage_report", {}, client)
    print("\n\n".join(shown))

    assert not dry.is_error and not made.is_error and refused.is_error
    assert "Estimated cost: $0.211" in text_of(dry) and "Cost: $0.125 (from usage); estimated $0.211." in text_of(made)
    assert "$0.175 remains" in text_of(refused)
    assert len(image_requests(emulator)) == 1


@pytest.mark.parametrize("mainline_priced", [False, True])
async def test_a_responses_call_is_priced_for_both_models(
    make_settings: SettingsFactory, emulator: Emulator, mainline_priced: bool
) -> None:
    """The mainline model's tokens and the image tool's are two parts; an unpriced mainline makes the sum unknown."""
    models = make_settings().output_dir.parent / "models.toml"
    priced = "prices = { text_input = 2.0, text_output = 8.0 }\n" if mainline_priced else ""
    models.write_text(f'[models."gpt-6-luna"]\n{priced}')
    async with open_client(make_settings(models_file=models)) as client:
        dry = await client.call_tool("generate_image", {"prompt": FOX, **HIGH, "api": "responses", "dry_run": True})
        made = await client.call_tool("generate_image", {"prompt": FOX, **HIGH, "api": "responses"})

    assert "plus the mainline model's tokens (one call per request), which are not estimated" in text_of(dry)
    assert made.structured_content is not None
    mainline, image = made.structured_content["usage_parts"]
    assert (mainline["model"], image["model"]) == ("gpt-6-luna", "gpt-image-2.6-flare")
    cost = cost_of(made)
    if not mainline_priced:
        assert cost["amount"] is None and "gpt-6-luna" in cost["basis"]
        return
    main_usage, image_usage = mainline["usage"], image["usage"]
    expected = (main_usage["input_tokens"] * 2 + main_usage["output_tokens"] * 8) / 1e6 + (
        image_usage["input_tokens"] * 5 + image_usage["output_tokens"] * 30
    ) / 1e6
    assert cost["exact"] is True and cost["amount"] == pytest.approx(expected)


def ledger_entries(output_dir: Path) -> list[dict[str, Any]]:
    """The spend ledger's entries, in the order they were written."""
    [month] = (output_dir / ".ledger").iterdir()
    return [json.loads(path.read_text()) for path in sorted(month.glob("*.json"))]


async def test_without_caps_every_paid_request_is_recorded_before_it_is_sent(
    client: Client, emulator: Emulator, output_dir: Path
) -> None:
    """No budget set: the call's reservation is in the ledger while its request is still upstream (shown as
    pending), settled once it answers; a refused request is released."""
    report_during: list[dict[str, Any]] = []
    with emulator.hold(GENERATIONS) as upstream:
        async with anyio.create_task_group() as group:
            results: list[CallToolResult] = []

            async def make() -> None:
                results.append(await client.call_tool("generate_image", {"prompt": FOX}))

            group.start_soon(make)
            await upstream.until_held()
            report = await client.call_tool("usage_report", {})
            assert report.structured_content is not None
            report_during.append(report.structured_content)
            during = ledger_entries(output_dir)
            upstream.release()
    refusal = {"error": {"message": "Your request was rejected.", "type": "invalid_request_error", "code": None}}
    emulator.enqueue(Fault(status=400, path="/v1" + GENERATIONS, body=refusal))
    failed = await client.call_tool("generate_image", {"prompt": FOX})
    after = await client.call_tool("usage_report", {})

    assert not results[0].is_error and failed.is_error
    assert [entry["kind"] for entry in during] == ["reserve"]
    assert report_during[0]["calls_pending"] == 1
    assert [entry["kind"] for entry in ledger_entries(output_dir)] == ["reserve", "settle", "reserve", "release"]
    settled = ledger_entries(output_dir)[1]
    assert (settled["amount"], settled["images"]) == (pytest.approx(FOX_COST), 1)
    assert after.structured_content is not None
    assert (after.structured_content["calls"], after.structured_content["calls_pending"]) == (1, 0)


async def test_a_reservation_whose_server_is_gone_counts_as_unknown(
    make_settings: SettingsFactory, output_dir: Path, clock: FrozenClock
) -> None:
    """Reservations another server never settled (it died mid-request): pending while a call could still be
    running, unknown once it cannot; either way counted at their estimate, so a budget still sees them."""
    store = LocalStore(output_dir, clock)
    now = clock.now()
    for number, age in enumerate((timedelta(minutes=1), timedelta(hours=5))):
        time = (now - age).isoformat(timespec="microseconds")
        entry = LedgerEntry(id=f"r{number}", kind="reserve", time=time, amount=0.25, model="gpt-image-2.6-flare")
        assert store.append_ledger(now.strftime("%Y-%m"), number, replace(entry, instance="elsewhere:4242"))
    async with open_client(make_settings(), clock) as client:
        report = await client.call_tool("usage_report", {})

    assert report.structured_content is not None
    summary = report.structured_content
    assert (summary["calls"], summary["calls_pending"], summary["calls_of_unknown_cost"]) == (2, 1, 1)
    assert summary["month"]["spent"] == pytest.approx(0.5)
    assert "1 call(s) still running, counted at their estimate." in text_of(report)
    assert "server stopped before they were settled" in text_of(report)


async def test_without_caps_two_servers_on_one_store_record_every_call(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    """Without caps, reservations and settles are written without reading the month first: a number the other
    server took meanwhile is noticed, and the entry takes the next free one (two entries per call)."""
    settings = make_settings()
    results: list[CallToolResult] = []

    async def call(client: Client) -> None:
        results.append(await client.call_tool("generate_image", {"prompt": FOX}))

    async with open_client(settings) as a, open_client(settings) as b:
        for client in (a, b, a, b):  # each server learns its next number, then the other one takes it
            await call(client)
        async with anyio.create_task_group() as group:
            for number in range(6):
                group.start_soon(call, a if number % 2 else b)
        report = await a.call_tool("usage_report", {})

    assert not any(result.is_error for result in results)
    [month] = (output_dir / ".ledger").iterdir()
    assert sorted(path.name for path in month.glob("*.json")) == [f"{number:09d}.json" for number in range(20)]
    assert report.structured_content is not None
    assert report.structured_content["calls"] == 10
