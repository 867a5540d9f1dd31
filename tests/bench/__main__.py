"""`make bench`: what the server costs in time and memory, measured against the emulator on loopback.

Figures: cold start next to the SDK's bare server; per-call overhead (tool call minus the same upstream request
made directly) on a small image and on a ~4.7 MB noisy PNG; 32 concurrent calls over HTTP with 1 s of upstream
latency; peak memory held by one and by 32 large images in flight, and the server's size at rest; the size of
tools/list. Medians over several runs; a table on stdout and JSON in bench-results.json (or --out). Nothing here
passes or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters

from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[2]
LARGE_SIZE = "1536x1024"
SMALL_SIZE = "1024x1024"


@contextmanager
def emulator(*flags: str) -> Iterator[dict[str, str]]:
    """An emulator process; yields its base URL and key."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.emulator_process", *flags],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        yield json.loads(process.stdout.readline())
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def server_env(upstream: dict[str, str], output_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "MCP_IMAGES_BASE_URL": upstream["base_url"],
        "OPENAI_API_KEY": upstream["api_key"],
        "MCP_IMAGES_OUTPUT_DIR": str(output_dir),
        "MCP_IMAGES_LOG_LEVEL": "WARNING",
        **extra,
    }


@contextmanager
def http_server(env: dict[str, str], *args: str) -> Iterator[tuple[str, int]]:
    """A server on streamable HTTP; yields its MCP URL and process id once /healthz answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mcp_server_images", "--transport", "http", "--port", str(port), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx2.get(f"{origin}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.1)
        yield f"{origin}/mcp", process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


async def timed(action: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


async def median_of(runs: int, action: Callable[[], Awaitable[object]]) -> float:
    return statistics.median([await timed(action) for _ in range(runs)])


async def cold_start(runs: int, env: dict[str, str], output_dir: Path) -> dict[str, float]:
    """Spawn to tools/list over stdio, ours and the SDK's bare server, alternating so both see the same load."""

    async def start(args: list[str]) -> None:
        async with Client(StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(REPO))) as c:
            await c.list_tools()

    ours, bare = [], []
    for _ in range(runs):
        ours.append(await timed(lambda: start(["-m", "mcp_server_images"])))
        bare.append(await timed(lambda: start(["-m", "tests.bench.bare_server"])))
    return {"server_s": statistics.median(ours), "bare_sdk_s": statistics.median(bare)}


