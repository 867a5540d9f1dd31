"""Three instances on one bucket behind a real load balancer (nginx, round-robin, no affinity, configured with the
README's own example), under load: every instance restarted in turn, and one killed.

The emulator holds the image requests, so each event happens while calls are in flight: when an instance is told
to stop (SIGTERM) its calls answer with their images once released, the calls that arrive meanwhile go to the other
instances, and nothing is lost; when one is killed (SIGKILL), its clients retry with their idempotency keys, are
told about the same job (lost once its lease runs out), and nothing is paid twice. Each client is a user's client:
it calls, and when the answer is lost in transit (a 502, a stream cut short) or the instance says it is stopping,
calls again with the same key; answered with a job id, it asks get_job until the job ends. The figures are printed
(pytest -s shows them).
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.types import CallToolResult

from tests.fake_openai import Emulator
from tests.support.nginx import running_nginx, upstream_lines
from tests.support.results import text_of
from tests.support.s3 import S3Server
from tests.support.servers import Mode, free_port, http_server, open_client, server_env
from tests.support.waiting import PATIENCE, until

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess, pytest.mark.outside]

GENERATIONS = "/images/generations"
CLIENTS = 9
"""Calls in flight at each event: three per instance."""
ATTEMPTS = 8
STOPPING = "This server is stopping"
LOST = "was lost"


@dataclass
class Tally:
    """What the clients saw, and how each key's call ended."""

    calls: int = 0
    attempts: int = 0
    job_ids: int = 0
    """Answers that were a job id (then followed with get_job)."""
    errors: list[str] = field(default_factory=list)
    """Calls whose answer was lost in transit or refused by a stopping instance, each then retried."""
    ended: dict[str, str] = field(default_factory=dict)
    """key -> "images", "lost" or the error text."""

    def figures(self, emulator: Emulator) -> str:
        outcomes = Counter(end if end in ("images", "lost") else "error" for end in self.ended.values())
        sent = Counter(request.json.get("prompt") for request in emulator.requests_to(GENERATIONS) if request.json)
        return (
            f"calls {self.calls}, attempts {self.attempts}, images {outcomes['images']}, lost {outcomes['lost']}, "
            f"errors at the end {outcomes['error']}, answered with a job id {self.job_ids}, retries after an error "
            f"{len(self.errors)} {dict(Counter(error.split(': ', 1)[1] for error in self.errors))}, upstream requests "
            f"{sum(sent.values())} for {len(sent)} keys (most for one key: {max(sent.values(), default=0)})"
        )


async def user_call(url: str, mode: Mode, key: str, tally: Tally) -> None:
    """One call as a user's client makes it (see the module's docstring)."""
    tally.calls += 1
    arguments = {"prompt": f"load {key}", "idempotency_key": key}
    for _ in range(ATTEMPTS):
        tally.attempts += 1
        try:
            async with open_client(url, mode=mode) as client:
                result = await client.call_tool("generate_image", arguments)
                while job_of(result):
                    tally.job_ids += 1
                    result = await client.call_tool("get_job", {"job_id": job_of(result), "wait_seconds": 30})
        except Exception as exc:  # the answer was lost in transit: the client calls again with the same key
            tally.errors.append(f"{key}: {leaf(exc)}")
            continue
        if result.is_error and text_of(result).startswith(STOPPING):
            tally.errors.append(f"{key}: {text_of(result)[:60]}")
            continue
        tally.ended[key] = "images" if not result.is_error else "lost" if LOST in text_of(result) else text_of(result)
        return
    tally.ended[key] = f"no answer after {ATTEMPTS} attempts"


def leaf(exc: BaseException) -> str:
    """What went wrong underneath the client's exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return type(exc).__name__


def job_of(result: CallToolResult) -> str | None:
    status: dict[str, Any] = result.structured_content or {}
    return status["job_id"] if status.get("status") == "running" else None


class Fleet:
    """The instances, each on a fixed port so that nginx's configuration stays; stopped and started by name."""

    def __init__(self, emulator: Emulator, s3: S3Server, prefix: str, folder: Path, **extra: str) -> None:
        self.env = server_env(emulator, folder / "unused") | s3.env(prefix)
        self.env |= {"MCP_IMAGES_STATELESS_HTTP": "true", "MCP_IMAGES_MAX_CONCURRENCY": "16", **extra}
        self.folder = folder
        self.ports = {name: free_port() for name in "ABC"}
        self.running: dict[str, tuple[ExitStack, Any]] = {}

    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{port}" for port in self.ports.values()]

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def draining(self, name: str) -> bool:
        return "shutting down" in self.log(name).read_text()

    def start(self, name: str) -> None:
        stack = ExitStack()
        env = self.env | {"MCP_IMAGES_INSTANCE_NAME": name}
        _, process = stack.enter_context(http_server(env, port=self.ports[name], log=self.log(name)))
        self.running[name] = (stack, process)

    def signal(self, name: str, which: signal.Signals) -> None:
        self.running[name][1].send_signal(which)

    async def stopped(self, name: str) -> int:
        stack, process = self.running.pop(name)
        code: int = await anyio.to_thread.run_sync(partial(process.wait, timeout=PATIENCE * 2))
        stack.close()
        return code

    def close(self) -> None:
        for stack, _ in self.running.values():
            stack.close()


