"""Slow generations: progress while waiting, partial images, the response deadline and get_job, cancellation,
and shutdown, with the emulator's slow and streaming modes and short deadlines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.dispatcher import ProgressFnT
from mcp.types import CallToolResult

from tests.conftest import SettingsFactory, connect, decode_image, images_in, text_of
from tests.fake_openai import Emulator
from tests.images import write_png
from tests.test_transports import http_server, server_env

pytestmark = pytest.mark.anyio

Mode = Literal["legacy", "auto"]
Progress = list[tuple[float, float | None, str | None]]


def recorder() -> tuple[Progress, ProgressFnT]:
    seen: Progress = []

    async def record(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    return seen, record


def messages(seen: Progress) -> list[str]:
    return [message or "" for _, _, message in seen]


def assert_increasing(seen: Progress) -> None:
    values = [progress for progress, _, _ in seen]
    assert values == sorted(values) and len(set(values)) == len(values), values


async def wait_for_images(output_dir: Path, count: int) -> list[Path]:
    with anyio.fail_after(15):
        while True:
            images = sorted(p for p in output_dir.glob("*") if p.suffix in (".png", ".jpg", ".webp"))
            if len(images) >= count:
                return images
            await anyio.sleep(0.05)


async def until_done(client: Client, job_id: str, progress: ProgressFnT | None = None) -> CallToolResult:
    """What an assistant does with a job id: call get_job until the answer is no longer 'running'."""
    for _ in range(40):
        result = await client.call_tool("get_job", {"job_id": job_id}, progress_callback=progress)
        if result.is_error or (result.structured_content or {}).get("status") != "running":
            return result
    raise AssertionError(f"job {job_id} never finished")


async def test_streamed_partials_become_progress(make_settings: SettingsFactory, emulator: Emulator) -> None:
    emulator.stream_interval = 0.05
    seen, record = recorder()
    async with connect(make_settings(), mode="legacy") as client:
        result = await client.call_tool("generate_image", {"prompt": "a slow lake"}, progress_callback=record)

    assert not result.is_error, text_of(result)
    [request] = emulator.requests_to("/images/generations")
    assert request.json is not None
    assert (request.json["stream"], request.json["partial_images"]) == (True, 2)
    said = messages(seen)
    assert said[0] == "request sent to gpt-image-1"
    assert [m.split(" received")[0] for m in said if m.startswith("partial")] == [
        "partial image 1 of 2",
        "partial image 2 of 2",
    ]
    assert_increasing(seen)
    assert result.structured_content is not None
    assert len(result.structured_content["images"]) == 1


async def test_no_progress_token_means_no_stream(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool("generate_image", {"prompt": "a quiet lake"})

    assert not result.is_error
    [request] = emulator.requests_to("/images/generations")
    assert request.json is not None
    assert "stream" not in request.json


async def test_models_that_do_not_stream_get_heartbeats(make_settings: SettingsFactory, emulator: Emulator) -> None:
    emulator.delay = 1.0
    seen, record = recorder()
    async with connect(make_settings(heartbeat_interval=0.2), mode="legacy") as client:
        result = await client.call_tool(
            "generate_image", {"prompt": "a slow owl", "model": "dall-e-3"}, progress_callback=record
        )

    assert not result.is_error, text_of(result)
    said = messages(seen)
    assert said[0] == "request sent to dall-e-3"
    heartbeats = [m for m in said if m.startswith("waiting for the image API: ")]
    assert len(heartbeats) >= 3
    assert heartbeats[-1].endswith(" s elapsed")
    assert_increasing(seen)


async def test_a_stream_that_ends_early_keeps_the_partial(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    emulator.stream_end_early = True
    seen, record = recorder()
    async with connect(make_settings(), mode="legacy") as client:
        result = await client.call_tool("generate_image", {"prompt": "cut short"}, progress_callback=record)
        listing = await client.call_tool("list_images", {})

    assert result.is_error
    text = text_of(result)
    assert text.startswith("The image stream ended before the final image arrived. The last partial image was kept as ")
    assert "(request id req_" in text
    assert listing.structured_content is not None
    [kept] = listing.structured_content["images"]
    assert kept["id"] in text
    assert Path(kept["path"]).parent == output_dir
    assert "partial image 2 of 2" in " ".join(messages(seen))

    job_id = json.loads(Path(kept["path"]).with_suffix(".json").read_text())["job_id"]
    async with connect(make_settings()) as restarted:
        recovered = await restarted.call_tool("get_job", {"job_id": job_id})
    assert recovered.is_error, "a kept partial is not presented as the job's result"
    assert text_of(recovered).startswith(f"No job '{job_id}' is known.")


async def test_a_stream_error_event_is_readable(make_settings: SettingsFactory, emulator: Emulator) -> None:
    emulator.stream_error = True
    _, record = recorder()
    async with connect(make_settings(), mode="legacy") as client:
        result = await client.call_tool("generate_image", {"prompt": "fails"}, progress_callback=record)

    assert result.is_error
    assert text_of(result).startswith("The image stream reported an error: Image generation failed midway.")


async def test_edits_stream_too(make_settings: SettingsFactory, emulator: Emulator, home: Path) -> None:
    write_png(home / "a.png", (512, 512))
    seen, record = recorder()
    async with connect(make_settings(), mode="legacy") as client:
        result = await client.call_tool(
            "edit_image", {"images": ["~/a.png"], "prompt": "snow"}, progress_callback=record
        )

    assert not result.is_error, text_of(result)
    [request] = emulator.requests_to("/images/edits")
    assert (request.form["stream"], request.form["partial_images"]) == (["true"], ["2"])
    assert sum(m.startswith("partial image") for m in messages(seen)) == 2


async def test_deadline_then_job_then_get_job(make_settings: SettingsFactory, emulator: Emulator) -> None:
    emulator.delay = 1.2
    async with connect(make_settings(response_deadline=0.8)) as client:
        first = await client.call_tool("generate_image", {"prompt": "a very slow mountain"})
        assert not first.is_error, text_of(first)
        status = first.structured_content
        assert status is not None
        assert set(status) == {"job_id", "status", "elapsed_seconds"}
        assert status["status"] == "running"
        assert 0.2 < status["elapsed_seconds"] < 1.2
        job_id = status["job_id"]
        assert f'Call get_job with job_id "{job_id}"' in text_of(first)

        done = await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 5})

    assert not done.is_error, text_of(done)
    assert done.structured_content is not None
    assert set(done.structured_content) == {"images", "model", "usage"}
    [entry] = done.structured_content["images"]
    assert Path(entry["path"]).is_file()
    assert text_of(done).startswith("Generated 1 image with gpt-image-1.")
    assert len(emulator.requests_to("/images/generations")) == 1, "the job was not sent twice"


async def test_get_job_waits_no_longer_than_the_deadline(make_settings: SettingsFactory, emulator: Emulator) -> None:
    emulator.delay = 2.0
    async with connect(make_settings(response_deadline=0.3)) as client:
        first = await client.call_tool("generate_image", {"prompt": "slow"})
        assert first.structured_content is not None
        again = await client.call_tool("get_job", {"job_id": first.structured_content["job_id"], "wait_seconds": 30})
        assert again.structured_content is not None
        assert again.structured_content["status"] == "running"
        assert again.structured_content["elapsed_seconds"] < 1.5
        unknown = await client.call_tool("get_job", {"job_id": "job_00000000"})
    assert unknown.is_error
    assert text_of(unknown).startswith("No job 'job_00000000' is known.")


async def test_the_latest_partial_is_shown_while_running(make_settings: SettingsFactory, emulator: Emulator) -> None:
    emulator.stream_interval = 0.4
    _, record = recorder()
    async with connect(make_settings(response_deadline=0.6), mode="legacy") as client:
        first = await client.call_tool("generate_image", {"prompt": "partial"}, progress_callback=record)
        assert first.structured_content is not None
        assert first.structured_content["status"] == "running"
        [preview] = images_in(first)
        assert decode_image(preview.data).size[0] > 0
        assert "Shown below: the latest partial image (partial image " in text_of(first)
        final = await until_done(client, first.structured_content["job_id"])
    assert final.structured_content is not None
    assert "images" in final.structured_content


async def test_a_finished_job_is_found_after_a_restart(make_settings: SettingsFactory, emulator: Emulator) -> None:
    emulator.delay = 0.6
    settings = make_settings(response_deadline=0.2)
    async with connect(settings) as client:
        first = await client.call_tool("generate_image", {"prompt": "survives", "n": 2, "quality": "low"})
        assert first.structured_content is not None
        job_id = first.structured_content["job_id"]
        finished = await until_done(client, job_id)
        assert finished.structured_content is not None

    async with connect(settings) as restarted:
        recovered = await restarted.call_tool("get_job", {"job_id": job_id})

    assert not recovered.is_error, text_of(recovered)
    assert recovered.structured_content is not None
    assert recovered.structured_content["images"] == finished.structured_content["images"]
    assert recovered.structured_content["usage"] == finished.structured_content["usage"]
    assert f"Recovered from the store: job {job_id} finished earlier." in text_of(recovered)


async def test_a_cancelled_call_still_stores_its_image(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    emulator.delay = 1.0
    async with connect(make_settings(response_deadline=0)) as client:
        with anyio.move_on_after(0.3):
            await client.call_tool("generate_image", {"prompt": "cancelled but kept"})
        [image] = await wait_for_images(output_dir, 1)
        listing = await client.call_tool("list_images", {})

    assert listing.structured_content is not None
    [entry] = listing.structured_content["images"]
    assert entry["path"] == str(image)
    assert not list(output_dir.glob(".partial-*")), "no half-written file is left behind"


async def test_cancel_upstream_aborts_the_request(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    emulator.stream_interval = 0.5
    _, record = recorder()
    async with connect(make_settings(response_deadline=0, cancel_upstream=True), mode="legacy") as client:
        with anyio.move_on_after(0.3):
            await client.call_tool("generate_image", {"prompt": "abort me"}, progress_callback=record)
        with anyio.fail_after(5):
            while emulator.streams_aborted == 0:
                await anyio.sleep(0.05)
    await anyio.sleep(0.5)
    assert emulator.streams_completed == 0
    assert not output_dir.exists() or not any(output_dir.iterdir())


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_progress_over_stdio(emulator: Emulator, output_dir: Path, mode: Mode) -> None:
    emulator.stream_interval = 0.05
    env = server_env(emulator, output_dir, MCP_IMAGES_HEARTBEAT_INTERVAL="0.2")
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_server_images"], env=env)
    seen, record = recorder()
    async with Client(params, mode=mode) as client:
        result = await client.call_tool("generate_image", {"prompt": "over stdio"}, progress_callback=record)
    assert not result.is_error, text_of(result)
    said = messages(seen)
    assert said[0] == "request sent to gpt-image-1"
    assert sum(m.startswith("partial image") for m in said) == 2
    assert_increasing(seen)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_progress_and_jobs_over_http(emulator: Emulator, output_dir: Path, mode: Mode) -> None:
    emulator.stream_interval = 0.3
    env = server_env(emulator, output_dir, MCP_IMAGES_RESPONSE_DEADLINE="0.5")
    seen, record = recorder()
    with http_server(env) as (origin, _):
        async with Client(f"{origin}/mcp", mode=mode) as client:
            first = await client.call_tool("generate_image", {"prompt": "over http"}, progress_callback=record)
            assert first.structured_content is not None, text_of(first)
            job_id = first.structured_content["job_id"]
            final = await until_done(client, job_id, record)  # get_job waits at most the 0.5 s deadline
    assert final.structured_content is not None
    assert "images" in final.structured_content, text_of(final)
    said = messages(seen)
    assert said[0] == "request sent to gpt-image-1"
    assert sum(m.startswith("partial image") for m in said) == 2, said


async def test_end_of_stdin_waits_for_running_jobs(emulator: Emulator, output_dir: Path) -> None:
    # The SDK's stdio client kills a server 2 s after closing its stdin, so the job must end within that.
    emulator.delay = 1.0
    env = server_env(emulator, output_dir, MCP_IMAGES_RESPONSE_DEADLINE="0.2")
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_server_images"], env=env)
    async with Client(params) as client:
        first = await client.call_tool("generate_image", {"prompt": "finish before exit"})
        assert first.structured_content is not None
        assert first.structured_content["status"] == "running"
    # The client closed stdin at once; the server stayed until the job had stored its image.
    assert len(list(output_dir.glob("*.png"))) == 1


async def test_sigterm_gives_jobs_a_grace_period(emulator: Emulator, output_dir: Path) -> None:
    emulator.delay = 1.5
    env = server_env(emulator, output_dir, MCP_IMAGES_RESPONSE_DEADLINE="0.2", MCP_IMAGES_SHUTDOWN_GRACE="10")
    with http_server(env) as (origin, process):
        async with Client(f"{origin}/mcp", mode="legacy") as client:
            first = await client.call_tool("generate_image", {"prompt": "graceful"})
            assert first.structured_content is not None
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    logs = stderr.decode()
    [image] = list(output_dir.glob("*.png"))
    assert f"finished during shutdown; kept {image.stem.rsplit('-', 1)[1]} ({image})" in logs


def test_sigterm_on_stdio_waits_too(emulator: Emulator, output_dir: Path) -> None:
    """A raw stdio session: start a slow call, send SIGTERM, and find the image stored before the exit."""
    emulator.delay = 1.2
    env = {**os.environ, **server_env(emulator, output_dir, MCP_IMAGES_RESPONSE_DEADLINE="0")}
    process = subprocess.Popen(
        [sys.executable, "-m", "mcp_server_images"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    lines = [
        '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
        '"capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}',
        '{"jsonrpc":"2.0","method":"notifications/initialized"}',
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"generate_image",'
        '"arguments":{"prompt":"sigterm"}}}',
    ]
    process.stdin.write(("\n".join(lines) + "\n").encode())
    process.stdin.flush()
    assert b'"id":1' in process.stdout.readline()
    deadline = time.monotonic() + 10
    while not emulator.requests_to("/images/generations") and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    assert len(list(output_dir.glob("*.png"))) == 1, stderr.decode()
    assert "finished during shutdown; kept" in stderr.decode()


async def test_cancelling_over_stdio_keeps_the_image(emulator: Emulator, output_dir: Path) -> None:
    emulator.delay = 1.0
    env = server_env(emulator, output_dir, MCP_IMAGES_RESPONSE_DEADLINE="0")
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_server_images"], env=env)
    async with Client(params, mode="legacy") as client:
        with anyio.move_on_after(0.4) as scope:
            await client.call_tool("generate_image", {"prompt": "cancelled over stdio"})
        assert scope.cancelled_caught
        [image] = await wait_for_images(output_dir, 1)
        listing = await client.call_tool("list_images", {})
    assert listing.structured_content is not None
    assert listing.structured_content["images"][0]["path"] == str(image)


async def test_closing_the_http_request_stream_keeps_the_image(emulator: Emulator, output_dir: Path) -> None:
    emulator.delay = 1.0
    env = server_env(emulator, output_dir, MCP_IMAGES_RESPONSE_DEADLINE="0")
    with http_server(env) as (origin, _):
        async with Client(f"{origin}/mcp") as client:
            with anyio.move_on_after(0.4) as scope:
                await client.call_tool("generate_image", {"prompt": "cancelled over http"})
            assert scope.cancelled_caught
            await wait_for_images(output_dir, 1)
    assert len(emulator.requests_to("/images/generations")) == 1


async def test_cancel_upstream_over_stdio(emulator: Emulator, output_dir: Path) -> None:
    emulator.stream_interval = 0.5
    env = server_env(emulator, output_dir, MCP_IMAGES_RESPONSE_DEADLINE="0", MCP_IMAGES_CANCEL_UPSTREAM="true")
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_server_images"], env=env)
    _, record = recorder()
    async with Client(params, mode="legacy") as client:
        with anyio.move_on_after(0.6):
            await client.call_tool("generate_image", {"prompt": "abort over stdio"}, progress_callback=record)
        with anyio.fail_after(5):
            while emulator.streams_aborted == 0:
                await anyio.sleep(0.05)
    assert emulator.streams_completed == 0
    assert not output_dir.exists() or not list(output_dir.glob("*.png"))
