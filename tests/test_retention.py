"""Nothing grows forever: the records a call leaves (its job, its idempotency key, the S3 store's id claim) go after
the retention window, a job whose instance died is swept to "lost", images may expire, and an owner deletes them.

The servers run on frozen clocks the tests move past the window; the sweep runs every fraction of a second here,
and the tests wait for what it leaves, never for a number of seconds. Both stores are covered: the local folder
(its hidden `.jobs` and `.keys`) and the bucket (`jobs/`, `keys/`, `ids/`), read as an operator would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import obstore
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.fake_openai import Emulator
from tests.support.clock import FrozenClock
from tests.support.results import entries, stored_images, text_of
from tests.support.s3 import S3Server
from tests.support.servers import SettingsFactory, open_client
from tests.support.waiting import until

pytestmark = pytest.mark.anyio

GENERATIONS = "/images/generations"
DAY = 86400.0
SWEEPING = {"sweep_interval": 0.05, "record_retention_hours": 24}


def hidden(output_dir: Path, folder: str) -> list[str]:
    where = output_dir / folder
    return sorted(path.name for path in where.iterdir()) if where.is_dir() else []


def bucket_keys(s3: S3Server, prefix: str) -> list[str]:
    return sorted(meta["path"] for meta in obstore.list(s3.bucket_view(prefix)).collect())


async def test_records_of_finished_calls_go_after_the_window(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    clock = FrozenClock()
    settings = make_settings(**SWEEPING)
    async with open_client(settings, clock) as client:
        made = await client.call_tool("generate_image", {"prompt": "a tide pool", "idempotency_key": "tide"})
        [image] = entries(made)
        [record] = hidden(output_dir, ".jobs")
        assert len(hidden(output_dir, ".keys")) == 1
        job_id = record.removesuffix(".json")
        clock.advance(DAY + 60)
        await until(lambda: not hidden(output_dir, ".jobs") and not hidden(output_dir, ".keys"), "the sweep")
    async with open_client(settings, clock) as restarted:
        recovered = await restarted.call_tool("get_job", {"job_id": job_id})
        again = await restarted.call_tool("generate_image", {"prompt": "a tide pool", "idempotency_key": "tide"})

    assert [entry["id"] for entry in entries(recovered)] == [image["id"]], "images stay (expiry is off by default)"
    assert f"Recovered from the store: job {job_id} finished earlier." in text_of(recovered)
    assert entries(again)[0]["id"] != image["id"], "an expired key is a new call"
    assert len(emulator.requests_to(GENERATIONS)) == 2


async def test_a_job_whose_server_died_is_swept_to_lost(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    """Server A runs a job and stops renewing it as far as B can tell (B's clock is past A's lease): B's sweep
    writes the job's record as lost, so every reader gets the same answer."""
    settings = make_settings(response_deadline=0.2, job_lease=60, **SWEEPING)
    with emulator.hold(GENERATIONS) as upstream:
        async with open_client(settings, FrozenClock()) as a:
            started = await a.call_tool("generate_image", {"prompt": "an unfinished bridge"})
            assert started.structured_content is not None, text_of(started)
            job_id = started.structured_content["job_id"]
            later = FrozenClock()
            later.advance(300)
            async with open_client(settings, later) as b:
                record = output_dir / ".jobs" / f"{job_id}.json"
                await until(lambda: json.loads(record.read_text()).get("lost") is True, "B to sweep A's job")
                asked = await b.call_tool("get_job", {"job_id": job_id})
            upstream.release()

    assert asked.is_error
    assert text_of(asked).startswith(f"Job {job_id} was lost: instance ")
    assert "It had stored no image yet." in text_of(asked)


def image_names(output_dir: Path, bucket: tuple[S3Server, str] | None) -> Callable[[], list[str]]:
    """What the store holds of images (files or objects with their sidecars), as an operator lists it."""
    if bucket is None:
        return lambda: [path.name for path in stored_images(output_dir)]
    s3, prefix = bucket
    return lambda: [key for key in bucket_keys(s3, prefix) if key.endswith((".png", ".json"))]


