"""A server told to stop (SIGTERM, or its client closing stdin) answers every call in flight before it goes.

The emulator holds the upstream request, so the call is in flight when the server is told to stop. Released within
the shutdown grace period, the call answers with its images; never released, it answers with its job id before the
grace period ends, and the job's record then says it was stopped, for the same server started again (or any other
instance) to tell whoever asks. Meanwhile the server takes no new calls: over HTTP it stops listening (a load
balancer sends the next connection elsewhere), over stdio a new call is refused with a message saying so.
"""

from __future__ import annotations

import signal
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp.types import CallToolResult

from tests.fake_openai import Emulator
from tests.support.results import entries, stored_images, text_of
from tests.support.servers import Mode, http_server, open_client, raw_stdio, server_env, tool_call
from tests.support.waiting import PATIENCE, until

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

GENERATIONS = "/images/generations"
STOPPING = "shutting down:"
"""What the server logs when the drain begins."""


async def until_logged(log: Path, text: str) -> None:
    await until(lambda: text in log.read_text(), f"the server to log {text!r}")


def refused(origin: str) -> bool:
    """Whether the server has stopped listening (a balancer's next connection goes elsewhere)."""
    try:
        httpx2.get(f"{origin}/healthz", timeout=2)
    except httpx2.TransportError:
        return True
    return False


async def call_then_leave(url: str, mode: Mode, results: list[CallToolResult]) -> None:
    """One call from a client of its own, which lists the tools first as clients do (the SDK's client checks a
    result against its tool's output schema, and would ask a stopped server for it). Leaving, a legacy client ends
    its session with a request that a stopped server no longer takes, which is no concern of the test: a call that
    got no answer leaves `results` empty."""
    try:
        async with open_client(url, mode=mode) as client:
            await client.list_tools()
            results.append(await client.call_tool("generate_image", {"prompt": "a lighthouse at dusk"}))
    except* httpx2.TransportError:
        if not results:
            raise


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_sigterm_answers_the_call_in_flight_with_its_images(
    emulator: Emulator, output_dir: Path, tmp_path: Path, mode: Mode
) -> None:
    log = tmp_path / "server.log"
    env = server_env(emulator, output_dir, MCP_IMAGES_RESPONSE_DEADLINE="0", MCP_IMAGES_SHUTDOWN_GRACE="60")
    results: list[CallToolResult] = []
    with http_server(env, log=log) as (origin, process), emulator.hold(GENERATIONS) as upstream:
        async with anyio.create_task_group() as group:
            group.start_soon(call_then_leave, f"{origin}/mcp", mode, results)
            await upstream.until_held()
            process.send_signal(signal.SIGTERM)
            await until_logged(log, STOPPING)
            await until(lambda: refused(origin), "the server to stop listening")
            upstream.release()
        await anyio.to_thread.run_sync(partial(process.wait, timeout=PATIENCE))

    [result] = results
    assert not result.is_error, text_of(result)
    [image] = entries(result)
    assert [str(path) for path in stored_images(output_dir)] == [image["path"]]
    assert process.returncode == 0


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_sigterm_answers_a_call_the_grace_period_cannot_wait_for_with_its_job_id(
    emulator: Emulator, output_dir: Path, tmp_path: Path, mode: Mode
) -> None:
    log = tmp_path / "server.log"
    env = server_env(emulator, output_dir, MCP_IMAGES_RESPONSE_DEADLINE="0", MCP_IMAGES_SHUTDOWN_GRACE="2")
    results: list[CallToolResult] = []
    with emulator.hold(GENERATIONS) as upstream:
        with http_server(env, log=log) as (origin, process):
            async with anyio.create_task_group() as group:
                group.start_soon(call_then_leave, f"{origin}/mcp", mode, results)
                await upstream.until_held()
                process.send_signal(signal.SIGTERM)
            await anyio.to_thread.run_sync(partial(process.wait, timeout=PATIENCE))
        [result] = results
        status = result.structured_content or {}
        assert (status.get("status"), result.is_error) == ("running", False), text_of(result)
        assert "This server is stopping" in text_of(result)
        job_id = status["job_id"]
        with http_server(env, log=log) as (origin, _), anyio.fail_after(PATIENCE):
            async with open_client(f"{origin}/mcp", mode=mode) as restarted:
                asked = await restarted.call_tool("get_job", {"job_id": job_id})

    assert process.returncode == 0
    assert asked.is_error
    assert text_of(asked).startswith(
        f"Job {job_id} was stopped: its server stopped (the shutdown grace period of 2 s ran out), before the image "
        "API answered, so it will not finish."
    )


