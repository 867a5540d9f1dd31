"""`make bench`: what the server costs in time and memory, measured against the emulator on loopback.

Figures: cold start and resident size at rest next to the SDK's bare server measured in the same run; per-call
overhead (tool call minus the same upstream request made directly) on a small image and on a ~4.7 MB noisy PNG;
the server's time after an answer's last byte when the emulator sends the body at a realistic pace (to its result
on stdout, over bare JSON-RPC); 32 concurrent calls over HTTP with 1 s of upstream latency; peak memory held by
one and by 32 large images in flight; the size of tools/list and the tokens a result's preview costs a model; a
capped call's reservation on a ledger of 1,000 and 100,000 entries and the stores' listings, lookups and search
on 1,000 and 100,000 images, on the local folder and on an S3 bucket (SeaweedFS, as in the tests). Medians over
several runs; one table on stdout, every figure beside its goal and the previous run's
(tests/bench/previous.json), and JSON in bench-results.json (or --out). `make bench-readme` puts the table in the
README. Nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import base64
import compileall
import io
import json
import math
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
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client, StdioServerParameters
from mcp.types import LATEST_PROTOCOL_VERSION, CallToolResult, ImageContent

from tests.bench import figures
from tests.bench.figures import Figure
from tests.bench.ledger_costs import bucket_reservation_ms, reservation_ms
from tests.bench.store_costs import bucket_store_ms, store_ms
from tests.support.s3 import running_seaweedfs
from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[2]
LARGE_SIZE = "1536x1024"
SMALL_SIZE = "1024x1024"
COLD_RUNS = 7
PACE = 20e6
"""Bytes per second of a paced answer: a good connection to a provider."""
LEDGER_SIZES = (1_000, 100_000)
STORE_SIZES = (1_000, 100_000)
STORES = {"": "local", "s3_": "S3"}
"""The stores measured, by the prefix of their figures' keys (the local store's keys are those of earlier runs)."""
RESERVATIONS = {"first": "first after a start", "later": "later"}
STORE_READS = {
    "first_list": "first list_images of a started server",
    "later_list": "later list_images",
    "id": "lookup by id",
    "prefix": "lookup by id prefix",
    "search": "prompt search, a word in 20 prompts",
    "number_search": "prompt search, one image's number",
}
GROWTH_GOALS = {read: 2.0 for read in STORE_READS} | {"number_search": None}
"""The number search's candidates grow with the store (see store_costs.reads_ms): its growth is shown, not held
to the goal."""


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


async def cold_start(runs: int, env: dict[str, str]) -> dict[str, float]:
    """Spawn to tools/list answered over stdio (the process's exit after it is not timed), ours and the SDK's bare
    server, alternating so both see the same load; and each one's resident size once it has answered tools/list
    and settled.

    Both start from bytecode, as an installed package does (pip compiles it): the SDK's was compiled when it was
    installed, while a fresh clone of this repository has none, and with PYTHONDONTWRITEBYTECODE set none is ever
    written, so every start would compile each of the server's modules it imports."""
    compileall.compile_dir(REPO / "server" / "mcp_server_images", quiet=1)
    rest: dict[str, list[float]] = {"mcp_server_images": [], "tests.bench.bare_server": []}

    async def start(module: str) -> float:
        """Seconds from spawning the server to its answer to tools/list; its exit, after, is not start-up."""
        params = StdioServerParameters(command=sys.executable, args=["-m", module], env=env, cwd=str(REPO))
        spawned = time.perf_counter()
        async with Client(params) as client:
            await client.list_tools()
            answered = time.perf_counter() - spawned
        return answered

    async def resident(module: str) -> None:
        params = StdioServerParameters(command=sys.executable, args=["-m", module], env=env, cwd=str(REPO))
        async with Client(params) as client:
            await client.list_tools()
            rest[module].append(await settled_rss(child_running(module)) / 1024)

    ours, bare = [], []
    for _ in range(runs):
        ours.append(await start("mcp_server_images"))
        bare.append(await start("tests.bench.bare_server"))
    for _ in range(3):
        for module in rest:
            await resident(module)
    return {
        "server_s": statistics.median(ours),
        "bare_sdk_s": statistics.median(bare),
        "server_rest_mb": statistics.median(rest["mcp_server_images"]),
        "bare_rest_mb": statistics.median(rest["tests.bench.bare_server"]),
    }


def child_running(module: str) -> int:
    """The process id of this process's child running `python -m module`."""
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            if module.encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                return int(pid)
    raise LookupError(module)


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
        width, height = preview_size(first)
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
        "preview_claude_tokens": claude_tokens(width, height),
        "preview_openai_tokens": openai_tokens(width, height),
    }