@pytest.mark.parametrize("store", ["local", pytest.param("s3", marks=pytest.mark.subprocess)])
async def test_images_expire_when_asked_to(
    make_settings: SettingsFactory, output_dir: Path, request: pytest.FixtureRequest, store: str
) -> None:
    extra: dict[str, Any] = {}
    bucket = None
    if store == "s3":
        bucket = (request.getfixturevalue("s3_server"), request.getfixturevalue("s3_prefix"))
        extra = bucket[0].settings(bucket[1])
    listed = image_names(output_dir, bucket)
    clock = FrozenClock()
    async with open_client(make_settings(image_expiry_days=2, **SWEEPING, **extra), clock) as client:
        kept = await client.call_tool("generate_image", {"prompt": "a day-old print"})
        await until(lambda: len(listed()) >= 1, "the image to be stored")
        clock.advance(DAY)
        fresh = await client.call_tool("generate_image", {"prompt": "a fresh print"})
        clock.advance(1.5 * DAY)
        await until(lambda: len([name for name in listed() if name.endswith(".png")]) == 1, "the sweep to expire")
        listing = await client.call_tool("list_images", {})

    assert [entry["id"] for entry in entries(listing)] == [entries(fresh)[0]["id"]]
    assert entries(kept)[0]["id"] not in " ".join(listed())


async def test_delete_images_removes_the_image_its_sidecar_and_its_resource(client: Client, output_dir: Path) -> None:
    [first] = entries(await client.call_tool("generate_image", {"prompt": "keep or not"}))
    [second] = entries(await client.call_tool("generate_image", {"prompt": "keep this"}))

    deleted = await client.call_tool("delete_images", {"images": [first["uri"], "ffff0000"]})
    listing = await client.call_tool("list_images", {})
    with pytest.raises(MCPError):
        await client.read_resource(first["uri"])

    assert not deleted.is_error, text_of(deleted)
    assert deleted.structured_content is not None
    assert deleted.structured_content["deleted"] == [first["id"]]
    [not_deleted] = deleted.structured_content["not_deleted"]
    assert not_deleted["image"] == "ffff0000" and "No stored image has id 'ffff0000'" in not_deleted["reason"]
    assert [entry["id"] for entry in entries(listing)] == [second["id"]]
    assert [path.name for path in stored_images(output_dir)] == [Path(second["path"]).name]
    assert not Path(first["path"]).exists() and not Path(first["path"]).with_suffix(".json").exists()
    nothing = await client.call_tool("delete_images", {"images": [first["id"]]})
    assert nothing.is_error, "nothing deleted is an error that says why"


@pytest.mark.subprocess
async def test_the_bucket_keeps_no_record_beyond_the_window_and_deletes_with_links(
    make_settings: SettingsFactory, s3_server: S3Server, s3_prefix: str
) -> None:
    """In a bucket: a call leaves jobs/, keys/ and ids/ records, which the sweep removes after the window;
    delete_images removes the image, its sidecar and its id claim, and its presigned link stops working; an unknown
    job id is a clear answer."""
    clock = FrozenClock()
    settings = make_settings(**SWEEPING, **s3_server.settings(s3_prefix))
    async with open_client(settings, clock) as client:
        made = await client.call_tool("generate_image", {"prompt": "a harbour", "idempotency_key": "h"})
        [image] = entries(made)
        [other] = entries(await client.call_tool("generate_image", {"prompt": "a pier"}))
        records = [key.split("/")[0] for key in bucket_keys(s3_server, s3_prefix) if "/" in key]
        assert {"jobs", "keys", "ids"} <= set(records)
        clock.advance(DAY + 60)
        await until(
            lambda: not {"jobs", "keys", "ids"} & {k.split("/")[0] for k in bucket_keys(s3_server, s3_prefix)},
            "the sweep to remove the call records",
        )
        deleted = await client.call_tool("delete_images", {"images": [other["id"]]})
        unknown = await client.call_tool("get_job", {"job_id": "job_0123456789abcdef"})
        listing = await client.call_tool("list_images", {})

    assert not deleted.is_error, text_of(deleted)
    assert httpx2.get(other["url"], timeout=10).status_code == 404, "the link to a deleted image stops working"
    assert httpx2.get(image["url"], timeout=10).status_code == 200
    assert [entry["id"] for entry in entries(listing)] == [image["id"]]
    left = bucket_keys(s3_server, s3_prefix)
    assert not [key for key in left if other["id"] in key], left
    assert unknown.is_error
    assert text_of(unknown).startswith("No job 'job_0123456789abcdef' is known. No server is running it")
    assert "it stays in the shared store." in text_of(made), "the text is true of a bucket"
