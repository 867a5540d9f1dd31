"""A team deployment for real: two server instances in stateless HTTP mode on one SeaweedFS bucket.

What a user of either instance sees must be one server: an image made through A is read and listed through B, a
slow job started on A is answered by get_job on B (running, then finished, or failed), links in results fetch the
exact bytes, and when A is killed mid-job the images it had already received are in the bucket, findable from B
and from A restarted, while the job itself is reported lost once its lease runs out.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import obstore
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import BlobResourceContents, CallToolResult

from tests.fake_openai import Emulator, Fault
from tests.support.images import png_bytes
from tests.support.results import entries, text_of
from tests.support.s3 import S3Server
from tests.support.servers import SettingsFactory, http_server, open_client, run_command, server_env
from tests.support.upstream import b64_answer
from tests.support.waiting import PATIENCE, patiently

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

GENERATIONS = "/v1/images/generations"


@contextmanager
def instances(
    emulator: Emulator, s3: S3Server, prefix: str, tmp_path: Path, **per_name: dict[str, str]
) -> Iterator[dict[str, str]]:
    """One server process per name, all on the same bucket and prefix; yields name -> origin."""
    with ExitStack() as stack:
        origins = {}
        for name, extra in per_name.items():
            env = server_env(emulator, tmp_path / f"unused-{name}") | s3.env(prefix)
            env |= {"MCP_IMAGES_STATELESS_HTTP": "true", "MCP_IMAGES_INSTANCE_NAME": name, **extra}
            origin, _ = stack.enter_context(http_server(env, log=log_of(tmp_path, name)))
            origins[name] = f"{origin}/mcp"
        yield origins


def log_of(tmp_path: Path, name: str) -> Path:
    return tmp_path / f"{name}.log"


def show_logs(tmp_path: Path, *names: str) -> None:
    """What each instance did, for the record (pytest -s shows it)."""
    for name in names:
        lines = [line for line in log_of(tmp_path, name).read_text().splitlines() if "mcp_server_images" in line]
        print(f"--- instance {name} ---", *lines, sep="\n")


async def blob(client: Client, uri: str) -> bytes:
    result = await client.read_resource(uri)
    [contents] = result.contents
    assert isinstance(contents, BlobResourceContents)
    return base64.b64decode(contents.blob)


async def finished(client: Client, result: CallToolResult) -> CallToolResult:
    """The call's images: A answers with a job id when the machine is slower than its 1 s deadline."""
    for _ in range(60):
        job = result.structured_content or {}
        if job.get("status") != "running":
            return result
        result = await client.call_tool("get_job", {"job_id": job["job_id"]})
    raise AssertionError(f"job {job['job_id']} never finished")


def status_of(result: CallToolResult) -> dict[str, Any]:
    structured: dict[str, Any] | None = result.structured_content
    assert structured is not None, text_of(result)
    return structured