def generate(request_id: int, prompt: str) -> dict[str, Any]:
    return tool_call(request_id, "generate_image", {"prompt": prompt})


@pytest.mark.parametrize("stop", ["end of stdin", "SIGTERM"])
async def test_a_stopping_stdio_server_answers_the_call_in_flight(
    emulator: Emulator, output_dir: Path, tmp_path: Path, stop: str
) -> None:
    """The client stops the server the way the MCP spec says (close stdin, then SIGTERM) and keeps reading: the
    call in flight answers with its images, and a call sent after the signal is refused, saying why."""
    log = tmp_path / "server.log"
    env = server_env(emulator, output_dir, MCP_IMAGES_RESPONSE_DEADLINE="0", MCP_IMAGES_SHUTDOWN_GRACE="60")
    with log.open("wb") as stderr, raw_stdio(env, stderr) as server, emulator.hold(GENERATIONS) as upstream:
        server.send(generate(1, "a lighthouse at dusk"))
        await upstream.until_held()
        if stop == "SIGTERM":
            server.process.send_signal(signal.SIGTERM)
            await until_logged(log, STOPPING)
            server.send(generate(2, "one more"))
            late = await server.answer(2)
        else:
            server.close_stdin()
            await until_logged(log, STOPPING)
        upstream.release()
        answer = await server.answer(1)
        await anyio.to_thread.run_sync(partial(server.process.wait, timeout=PATIENCE))

    result = answer["result"]
    assert not result.get("isError"), result
    [image] = result["structuredContent"]["images"]
    assert [str(path) for path in stored_images(output_dir)] == [image["path"]]
    assert server.process.returncode == 0
    if stop == "SIGTERM":
        assert late["result"]["isError"] is True
        assert late["result"]["content"][0]["text"].startswith("This server is stopping and takes no new calls;")
        assert len(emulator.requests_to(GENERATIONS)) == 1, "the refused call sent nothing"


@pytest.mark.parametrize("stop", ["end of stdin", "SIGTERM"])
async def test_a_stopping_stdio_server_answers_a_slow_call_with_its_job_id(
    emulator: Emulator, output_dir: Path, tmp_path: Path, stop: str
) -> None:
    log = tmp_path / "server.log"
    env = server_env(emulator, output_dir, MCP_IMAGES_RESPONSE_DEADLINE="0", MCP_IMAGES_SHUTDOWN_GRACE="2")
    with log.open("wb") as stderr, raw_stdio(env, stderr) as server, emulator.hold(GENERATIONS) as upstream:
        server.send(generate(1, "a lighthouse at dusk"))
        await upstream.until_held()
        if stop == "SIGTERM":
            server.process.send_signal(signal.SIGTERM)
        else:
            server.close_stdin()
        answer = await server.answer(1)
        await anyio.to_thread.run_sync(partial(server.process.wait, timeout=PATIENCE))

    result = answer["result"]
    assert result["structuredContent"]["status"] == "running", result
    assert "This server is stopping" in result["content"][0]["text"]
    assert server.process.returncode == 0
    assert f"job {result['structuredContent']['job_id']} did not finish within 2 s and was stopped" in log.read_text()