def preview_size(result: CallToolResult) -> tuple[int, int]:
    """The pixel size of the image block a model is shown."""
    from PIL import Image

    [block] = [content for content in result.content if isinstance(content, ImageContent)]
    with Image.open(io.BytesIO(base64.b64decode(block.data))) as image:
        return image.size


def claude_tokens(width: int, height: int) -> float:
    """Anthropic's published estimate: an image is scaled to a long side of at most 1568 px, then costs about
    width x height / 750 tokens."""
    scale = min(1.0, 1568 / max(width, height))
    return (width * scale) * (height * scale) / 750


def openai_tokens(width: int, height: int) -> float:
    """OpenAI's published rule for vision at detail "high": fit within 2048 x 2048, then the shortest side to 768,
    then 170 tokens per 512 px tile plus 85."""
    fit = min(1.0, 2048 / max(width, height))
    shortest = min(1.0, 768 / (min(width, height) * fit))
    scaled_width, scaled_height = width * fit * shortest, height * fit * shortest
    return 85 + 170 * math.ceil(scaled_width / 512) * math.ceil(scaled_height / 512)


async def after_last_byte(runs: int, upstream: dict[str, str], output_dir: Path, size: str) -> float:
    """Median ms from the moment the emulator sent an answer's last byte (paced at PACE) to the moment the server's
    whole result has arrived on its standard output: the server's own time once the provider is done. The session
    is spoken as raw JSON-RPC lines, so no client's parsing or validation of the result counts."""
    arguments = {"prompt": "a benchmark", "size": size}
    origin = upstream["base_url"].removesuffix("/v1")
    after = []
    async with RawSession(server_env(upstream, output_dir)) as session, httpx2.AsyncClient(timeout=10) as http:
        await session.call_tool("generate_image", arguments)
        for _ in range(runs):
            result = await session.call_tool("generate_image", arguments)
            assert not result.get("isError"), result
            done = session.last_arrived
            last: float = (await http.get(f"{origin}/bench/last-byte")).json()["monotonic"]
            after.append((done - last) * 1000)
    return statistics.median(after)