@contextmanager
def fleet_behind_nginx(
    emulator: Emulator, s3: S3Server, prefix: str, folder: Path, **extra: str
) -> Iterator[tuple[Fleet, str]]:
    fleet = Fleet(emulator, s3, prefix, folder, **extra)
    try:
        for name in fleet.ports:
            fleet.start(name)
        with running_nginx(fleet.addresses(), folder / "nginx") as origin:
            yield fleet, f"{origin}/mcp"
    finally:
        fleet.close()


async def a_round(url: str, mode: Mode, tally: Tally, keys: list[str], group: anyio.abc.TaskGroup) -> None:
    for key in keys:
        group.start_soon(user_call, url, mode, key, tally)


def keys_of(label: str) -> list[str]:
    return [f"{label}-{number}" for number in range(CLIENTS)]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_rolling_restart_under_load_loses_no_answer(
    emulator: Emulator, s3_server: S3Server, s3_prefix: str, tmp_path: Path, mode: Mode
) -> None:
    tally = Tally()
    with fleet_behind_nginx(emulator, s3_server, s3_prefix, tmp_path, MCP_IMAGES_SHUTDOWN_GRACE="60") as (fleet, url):
        for victim in "ABC":
            with emulator.hold(GENERATIONS) as upstream:
                async with anyio.create_task_group() as group:
                    await a_round(url, mode, tally, keys_of(f"{victim}-before"), group)
                    await upstream.until_held(CLIENTS)
                    fleet.signal(victim, signal.SIGTERM)
                    await until(partial(fleet.draining, victim), f"{victim} to begin its drain")
                    await a_round(url, mode, tally, keys_of(f"{victim}-during"), group)
                    await upstream.until_held(2 * CLIENTS)
                    upstream.release()
            assert await fleet.stopped(victim) == 0
            fleet.start(victim)
        passed_on = [
            line.split("upstream=")[1].split(" upstream_status=")[0] for line in upstream_lines(tmp_path / "nginx")
        ]

    skipped = sum("," in tried for tried in passed_on)
    print(f"\nrolling restart ({mode}): {tally.figures(emulator)}; nginx passed {skipped} request(s) past an instance")
    assert len(tally.ended) == tally.calls == 6 * CLIENTS
    assert set(tally.ended.values()) == {"images"}, tally.ended
    assert max(sent_per_key(emulator).values()) == 1, "no key was paid twice"
    assert len(sent_per_key(emulator)) == tally.calls
    assert {address for tried in passed_on for address in tried.split(", ")} == set(fleet.addresses())


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_killed_instance_under_load_pays_nothing_twice(
    emulator: Emulator, s3_server: S3Server, s3_prefix: str, tmp_path: Path, mode: Mode
) -> None:
    tally = Tally()
    with fleet_behind_nginx(emulator, s3_server, s3_prefix, tmp_path, MCP_IMAGES_JOB_LEASE="3") as (fleet, url):
        with emulator.hold(GENERATIONS) as upstream:
            async with anyio.create_task_group() as group:
                await a_round(url, mode, tally, keys_of("first"), group)
                await upstream.until_held(CLIENTS)
                fleet.signal("A", signal.SIGKILL)
                await until(lambda: fleet.running["A"][1].poll() is not None, "A to die")
                upstream.release()
        await fleet.stopped("A")
        async with anyio.create_task_group() as group:
            await a_round(url, mode, tally, keys_of("after"), group)

    print(f"\nkilled instance ({mode}): {tally.figures(emulator)}")
    ended = tally.ended
    assert len(ended) == tally.calls == 2 * CLIENTS
    assert set(ended.values()) <= {"images", "lost"}, ended
    lost = [key for key, end in ended.items() if end == "lost"]
    assert lost, "A had calls in flight when it was killed"
    assert all(key.startswith("first-") for key in lost)
    assert all(ended[key] == "images" for key in keys_of("after")), "after the kill, the others serve every call"
    assert len(tally.errors) >= len(lost), "each lost call's client saw its answer cut off, and retried"
    assert max(sent_per_key(emulator).values()) == 1, "no key was paid twice, the lost ones included"
    assert len(sent_per_key(emulator)) == tally.calls


def sent_per_key(emulator: Emulator) -> Counter[str]:
    return Counter(request.json["prompt"] for request in emulator.requests_to(GENERATIONS) if request.json)