async def call_overhead(runs: int, upstream: dict[str, str], output_dir: Path, size: str) -> dict[str, float]:
    """Per-call overhead over stdio: the median, over `runs` pairs, of a tool call minus the same upstream request
    made directly right after it. Pairing keeps a slow moment of the machine (or of the emulator, whose own
    answer takes tens of ms for a large image) out of the difference."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_server_images"], env=server_env(upstream, output_dir), cwd=str(REPO)
    )
    arguments = {"prompt": "a benchmark", "size": size}
    async with Client(params) as client, httpx2.AsyncClient(timeout=120) as http:
        first = await client.call_tool("generate_image", arguments)
        assert not first.is_error, first.content
        assert first.structured_content is not None
        image_bytes = first.structured_content["images"][0]["bytes"]
        body = {"model": first.structured_content["model"], "prompt": "a benchmark", "n": 1, "size": size}
        headers = {"authorization": f"Bearer {upstream['api_key']}"}

        async def direct() -> None:
            response = await http.post(f"{upstream['base_url']}/images/generations", json=body, headers=headers)
            response.raise_for_status()

        await direct()
        tool_times, direct_times = [], []
        for _ in range(runs):
            tool_times.append(await timed(lambda: client.call_tool("generate_image", arguments)))
            direct_times.append(await timed(direct))
    return {
        "tool_s": statistics.median(tool_times),
        "direct_s": statistics.median(direct_times),
        "overhead_ms": statistics.median(t - d for t, d in zip(tool_times, direct_times, strict=True)) * 1000,
        "bytes": image_bytes,
    }


async def concurrent_calls(count: int, upstream: dict[str, str], output_dir: Path, rounds: int = 3) -> dict[str, float]:
    """`count` clients over HTTP, each making one call at the same moment, against 1 s of upstream latency.

    One round is not timed: a client's first call also lists the tools and compiles a validator for the output
    schema (the SDK client does both once), work of the measuring process, not of the server. The median of
    `rounds` timed rounds follows.
    """
    env = server_env(upstream, output_dir)
    with http_server(env, "--max-concurrency", str(count)) as (url, _pid):
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(Client(url)) for _ in range(count)]

            async def all_at_once() -> None:
                async with anyio.create_task_group() as group:
                    for client in clients:
                        group.start_soon(client.call_tool, "generate_image", {"prompt": "together", "size": SMALL_SIZE})

            first = await timed(all_at_once)
            wall = await median_of(rounds, all_at_once)
    return {"calls": count, "wall_s": wall, "first_round_s": first, "ideal_s": 1.0}


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


async def settled_rss(pid: int) -> int:
    """The resident size once the server is idle: after a large decode it hands freed memory back to the system
    (a moment after answering), and a baseline read before that would hide what the next call allocates anew."""
    previous, current = -1, memory_kb(pid, "VmRSS")
    for _ in range(30):
        if current == previous:
            break
        await anyio.sleep(0.1)
        previous, current = current, memory_kb(pid, "VmRSS")
    return current


def reset_peak(pid: int) -> None:
    """Make VmHWM start again from the current RSS (Linux: writing 5 to clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


RETURNING_ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
"""glibc hands every buffer of 128 KiB or more back to the system the moment it is freed (by default it raises
that threshold as large buffers come and go, and keeps them for later calls), so RSS follows what is held."""


async def peak_memory(upstream: dict[str, str], output_dir: Path, image_bytes: int) -> dict[str, float]:
    """What one large image in flight holds at its peak, and 32 at once; then what a server keeps at rest.

    The peaks are taken on a server whose allocator returns large buffers when they are freed: otherwise the
    figure says how much of an earlier call's memory the allocator happened to keep (the same build measured
    15 or 24 MB from one start to the next). The resident size at rest is taken on a server as users run it,
    after it starts and after the same calls: the buffers it keeps for the next call are what makes a call fast.
    """
    arguments = {"prompt": "memory", "size": LARGE_SIZE}
    figures: dict[str, float] = {"image_mb": image_bytes / 1e6}
    with http_server(server_env(upstream, output_dir, **RETURNING_ALLOCATOR), "--max-concurrency", "32") as (url, pid):
        async with Client(url) as client:
            await client.call_tool("generate_image", arguments)
            for count in (1, 32):
                baseline = await settled_rss(pid)
                reset_peak(pid)
                await calls_at_once(client, count, arguments)
                added_mb = (memory_kb(pid, "VmHWM") - baseline) / 1024
                figures[f"added_peak_mb_{count}"] = added_mb
                figures[f"per_image_x_encoded_{count}"] = added_mb * 1024 * 1024 / count / image_bytes
    with http_server(server_env(upstream, output_dir), "--max-concurrency", "32") as (url, pid):
        async with Client(url) as client:
            await client.list_tools()
            figures["rest_mb_started"] = await settled_rss(pid) / 1024
            for count in (1, 1, 32):
                await calls_at_once(client, count, arguments)
            figures["rest_mb_after"] = await settled_rss(pid) / 1024
    return figures


async def calls_at_once(client: Client, count: int, arguments: dict[str, Any]) -> None:
    async with anyio.create_task_group() as group:
        for _ in range(count):
            group.start_soon(client.call_tool, "generate_image", arguments)


async def tool_definitions(upstream: dict[str, str], output_dir: Path) -> dict[str, int]:
    """Bytes of tools/list, and of what a model reads of it (names, descriptions, input schemas)."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_server_images"], env=server_env(upstream, output_dir), cwd=str(REPO)
    )
    async with Client(params) as client:
        listed = await client.list_tools()
    whole = listed.model_dump_json(by_alias=True, exclude_none=True)
    visible = [
        {"name": tool.name, "description": tool.description, "inputSchema": tool.input_schema} for tool in listed.tools
    ]
    return {"tools_list_bytes": len(whole.encode()), "model_visible_bytes": len(json.dumps(visible).encode())}


def table(results: dict[str, Any]) -> str:
    cold, small, large = results["cold_start"], results["overhead_small"], results["overhead_large"]
    together, memory, tools = results["concurrency"], results["memory"], results["tools"]
    rows = [
        (
            "cold start to tools/list",
            f"{cold['server_s']:.3f} s vs bare SDK {cold['bare_sdk_s']:.3f} s "
            f"({cold['server_s'] / cold['bare_sdk_s']:.2f}x)",
        ),
        (f"overhead, small image ({small['bytes'] / 1e3:.0f} KB)", f"{small['overhead_ms']:.1f} ms"),
        (f"overhead, large image ({large['bytes'] / 1e6:.1f} MB)", f"{large['overhead_ms']:.1f} ms"),
        (
            f"{together['calls']} concurrent calls, 1 s upstream",
            f"{together['wall_s']:.2f} s wall (ideal 1 s; the clients' first round {together['first_round_s']:.2f} s)",
        ),
        (
            "peak RSS added, 1 large image",
            f"{memory['added_peak_mb_1']:.1f} MB ({memory['per_image_x_encoded_1']:.1f}x its encoded size)",
        ),
        (
            "peak RSS added, 32 large images",
            f"{memory['added_peak_mb_32']:.1f} MB ({memory['per_image_x_encoded_32']:.1f}x encoded size per image)",
        ),
        (
            "RSS at rest, default allocator",
            f"{memory['rest_mb_started']:.1f} MB started, {memory['rest_mb_after']:.1f} MB after 1+1+32 large images",
        ),
        ("tools/list", f"{tools['tools_list_bytes']:,} bytes, model-visible {tools['model_visible_bytes']:,}"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


async def run(runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    }
    with tempfile.TemporaryDirectory() as folder:
        output_dir = Path(folder)
        with emulator() as small_upstream:
            results["cold_start"] = await cold_start(runs, server_env(small_upstream, output_dir), output_dir)
            results["overhead_small"] = await call_overhead(runs, small_upstream, output_dir, SMALL_SIZE)
            results["tools"] = await tool_definitions(small_upstream, output_dir)
        with emulator("--photo-like") as large_upstream:
            results["overhead_large"] = await call_overhead(runs, large_upstream, output_dir, LARGE_SIZE)
            results["memory"] = await peak_memory(large_upstream, output_dir, results["overhead_large"]["bytes"])
        with emulator("--delay", "1") as slow_upstream:
            results["concurrency"] = await concurrent_calls(32, slow_upstream, output_dir)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="runs per median (default 15)")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results.json", help="where the JSON goes")
    args = parser.parse_args()
    results = anyio.run(run, args.runs)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()
