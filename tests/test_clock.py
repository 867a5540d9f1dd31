"""Issue 21, item 1: one clock. Every date and wall-clock time the server shows or compares comes from the clock it
was built with, so the suite passes on any day, and a server whose clock says 2031 speaks of 2031 everywhere:
stored records, the spend ledger's days and months, model lifecycle, and the leases of shared jobs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fake_openai import Emulator
from tests.support.clock import FrozenClock
from tests.support.results import text_of
from tests.support.s3 import S3Server
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio

LATER = datetime(2031, 5, 4, 10, 30, tzinfo=UTC)
"""Years after the catalog was written: every shutdown date in it has passed."""


async def test_records_ledger_and_report_take_their_dates_from_the_clock(
    make_settings: SettingsFactory, output_dir: Path
) -> None:
    async with open_client(make_settings(daily_budget=50.0), FrozenClock(LATER)) as client:
        made = await client.call_tool("generate_image", {"prompt": "a lighthouse"})
        report = await client.call_tool("usage_report", {})

    assert not made.is_error, text_of(made)
    assert made.structured_content is not None
    path = Path(made.structured_content["images"][0]["path"])
    assert path.name.startswith("20310504-103"), "the file is named by the clock's time"
    assert json.loads(path.with_suffix(".json").read_text())["created"].startswith("2031-05-04T10:3")
    assert [folder.name for folder in (output_dir / ".ledger").iterdir()] == ["2031-05"]
    assert report.structured_content is not None
    assert report.structured_content["today"]["period"] == "2031-05-04"
    assert report.structured_content["month"]["period"] == "2031-05"
    assert report.structured_content["today"]["resets"] == "2031-05-05T00:00:00Z"


@pytest.mark.parametrize(
    ("today", "warning", "line"),
    [
        (
            datetime(2026, 11, 30, 23, 0, tzinfo=UTC),
            "Warning: gpt-image-1.5 shuts down on 2026-12-01; use gpt-image-2.6-flare",
            "- gpt-image-1.5 [image; deprecated, shuts down on 2026-12-01]",
        ),
        (
            datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
            "Warning: gpt-image-1.5 was shut down by OpenAI on 2026-12-01; this provider still serves it; use "
            "gpt-image-2.6-flare",
            "- gpt-image-1.5 [image; was shut down on 2026-12-01]",
        ),
    ],
    ids=["before", "after"],
)
async def test_lifecycle_texts_follow_the_clock(
    make_settings: SettingsFactory, emulator: Emulator, today: datetime, warning: str, line: str
) -> None:
    async with open_client(make_settings(), FrozenClock(today)) as client:
        made = await client.call_tool("generate_image", {"prompt": "a lighthouse", "model": "gpt-image-1.5"})
        listed = await client.call_tool("list_models", {})

    assert not made.is_error, text_of(made)
    assert warning in text_of(made)
    assert any(shown.startswith(line) for shown in text_of(listed).splitlines()), text_of(listed)
    [request] = emulator.requests_to("/images/generations")
    assert request.json is not None and request.json["model"] == "gpt-image-1.5"


@pytest.mark.subprocess
async def test_a_shared_job_is_judged_lost_by_the_clock_of_the_instance_asking(
    make_settings: SettingsFactory, emulator: Emulator, s3_server: S3Server, s3_prefix: str
) -> None:
    """Instance A runs a job (its answer held upstream); B, on the same bucket, reads A's heartbeat against its
    own clock: with that clock an hour ahead, the job's lease has run out."""
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    settings = make_settings(response_deadline=0.05, job_lease=60, **s3_server.settings(s3_prefix))
    ahead = FrozenClock(start)
    with emulator.hold("/images/generations") as upstream:
        async with open_client(settings, FrozenClock(start)) as a, open_client(settings, ahead) as b:
            started = await a.call_tool("generate_image", {"prompt": "a lighthouse"})
            assert started.structured_content is not None, text_of(started)
            job_id = started.structured_content["job_id"]
            running = await b.call_tool("get_job", {"job_id": job_id, "wait_seconds": 0})
            ahead.advance(timedelta(hours=1).total_seconds())
            lost = await b.call_tool("get_job", {"job_id": job_id, "wait_seconds": 0})
            upstream.release()

    assert running.structured_content is not None and running.structured_content["status"] == "running"
    assert lost.is_error
    assert text_of(lost).startswith(f"Job {job_id} was lost: instance ")
    # A renewed it on its own clock, an hour behind B's: the message says when, by A's record.
    assert re.search(r"stopped renewing it at 2026-11-20 09:00:\d\d UTC \(lease 60 s\)", text_of(lost)), text_of(lost)
