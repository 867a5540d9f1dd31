"""Slow generations: progress while waiting, partial images, the response deadline and get_job, cancellation,
and shutdown.

Nothing here waits for a number of seconds or asserts on one: the emulator holds the upstream request (or its
stream, between partial images) until the test has seen what it wants to see, then the test releases it. A short
response deadline is used only while the request is held, so the deadline answer always comes first.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO, Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from tests.fake_openai import Emulator
from tests.support.images import decode_image, write_png
from tests.support.progress import ProgressLog
from tests.support.results import images_in, stored_images, text_of, wait_for_images
from tests.support.servers import (
    COMMAND,
    Mode,
    Opener,
    SettingsFactory,
    Transport,
    http_server,
    open_client,
    over,
    server_env,
)
from tests.support.waiting import PATIENCE, patiently, until

pytestmark = pytest.mark.anyio

GENERATIONS = "/images/generations"
HEARTBEAT = "waiting for the image API: "
WAITING_FOR_JOBS = "running job(s) to finish"
"""What the server logs when it stops with jobs still running and waits for them."""


async def until_done(client: Client, job_id: str) -> CallToolResult:
    """What an assistant does with a job id: call get_job until the answer is no longer 'running'."""
    with patiently(f"job {job_id} to finish"):
        while True:
            result = await client.call_tool("get_job", {"job_id": job_id})
            if result.is_error or (result.structured_content or {}).get("status") != "running":
                return result


async def cancel_when(
    client: Client,
    arguments: dict[str, Any],
    reached: Callable[[], Awaitable[None]],
    progress: ProgressLog | None = None,
) -> None:
    """Start generate_image, wait until `reached` returns (the upstream request got where the test wants it), then
    cancel the call as a user would.

    A list_images round trip follows: the cancellation travels ahead of it, so once it has answered the server has
    seen the cancellation, and releasing the upstream request afterwards cannot beat it.
    """
    callback = progress.record if progress else None
    async with anyio.create_task_group() as group:
        group.start_soon(partial(client.call_tool, "generate_image", arguments, progress_callback=callback))
        await reached()
        group.cancel_scope.cancel()
    await client.call_tool("list_images", {})


@pytest.mark.parametrize(
    ("transport", "mode"),
    over(("memory", "legacy"), ("stdio", "legacy"), ("stdio", "auto"), ("http", "legacy"), ("http", "auto")),
)
async def test_streamed_partials_become_progress(
    client_over: Opener, emulator: Emulator, transport: Transport, mode: Mode
) -> None:
    progress = ProgressLog()
    async with client_over(transport, mode) as client:
        result = await client.call_tool("generate_image", {"prompt": "a slow lake"}, progress_callback=progress.record)

    assert not result.is_error, text_of(result)
    [request] = emulator.requests_to(GENERATIONS)
    assert request.json is not None
    assert (request.json["stream"], request.json["partial_images"]) == (True, 2)
    assert progress.messages[0] == "request sent to gpt-image-2.6-flare"
    assert [m.split(" received")[0] for m in progress.messages if m.startswith("partial")] == [
        "partial image 1 of 2",
        "partial image 2 of 2",
    ]
    progress.assert_increasing()
    assert result.structured_content is not None
    assert len(result.structured_content["images"]) == 1


async def test_no_progress_token_means_no_stream(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool("generate_image", {"prompt": "a quiet lake"})

    assert not result.is_error
    [request] = emulator.requests_to(GENERATIONS)
    assert request.json is not None
    assert "stream" not in request.json


async def test_models_that_do_not_stream_get_heartbeats(make_settings: SettingsFactory, emulator: Emulator) -> None:
    emulator.set(serves_retired=True)  # a gateway that still serves dall-e-3, which does not stream
    progress = ProgressLog()
    results: list[CallToolResult] = []

    async def call(client: Client) -> None:
        arguments = {"prompt": "a slow owl", "model": "dall-e-3"}
        results.append(await client.call_tool("generate_image", arguments, progress_callback=progress.record))

    async with open_client(make_settings(heartbeat_interval=0.2), mode="legacy") as client:
        with emulator.hold(GENERATIONS) as upstream:
            async with anyio.create_task_group() as group:
                group.start_soon(call, client)
                await progress.until(HEARTBEAT, count=2)
                upstream.release()

    [result] = results
    assert not result.is_error, text_of(result)
    assert progress.messages[0] == "request sent to dall-e-3"
    heartbeats = [m for m in progress.messages if m.startswith(HEARTBEAT)]
    assert all(m.endswith(" s elapsed") for m in heartbeats), heartbeats
    progress.assert_increasing()


async def test_a_stream_that_ends_early_keeps_the_partial(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    emulator.set(stream_end_early=True)
    progress = ProgressLog()
    async with open_client(make_settings(), mode="legacy") as client:
        result = await client.call_tool("generate_image", {"prompt": "cut short"}, progress_callback=progress.record)
        listing = await client.call_tool("list_images", {})

    assert result.is_error
    text = text_of(result)
    assert text.startswith("The image stream ended before the final image arrived. The last partial image was kept as ")
    assert "(request id req_" in text
    assert listing.structured_content is not None
    [kept] = listing.structured_content["images"]
    assert kept["id"] in text
    assert Path(kept["path"]).parent == output_dir
    assert "partial image 2 of 2" in " ".join(progress.messages)

    job_id = json.loads(Path(kept["path"]).with_suffix(".json").read_text())["job_id"]
    async with open_client(make_settings()) as restarted:
        recovered = await restarted.call_tool("get_job", {"job_id": job_id})
    assert recovered.is_error, "a kept partial is not presented as the job's result"
    assert text_of(recovered) == text, "the restarted server finds the job's record and its failure"


async def test_a_stream_error_event_is_readable(make_settings: SettingsFactory, emulator: Emulator) -> None:
    emulator.set(stream_error=True)
    progress = ProgressLog()
    async with open_client(make_settings(), mode="legacy") as client:
        result = await client.call_tool("generate_image", {"prompt": "fails"}, progress_callback=progress.record)

    assert result.is_error
    assert text_of(result).startswith("The image stream reported an error: Image generation failed midway.")


async def test_edits_stream_too(make_settings: SettingsFactory, emulator: Emulator, home: Path) -> None:
    write_png(home / "a.png", (512, 512))
    progress = ProgressLog()
    async with open_client(make_settings(), mode="legacy") as client:
        result = await client.call_tool(
            "edit_image", {"images": ["~/a.png"], "prompt": "snow"}, progress_callback=progress.record
        )

    assert not result.is_error, text_of(result)
    [request] = emulator.requests_to("/images/edits")
    assert (request.form["stream"], request.form["partial_images"]) == (["true"], ["2"])
    assert progress.count("partial image") == 2


@pytest.mark.parametrize(("transport", "mode"), over(("memory", "auto"), ("http", "legacy"), ("http", "auto")))
async def test_deadline_then_job_then_get_job(
    client_over: Opener, emulator: Emulator, transport: Transport, mode: Mode
) -> None:
    async with client_over(transport, mode, response_deadline="0.5") as client:
        with emulator.hold(GENERATIONS):
            first = await client.call_tool("generate_image", {"prompt": "a very slow mountain"})
        assert not first.is_error, text_of(first)
        status = first.structured_content
        assert status is not None
        assert set(status) == {"job_id", "status", "elapsed_seconds"}
        assert status["status"] == "running"
        assert isinstance(status["elapsed_seconds"], float)
        job_id = status["job_id"]
        assert f'Call get_job with job_id "{job_id}"' in text_of(first)

        done = await until_done(client, job_id)

    assert not done.is_error, text_of(done)
    assert done.structured_content is not None
    assert set(done.structured_content) == {"images", "model", "usage", "cost"}
    [entry] = done.structured_content["images"]
    assert Path(entry["path"]).is_file()
    assert text_of(done).startswith("Generated 1 image with gpt-image-2.6-flare.")
    assert len(emulator.requests_to(GENERATIONS)) == 1, "the job was not sent twice"


async def test_get_job_waits_no_longer_than_the_deadline(make_settings: SettingsFactory, emulator: Emulator) -> None:
    async with open_client(make_settings(response_deadline=0.5)) as client:
        with emulator.hold(GENERATIONS):
            first = await client.call_tool("generate_image", {"prompt": "slow"})
            assert first.structured_content is not None
            job_id = first.structured_content["job_id"]
            with patiently("get_job to answer at the deadline rather than wait the hour it was asked to"):
                again = await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 3600})
            assert again.structured_content is not None
            assert again.structured_content["status"] == "running"
        unknown = await client.call_tool("get_job", {"job_id": "job_00000000"})
    assert unknown.is_error
    assert text_of(unknown).startswith("No job 'job_00000000' is known.")


async def test_the_latest_partial_is_shown_while_running(make_settings: SettingsFactory, emulator: Emulator) -> None:
    progress = ProgressLog()
    async with open_client(make_settings(response_deadline=0.5), mode="legacy") as client:
        with emulator.hold(GENERATIONS, after_partials=1):
            first = await client.call_tool("generate_image", {"prompt": "partial"}, progress_callback=progress.record)
            assert first.structured_content is not None
            assert first.structured_content["status"] == "running"
            job_id = first.structured_content["job_id"]
            status = first
            with patiently("get_job to show the first partial image"):  # it may come after the deadline answer
                while "Shown below: the latest partial image" not in text_of(status):
                    status = await client.call_tool("get_job", {"job_id": job_id})
        [preview] = images_in(status)
        assert decode_image(preview.data).size[0] > 0
        assert "Shown below: the latest partial image (partial image 1 of 2 received after " in text_of(status)
        final = await until_done(client, job_id)
    assert final.structured_content is not None
    assert "images" in final.structured_content


async def test_a_finished_job_is_found_after_a_restart(make_settings: SettingsFactory, emulator: Emulator) -> None:
    settings = make_settings(response_deadline=0.5)
    async with open_client(settings) as client:
        with emulator.hold(GENERATIONS):
            first = await client.call_tool("generate_image", {"prompt": "survives", "n": 2, "quality": "low"})
        assert first.structured_content is not None
        job_id = first.structured_content["job_id"]
        finished = await until_done(client, job_id)
        assert finished.structured_content is not None

    async with open_client(settings) as restarted:
        recovered = await restarted.call_tool("get_job", {"job_id": job_id})

    assert not recovered.is_error, text_of(recovered)
    assert recovered.structured_content is not None
    assert recovered.structured_content["images"] == finished.structured_content["images"]
    assert recovered.structured_content["usage"] == finished.structured_content["usage"]
    assert f"Job {job_id} ran on instance " in text_of(recovered), "found by its record in the folder"


@pytest.mark.parametrize(("transport", "mode"), over(("memory", "auto"), ("stdio", "legacy"), ("http", "auto")))
async def test_a_cancelled_call_still_stores_its_image(
    client_over: Opener, emulator: Emulator, output_dir: Path, transport: Transport, mode: Mode
) -> None:
    async with client_over(transport, mode, response_deadline="0") as client:
        with emulator.hold(GENERATIONS) as upstream:
            await cancel_when(client, {"prompt": f"cancelled over {transport}"}, upstream.until_held)
            assert stored_images(output_dir) == []
        [image] = await wait_for_images(output_dir, 1)
        listing = await client.call_tool("list_images", {})

    assert listing.structured_content is not None
    [entry] = listing.structured_content["images"]
    assert entry["path"] == str(image)
    assert len(emulator.requests_to(GENERATIONS)) == 1
    assert not list(output_dir.glob(".partial-*")), "no half-written file is left behind"


@pytest.mark.parametrize(("transport", "mode"), over(("memory", "legacy"), ("stdio", "legacy")))
async def test_cancel_upstream_aborts_the_request(
    client_over: Opener, emulator: Emulator, output_dir: Path, transport: Transport, mode: Mode
) -> None:
    progress = ProgressLog()
    async with client_over(transport, mode, response_deadline="0", cancel_upstream="true") as client:
        with emulator.hold(GENERATIONS, after_partials=1) as upstream:
            await cancel_when(client, {"prompt": "abort me"}, upstream.until_held, progress)
            await until(lambda: emulator.streams_aborted == 1, "the upstream stream to be closed")
    # The server has stopped: nothing it could still have stored is missing from what follows.
    assert emulator.streams_completed == 0
    assert stored_images(output_dir) == []


@contextmanager
def raw_stdio_server(env: dict[str, str], stderr: IO[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """A server on stdio driven by hand: initialised, with one generate_image call sent."""
    with subprocess.Popen(
        COMMAND, env={**os.environ, **env}, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr
    ) as process:
        assert process.stdin is not None
        lines = [
            '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
            '"capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}',
            '{"jsonrpc":"2.0","method":"notifications/initialized"}',
            '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"generate_image",'
            '"arguments":{"prompt":"stopped while running"}}}',
        ]
        process.stdin.write(("\n".join(lines) + "\n").encode())
        process.stdin.flush()
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


async def until_logged(log: Path, text: str) -> None:
    await until(lambda: text in log.read_text(), f"the server to log {text!r}")


@pytest.mark.subprocess
@pytest.mark.parametrize("stop", ["end of stdin", "SIGTERM"])
async def test_stopping_a_stdio_server_waits_for_running_jobs(
    emulator: Emulator, output_dir: Path, tmp_path: Path, stop: str
) -> None:
    """The client goes away (or the server is told to stop) while the image API is still working: the server
    stays until the job has stored its image."""
    log = tmp_path / "server.log"
    env = server_env(emulator, output_dir, MCP_IMAGES_RESPONSE_DEADLINE="0", MCP_IMAGES_SHUTDOWN_GRACE="60")
    with log.open("wb") as stderr, raw_stdio_server(env, stderr) as process, emulator.hold(GENERATIONS) as upstream:
        assert process.stdin is not None
        await upstream.until_held()
        if stop == "SIGTERM":
            process.send_signal(signal.SIGTERM)
        else:
            process.stdin.close()
        await until_logged(log, WAITING_FOR_JOBS)
        upstream.release()
        await until_logged(log, "finished during shutdown; kept")
        [image] = stored_images(output_dir)
        assert f"finished during shutdown; kept {image.stem.rsplit('-', 1)[1]} ({image})" in log.read_text()
        # SIGTERM alone ends the process: its stdin is still open.
        await anyio.to_thread.run_sync(partial(process.wait, timeout=PATIENCE))
        assert process.returncode == 0


@pytest.mark.subprocess
async def test_sigterm_gives_http_jobs_a_grace_period(emulator: Emulator, output_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    env = server_env(emulator, output_dir, MCP_IMAGES_RESPONSE_DEADLINE="0.5", MCP_IMAGES_SHUTDOWN_GRACE="60")
    with (
        http_server(env, log=log) as (origin, process),
        emulator.hold(GENERATIONS) as upstream,
    ):
        async with open_client(f"{origin}/mcp", mode="legacy") as client:
            first = await client.call_tool("generate_image", {"prompt": "graceful"})
            assert first.structured_content is not None
            assert first.structured_content["status"] == "running"
        process.send_signal(signal.SIGTERM)
        await until_logged(log, WAITING_FOR_JOBS)
        upstream.release()
        await anyio.to_thread.run_sync(partial(process.wait, timeout=PATIENCE))
    [image] = stored_images(output_dir)
    assert f"finished during shutdown; kept {image.stem.rsplit('-', 1)[1]} ({image})" in log.read_text()
