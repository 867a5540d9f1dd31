"""A month's ledger is read from its checkpoint on: a call with a budget reads only the entries written since.

The checkpoint holds what the entries up to it add up to (ledger_totals.py), so a server started on a month of
many calls reads that and the few entries after it, and a budget still counts every call. Whether it does is seen
from the outside by taking the covered entries away: the totals, and the refusal they lead to, stay the same.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from mcp.types import CallToolResult

from mcp_server_images.store import LocalStore
from mcp_server_images.store.base import LedgerEntry
from tests.fake_openai import Emulator
from tests.support.clock import FrozenClock
from tests.support.results import text_of
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio

CALLS = 200
"""Calls written straight into the store: more than a checkpoint is written after."""
EACH = 0.0045
HIGH = {"prompt": "a red fox", "quality": "high", "size": "1024x1024"}
"""Estimated at $0.211: more than the $0.10 left of a $1.00 daily budget once CALLS calls of EACH are spent."""


def report_of(result: CallToolResult) -> dict[str, Any]:
    structured: dict[str, Any] | None = result.structured_content
    assert structured is not None, text_of(result)
    return structured


def write_month(output_dir: Path, clock: FrozenClock) -> Path:
    """CALLS calls reserved and settled today (by two users), written as a server writes them; the month's folder."""
    store = LocalStore(output_dir, clock)
    now = clock.now()
    month = now.strftime("%Y-%m")
    time = now.isoformat(timespec="microseconds")
    for call in range(CALLS):
        user = ("ana", "bo")[call % 2]
        reserve = LedgerEntry(id=f"c{call}", kind="reserve", time=time, amount=0.05, model="gpt-image-2", user=user)
        settle = LedgerEntry(
            id=f"c{call}", kind="settle", time=time, amount=EACH, model="gpt-image-2", user=user, images=1, exact=True
        )
        assert store.append_ledger(month, 2 * call, reserve)
        assert store.append_ledger(month, 2 * call + 1, settle)
    return output_dir / ".ledger" / month


async def test_a_budget_counts_the_calls_a_checkpoint_holds_without_reading_them_again(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path, clock: FrozenClock
) -> None:
    month = write_month(output_dir, clock)
    settings = make_settings(daily_budget=1.0)
    async with open_client(settings, clock) as client:
        first = report_of(await client.call_tool("usage_report", {}))
    for entry in month.glob("0*.json"):
        entry.unlink()  # what the checkpoint holds is not read again, so it may as well be gone

    async with open_client(settings, clock) as client:
        refused = await client.call_tool("generate_image", HIGH)
        later = report_of(await client.call_tool("usage_report", {}))

    assert first["today"]["spent"] == pytest.approx(CALLS * EACH)
    assert refused.is_error and "daily budget of $1.000" in text_of(refused), text_of(refused)
    assert later["today"]["spent"] == pytest.approx(CALLS * EACH)
    assert later["calls"] == CALLS and later["images"] == CALLS


async def test_a_damaged_checkpoint_is_ignored_and_the_month_read_from_its_start(
    make_settings: SettingsFactory,
    emulator: Emulator,
    output_dir: Path,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    month = write_month(output_dir, clock)
    (month / "checkpoint.json").write_bytes(b'{"through": 398, "closed": [["nonsense"]]}')
    caplog.set_level(logging.WARNING)

    async with open_client(make_settings(daily_budget=1.0), clock) as client:
        refused = await client.call_tool("generate_image", HIGH)
        report = report_of(await client.call_tool("usage_report", {}))

    assert refused.is_error and "daily budget of $1.000" in text_of(refused), text_of(refused)
    assert report["today"]["spent"] == pytest.approx(CALLS * EACH) and report["calls"] == CALLS
    assert any("damaged ledger checkpoint" in record.getMessage() for record in caplog.records)