async def test_two_instances_are_one_server(
    emulator: Emulator, s3_server: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    held = png_bytes((48, 32), (10, 200, 90))
    release_slow, release_failing = threading.Event(), threading.Event()
    error = {"error": {"message": "Your request was rejected by the safety system.", "type": "invalid_request_error"}}
    emulator.enqueue(
        Fault(status=200, body=b64_answer(held), path=GENERATIONS, hold=release_slow),
        Fault(status=400, body=error, path=GENERATIONS, hold=release_failing),
    )
    slow_a = {"MCP_IMAGES_RESPONSE_DEADLINE": "1"}  # A answers with a job id while the emulator holds the answer
    try:
        with instances(emulator, s3_server, s3_prefix, tmp_path, A=slow_a, B={}) as url:
            async with open_client(url["A"]) as a, open_client(url["B"]) as b:
                await slow_job_started_on_a_is_answered_by_b(a, b, release_slow, held)
                await failed_job_on_a_is_reported_by_b(a, b, release_failing)
                await image_made_on_a_is_read_and_listed_on_b(a, b, emulator)
    finally:
        release_slow.set()
        release_failing.set()
        show_logs(tmp_path, "A", "B")


async def slow_job_started_on_a_is_answered_by_b(a: Client, b: Client, release: threading.Event, held: bytes) -> None:
    started = status_of(await a.call_tool("generate_image", {"prompt": "a slow lighthouse"}))
    assert started["status"] == "running"
    job_id = started["job_id"]

    seen_on_b = status_of(await b.call_tool("get_job", {"job_id": job_id, "wait_seconds": 0}))
    assert (seen_on_b["job_id"], seen_on_b["status"]) == (job_id, "running")

    async def release_once_b_waits(progress: float, total: float | None, message: str | None) -> None:
        assert message is not None and message.startswith("running on another instance")
        release.set()

    with anyio.fail_after(PATIENCE * 2):
        done_on_b = await b.call_tool(
            "get_job", {"job_id": job_id, "wait_seconds": 60}, progress_callback=release_once_b_waits
        )
    done_on_a = await a.call_tool("get_job", {"job_id": job_id})
    [image] = entries(done_on_b)
    assert [image["id"]] == [entry["id"] for entry in entries(done_on_a)]
    assert image["path"].startswith("s3://team-images/test-") and image["path"].endswith(f"-{image['id']}.png")
    assert httpx2.get(image["url"], timeout=10).content == held, "the presigned link fetches the exact bytes"
    assert f"Job {job_id} ran on instance A." in text_of(done_on_b)


async def failed_job_on_a_is_reported_by_b(a: Client, b: Client, release: threading.Event) -> None:
    started = status_of(await a.call_tool("generate_image", {"prompt": "something refused"}))
    job_id = started["job_id"]
    release.set()
    failed_on_a = await a.call_tool("get_job", {"job_id": job_id})
    failed_on_b = await b.call_tool("get_job", {"job_id": job_id})
    assert failed_on_a.is_error and failed_on_b.is_error
    assert "rejected by the safety system" in text_of(failed_on_b)
    assert text_of(failed_on_b) == text_of(failed_on_a)


async def image_made_on_a_is_read_and_listed_on_b(a: Client, b: Client, emulator: Emulator) -> None:
    [image] = entries(await finished(a, await a.call_tool("generate_image", {"prompt": "a paper lighthouse"})))
    sent = emulator.sent_images[-1]

    assert await blob(b, image["uri"]) == sent
    assert httpx2.get(image["url"], timeout=10).content == sent
    listed = await b.call_tool("list_images", {"query": "paper lighthouse"})
    [entry] = entries(listed)
    assert (entry["id"], entry["prompt"], entry["bytes"]) == (image["id"], "a paper lighthouse", len(sent))
    assert httpx2.get(entry["url"], timeout=10).content == sent
    [edit] = entries(await b.call_tool("edit_image", {"images": [image["id"]], "prompt": "add a flag"}))
    assert await blob(a, edit["uri"]) == emulator.sent_images[-1], "and A reads what B made"


async def test_a_killed_instance_loses_nothing_it_received(
    emulator: Emulator, s3_server: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    """dall-e-3 makes one image per request, so n=2 is two upstream requests: one answers, one is held. A is
    killed (SIGKILL) once the first image is stored. That image is in the bucket and found through B and through
    A restarted; the held answer, delivered after A died, reaches nobody, and the job is reported lost."""
    emulator.set(serves_retired=True)  # a gateway still routing dall-e-3, which makes one image per request
    never = threading.Event()
    emulator.enqueue(Fault(status=500, path=GENERATIONS, hold=never))
    try:
        with instances(emulator, s3_server, s3_prefix, tmp_path, B={}) as url:
            with http_server(instance_env(emulator, s3_server, s3_prefix, tmp_path), log=log_of(tmp_path, "A")) as (
                origin,
                process,
            ):
                stored = await kill_after_first_image(f"{origin}/mcp", process)
            kept = [meta["path"] for meta in obstore.list(s3_server.bucket_view(s3_prefix)).collect()]
            assert f"{stored}.png" in [name.split("-", 2)[-1] for name in kept]
            job_id = job_of(s3_server, s3_prefix, stored)
            async with open_client(url["B"]) as b:
                with patiently("B to list the image A stored (listings are cached for MCP_IMAGES_INDEX_TTL)"):
                    while not (found := entries(await b.call_tool("list_images", {}))):
                        await anyio.sleep(0.2)
                [listed] = found
                assert listed["id"] == stored
                assert await blob(b, listed["uri"]) in emulator.sent_images
                with anyio.fail_after(PATIENCE * 2):
                    lost = await b.call_tool("get_job", {"job_id": job_id, "wait_seconds": 30})
            restarted_env = instance_env(emulator, s3_server, s3_prefix, tmp_path)
            with http_server(restarted_env, log=log_of(tmp_path, "A")) as (origin, _):
                async with open_client(f"{origin}/mcp") as restarted_a:
                    again = await restarted_a.call_tool("get_job", {"job_id": job_id})
                    assert [e["id"] for e in entries(await restarted_a.call_tool("list_images", {}))] == [stored]
    finally:
        never.set()
        show_logs(tmp_path, "A", "B")
    assert lost.is_error and again.is_error
    assert text_of(lost).startswith(f"Job {job_id} was lost: instance A, which was running it, stopped renewing it")
    assert f"The images it had stored are kept: {stored}." in text_of(lost)
    assert f"The images it had stored are kept: {stored}." in text_of(again)


def instance_env(emulator: Emulator, s3: S3Server, prefix: str, tmp_path: Path) -> dict[str, str]:
    env = server_env(emulator, tmp_path / "unused-A") | s3.env(prefix)
    return env | {"MCP_IMAGES_STATELESS_HTTP": "true", "MCP_IMAGES_INSTANCE_NAME": "A", "MCP_IMAGES_JOB_LEASE": "3"}


async def kill_after_first_image(url: str, process: Any) -> str:
    """Start the two-request call on A, SIGKILL A as soon as it says an image is stored; return that image's id."""
    first_stored = anyio.Event()
    stored: list[str] = []

    async def watch(progress: float, total: float | None, message: str | None) -> None:
        if message and message.startswith("image ") and message.endswith(" stored"):
            stored.append(message.split()[1])
            first_stored.set()

    async def call() -> None:
        async with open_client(url) as a:
            with pytest.raises((MCPError, httpx2.HTTPError, anyio.BrokenResourceError, anyio.EndOfStream)):
                await a.call_tool(
                    "generate_image", {"prompt": "two boats", "model": "dall-e-3", "n": 2}, progress_callback=watch
                )

    with anyio.fail_after(PATIENCE * 2):
        async with anyio.create_task_group() as group:
            group.start_soon(call)
            await first_stored.wait()
            process.kill()
    return stored[0]


def job_of(s3: S3Server, prefix: str, image_id: str) -> str:
    """The job id the image's sidecar records, read from the bucket as an operator would."""
    view = s3.bucket_view(prefix)
    [sidecar] = [m["path"] for m in obstore.list(view).collect() if m["path"].endswith(f"-{image_id}.json")]
    job_id: str = json.loads(bytes(obstore.get(view, sidecar).bytes()))["job_id"]
    return job_id


async def test_save_to_writes_a_local_copy_of_a_bucket_image(
    make_settings: SettingsFactory, s3_server: S3Server, s3_prefix: str, home: Path
) -> None:
    """With a bucket there is no output folder on this machine: save_to is how a user gets a local file."""
    settings = make_settings(**s3_server.settings(s3_prefix))
    async with open_client(settings) as client:
        result = await client.call_tool("generate_image", {"prompt": "a kite", "save_to": str(home / "kite.png")})
        [image] = entries(result)
        stored = await blob(client, image["uri"])
    assert image["path"].startswith(f"s3://team-images/{s3_prefix}")
    assert (home / "kite.png").read_bytes() == stored
    assert not settings.output_dir.exists(), "nothing is written to the local output folder"


def test_a_wrong_key_stops_the_start_with_one_line(emulator: Emulator, s3_server: S3Server, tmp_path: Path) -> None:
    env = (
        server_env(emulator, tmp_path / "unused")
        | s3_server.env("any/")
        | {"MCP_IMAGES_S3_SECRET_ACCESS_KEY": "wrong-secret"}
    )
    result = run_command("--transport", "http", "--port", "0", env=env)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("mcp-server-images: Could not list the images in s3://team-images/any/: ")
    assert last.endswith("(check the bucket name, endpoint and credentials)")
    assert "Traceback" not in result.stderr and "wrong-secret" not in result.stderr