class RawSession:
    """An MCP session over the server's stdio as bare JSON-RPC lines: a result counts as arrived the moment its
    line's last byte is read."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._ids = 0
        self.last_arrived = 0.0
        """When the last answer's line was read whole (time.monotonic())."""

    async def __aenter__(self) -> RawSession:
        self._process = await anyio.open_process(
            [sys.executable, "-m", "mcp_server_images"], env=self._env, cwd=str(REPO), stderr=subprocess.DEVNULL
        )
        assert self._process.stdout is not None
        self._lines = BufferedByteReceiveStream(self._process.stdout)
        client = {"name": "bench", "version": "1"}
        await self._request(
            "initialize", {"protocolVersion": LATEST_PROTOCOL_VERSION, "capabilities": {}, "clientInfo": client}
        )
        await self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._process.terminate()
        await self._process.wait()

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return await self._request("tools/call", {"name": name, "arguments": arguments})

    async def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._ids += 1
        await self._send({"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params})
        while True:
            line = await self._lines.receive_until(b"\n", 256 * 1024 * 1024)
            self.last_arrived = time.monotonic()
            message = json.loads(line)
            if message.get("id") == self._ids:
                result: dict[str, Any] = message["result"]
                return result

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        await self._process.stdin.send(json.dumps(message).encode() + b"\n")


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


FIGURES = [
    Figure("cold_start_s", "cold start, spawn to tools/list over stdio", "s", digits=3),
    Figure("bare_cold_start_s", "the bare SDK server, same run", "s", digits=3),
    Figure("cold_start_ratio", "cold start / bare SDK server", "x", goal=1.15, digits=2),
    Figure("rest_mb", "resident size after start", "MB"),
    Figure("bare_rest_mb", "the bare SDK server, same run", "MB"),
    Figure("rest_added_mb", "resident size after start - bare SDK server", "MB", goal=15),
    Figure("overhead_small_ms", "per-call overhead, small image", "ms", goal=10),
    Figure("overhead_large_ms", "per-call overhead, 4.7 MB noisy PNG", "ms", goal=60),
    Figure("paced_small_ms", "after the last byte at 20 MB/s, small image", "ms", goal=3),
    Figure("paced_large_ms", "after the last byte at 20 MB/s, 4.7 MB PNG", "ms", goal=15),
    Figure("concurrency_s", "32 concurrent calls over HTTP, 1 s upstream", "s", goal=1.3, digits=2),
    Figure("peak_x_1", "peak memory held, one large image (x its size)", "x", goal=4),
    Figure("peak_x_32", "peak memory held, 32 large images (x size each)", "x", goal=4),
    Figure("rest_after_mb", "resident size after 1+1+32 large images", "MB"),
    Figure("tools_list_bytes", "tools/list, whole", "bytes", digits=0),
    Figure("model_visible_bytes", "tools/list, what a model reads", "bytes", goal=9216, digits=0),
    Figure("claude_tokens_small", "tokens of a small result's preview, Claude", "tokens", digits=0),
    Figure("claude_tokens_large", "tokens of a large result's preview, Claude", "tokens", digits=0),
    Figure("openai_tokens_small", "tokens of a small result's preview, OpenAI", "tokens", digits=0),
    Figure("openai_tokens_large", "tokens of a large result's preview, OpenAI", "tokens", digits=0),
    *[
        Figure(f"{key}ledger_{kind}_ms_{size}", f"capped reservation, {when}, {size:,} entries ({name})", "ms", goal=50)
        for key, name in STORES.items()
        for size in LEDGER_SIZES
        for kind, when in RESERVATIONS.items()
    ],
    *[
        Figure(f"{key}store_{read}_ms_{size}", f"{what}, {size:,} images ({name})", "ms", goal=50)
        for key, name in STORES.items()
        for size in STORE_SIZES
        for read, what in STORE_READS.items()
    ],
    *[
        Figure(
            f"{key}store_{read}_growth",
            f"{what}: 100,000 / 1,000 images ({name})",
            "x",
            goal=GROWTH_GOALS[read],
            digits=2,
        )
        for key, name in STORES.items()
        for read, what in STORE_READS.items()
    ],
    *[
        Figure(
            f"{key}ledger_{kind}_growth",
            f"capped reservation, {when}: 100,000 / 1,000 entries ({name})",
            "x",
            goal=2,
            digits=2,
        )
        for key, name in STORES.items()
        for kind, when in RESERVATIONS.items()
    ],
    *[
        Figure(f"s3_new_machine_list_ms_{size}", f"first list_images on a new machine, {size:,} images (S3)", "ms")
        for size in STORE_SIZES
    ],
]


def flat(results: dict[str, Any]) -> dict[str, float]:
    """The figures of a run by key."""
    cold, small, large = results["cold_start"], results["overhead_small"], results["overhead_large"]
    memory, tools = results["memory"], results["tools"]
    now = {
        "cold_start_s": cold["server_s"],
        "bare_cold_start_s": cold["bare_sdk_s"],
        "cold_start_ratio": cold["server_s"] / cold["bare_sdk_s"],
        "rest_mb": cold["server_rest_mb"],
        "bare_rest_mb": cold["bare_rest_mb"],
        "rest_added_mb": cold["server_rest_mb"] - cold["bare_rest_mb"],
        "overhead_small_ms": small["overhead_ms"],
        "overhead_large_ms": large["overhead_ms"],
        "paced_small_ms": results["paced_small_ms"],
        "paced_large_ms": results["paced_large_ms"],
        "concurrency_s": results["concurrency"]["wall_s"],
        "peak_x_1": memory["per_image_x_encoded_1"],
        "peak_x_32": memory["per_image_x_encoded_32"],
        "rest_after_mb": memory["rest_mb_after"],
        "tools_list_bytes": tools["tools_list_bytes"],
        "model_visible_bytes": tools["model_visible_bytes"],
        "claude_tokens_small": small["preview_claude_tokens"],
        "claude_tokens_large": large["preview_claude_tokens"],
        "openai_tokens_small": small["preview_openai_tokens"],
        "openai_tokens_large": large["preview_openai_tokens"],
    }
    for key in STORES:
        now |= sized(f"{key}ledger", results[f"{key}ledger"], LEDGER_SIZES, RESERVATIONS)
        now |= sized(f"{key}store", results[f"{key}store"], STORE_SIZES, STORE_READS)
    for size in STORE_SIZES:
        now[f"s3_new_machine_list_ms_{size}"] = results["s3_store"][str(size)]["new_machine_list_ms"]
    return now


def sized(
    name: str, measured: dict[str, dict[str, float]], sizes: tuple[int, int], reads: dict[str, str]
) -> dict[str, float]:
    """The figures of one store's reads at each size (`<name>_<read>_ms_<size>`), and how each grew from the
    smaller size to the larger (`<name>_<read>_growth`)."""
    small, large = measured[str(sizes[0])], measured[str(sizes[-1])]
    figures = {f"{name}_{read}_ms_{size}": measured[str(size)][f"{read}_ms"] for size in sizes for read in reads}
    return figures | {f"{name}_{read}_growth": large[f"{read}_ms"] / small[f"{read}_ms"] for read in reads}


async def run(runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    }
    with tempfile.TemporaryDirectory() as folder:
        output_dir = Path(folder)
        with emulator() as small_upstream:
            results["cold_start"] = await cold_start(COLD_RUNS, server_env(small_upstream, output_dir))
            results["overhead_small"] = await call_overhead(runs, small_upstream, output_dir, SMALL_SIZE)
            results["tools"] = await tool_definitions(small_upstream, output_dir)
        with emulator("--photo-like") as large_upstream:
            results["overhead_large"] = await call_overhead(runs, large_upstream, output_dir, LARGE_SIZE)
            results["memory"] = await peak_memory(large_upstream, output_dir, results["overhead_large"]["bytes"])
        with emulator("--pace", str(PACE)) as paced_small:
            results["paced_small_ms"] = await after_last_byte(runs, paced_small, output_dir, SMALL_SIZE)
        with emulator("--photo-like", "--pace", str(PACE)) as paced_large:
            results["paced_large_ms"] = await after_last_byte(runs, paced_large, output_dir, LARGE_SIZE)
        with emulator("--delay", "1") as slow_upstream:
            results["concurrency"] = await concurrent_calls(32, slow_upstream, output_dir)
    results["ledger"] = {str(size): reservation_ms(size, runs) for size in LEDGER_SIZES}
    results["store"] = {str(size): store_ms(size, store_runs(size, runs)) for size in STORE_SIZES}
    with tempfile.TemporaryDirectory() as folder, running_seaweedfs(Path(folder)) as s3:
        results["s3_ledger"] = {str(size): bucket_reservation_ms(s3, size, runs) for size in LEDGER_SIZES}
        results["s3_store"] = {str(size): bucket_store_ms(s3, size, store_runs(size, runs)) for size in STORE_SIZES}
    return results


def store_runs(size: int, runs: int) -> int:
    """Fewer runs on a large store: each first listing of the local store is a new store reading its index."""
    return 3 if size > 10_000 else runs


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="runs per median (default 15)")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results.json", help="where the JSON goes")
    args = parser.parse_args()
    results = anyio.run(run, args.runs)
    now = flat(results)
    results["table"] = figures.rows(FIGURES, now, figures.previous())
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    figures.save(now)
    print(figures.text_table(results["table"]))
    print(f"\nJSON: {args.out}; these figures are the previous ones of the next run ({figures.PREVIOUS.name})")


if __name__ == "__main__":
    main()
