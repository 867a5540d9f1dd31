"""Clients nobody here wrote, against the real server: the official TypeScript SDK client, the MCP Inspector CLI
and the MCP conformance suite (all from tests/node/package-lock.json, run with Node 22).
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import anyio
import pytest
from PIL import Image

from tests.fake_openai import Emulator
from tests.support.images import seed
from tests.support.outside import REPO, NodeTools, first_json
from tests.support.results import TOOLS
from tests.support.servers import COMMAND, http_server, server_env
from tests.support.waiting import until

pytestmark = [pytest.mark.anyio, pytest.mark.outside, pytest.mark.subprocess]

TIMEOUT = 300
GENERATIONS = "/images/generations"
RESULT_FOLDER = re.compile(r"-\d{4}-\d{2}-\d{2}T[\d-]+Z$")
"""The time stamp the suite appends to each scenario's result folder."""


def run(command: list[str], tools: NodeTools, **extra: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=tools.env(), capture_output=True, text=True, timeout=TIMEOUT, check=False, **extra
    )


SDKS = [pytest.param("sdk1", id="sdk-1.x"), pytest.param("client2", id="client-2.x")]
"""The TypeScript clients: the 1.x SDK (legacy initialize handshake) and the 2.x client (2026-07-28 protocol)."""
PROTOCOLS = {"sdk1": "2025-11-25", "client2": "2026-07-28"}


def ts_command(tools: NodeTools, sdk: str, steps: str, mode: str, target: str, out: Path) -> list[str]:
    return [*tools.script("ts_client.mjs"), sdk, steps, mode, target, str(out)]


def server_target(mode: str, env: dict[str, str], origin: str | None) -> str:
    """How the script reaches the server: the stdio command line, or the HTTP endpoint at `origin`."""
    if mode == "stdio":
        return json.dumps({"command": COMMAND[0], "args": COMMAND[1:], "env": env})
    return f"{origin}/mcp"


async def ts_client(
    tools: NodeTools, emulator: Emulator, sdk: str, mode: str, target: str, out: Path
) -> dict[str, Any]:
    """What a TypeScript client saw of its steps. Its generate_image call is held after the two partial images
    until the client has shown both as progress: progress reaches it while the call is still running."""
    progress = out.with_name(f"{out.name}.progress")
    finished: list[subprocess.CompletedProcess[bytes]] = []

    async def run_client() -> None:
        command = ts_command(tools, sdk, "session", mode, target, out)
        finished.append(await anyio.run_process(command, env=tools.env(), check=False))

    async with anyio.create_task_group() as group:
        group.start_soon(run_client)
        with emulator.hold(GENERATIONS, after_partials=2) as upstream:
            await upstream.until_held()
            await until(lambda: partials_shown(progress) == 2, "the TypeScript client to show both partial images")
    return outcome(finished, out)


def outcome(finished: list[subprocess.CompletedProcess[bytes]], out: Path) -> dict[str, Any]:
    [result] = finished
    seen: dict[str, Any] = json.loads(out.read_text())
    assert result.returncode == 0 and seen["ok"], seen.get("error") or result.stderr.decode()
    return seen


def partials_shown(progress: Path) -> int:
    """The partial images the client has shown so far: the script appends each progress message as it arrives."""
    return sum(line.startswith("partial image") for line in said(progress))


def said(progress: Path) -> list[str]:
    return progress.read_text().splitlines() if progress.exists() else []


def check_ts_client_run(seen: dict[str, Any], output_dir: Path) -> None:
    tools_with_schema = [
        "generate_image",
        "edit_image",
        "create_image_variation",
        "analyze_image",
        "list_images",
        "list_models",
        "get_job",
        "usage_report",
        "delete_images",
    ]
    assert seen["protocol"] == PROTOCOLS[seen["sdk"]]
    assert seen["tools"] == TOOLS
    assert seen["outputSchemas"] == tools_with_schema, "the SDK validates every structuredContent"
    assert seen["malformedRejected"] is True, "the SDK rejects a result that breaks the schema"
    assert seen["progress"][0] == "request sent to gpt-image-2.6-flare"
    assert sum(message.startswith("partial image") for message in seen["progress"]) == 2
    [generated] = seen["generated"]["images"]
    with Image.open(generated["path"]) as image:
        assert image.size == (1536, 1024)
    assert Path(generated["path"]).parent == output_dir
    assert seen["edited"]["images"][0]["id"] != generated["id"]
    assert (seen["listed"]["total"], seen["listed"]["next_cursor"]) == (2, "1")
    assert seen["analyzed"]["text"] and seen["analyzed"]["model"]
    assert seen["usage"]["month"]["spent"] > 0
    blob_length = len(base64.b64encode(Path(generated["path"]).read_bytes()))
    assert seen["resource"] == {"uri": generated["uri"], "mimeType": "image/png", "blobLength": blob_length}
    assert seen["templates"] == ["images://{id}"]
    assert seen["prompts"] == ["concept_art", "product_shot", "logo_iterations", "edit_then_verify"]
    assert f'edit_image with images ["{generated["id"]}"] and the prompt "make the paper red"' in seen["promptText"]
    assert generated["id"] in seen["completedIds"]


@pytest.mark.parametrize("sdk", SDKS)
async def test_typescript_client_over_stdio(
    node_tools: NodeTools, emulator: Emulator, output_dir: Path, sdk: str
) -> None:
    target = server_target("stdio", server_env(emulator, output_dir), None)

    seen = await ts_client(node_tools, emulator, sdk, "stdio", target, output_dir.parent / f"ts-stdio-{sdk}.json")

    check_ts_client_run(seen, output_dir)


@pytest.mark.parametrize("sdk", SDKS)
async def test_typescript_client_over_streamable_http(
    node_tools: NodeTools, emulator: Emulator, output_dir: Path, sdk: str
) -> None:
    with http_server(server_env(emulator, output_dir)) as (origin, _):
        target = server_target("http", {}, origin)
        seen = await ts_client(node_tools, emulator, sdk, "http", target, output_dir.parent / f"ts-http-{sdk}.json")

    check_ts_client_run(seen, output_dir)


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("mode", ["stdio", "http"])
async def test_typescript_client_gets_a_slow_call_through_get_job(
    node_tools: NodeTools, emulator: Emulator, output_dir: Path, sdk: str, mode: str
) -> None:
    """The generation is held past the server's response deadline: the call answers with a job id, and once the
    test releases the upstream, get_job gives the client the stored image."""
    env = server_env(emulator, output_dir, MCP_IMAGES_RESPONSE_DEADLINE="0.5")
    out = output_dir.parent / f"ts-job-{mode}-{sdk}.json"
    progress = out.with_name(f"{out.name}.progress")
    finished: list[subprocess.CompletedProcess[bytes]] = []

    async def run_client(target: str) -> None:
        command = ts_command(node_tools, sdk, "job", mode, target, out)
        finished.append(await anyio.run_process(command, env=node_tools.env(), check=False))

    with http_server(env) if mode == "http" else nullcontext(("", None)) as (origin, _):
        async with anyio.create_task_group() as group:
            group.start_soon(run_client, server_target(mode, env, origin))
            with emulator.hold(GENERATIONS) as upstream:
                await upstream.until_held()
                await until(lambda: any(line.startswith("job ") for line in said(progress)), "the job id")
    seen = outcome(finished, out)

    assert seen["protocol"] == PROTOCOLS[sdk]
    assert seen["handedOff"]["status"] == "running"
    assert f"job {seen['handedOff']['job_id']}" in said(progress)
    [image] = seen["finished"]["images"]
    assert Path(image["path"]).read_bytes() == emulator.sent_images[0]


def test_inspector_cli_lists_tools_and_calls_one(node_tools: NodeTools, emulator: Emulator, output_dir: Path) -> None:
    env_flags = [part for name, value in server_env(emulator, output_dir).items() for part in ("-e", f"{name}={value}")]
    inspector = [*node_tools.command("mcp-inspector"), "--cli", *env_flags, *COMMAND]

    listed = run([*inspector, "--method", "tools/list"], node_tools)
    called = run(
        [*inspector, "--method", "tools/call", "--tool-name", "generate_image", "--tool-arg", "prompt=a kite", "n=2"],
        node_tools,
    )

    assert listed.returncode == 0, listed.stderr
    assert [tool["name"] for tool in first_json(listed.stdout)["tools"]][:3] == [
        "generate_image",
        "edit_image",
        "create_image_variation",
    ]
    assert called.returncode == 0, called.stderr
    result = first_json(called.stdout)
    assert not result.get("isError"), result
    assert len(result["structuredContent"]["images"]) == 2
    assert len(list(output_dir.glob("*.png"))) == 2


def test_the_readmes_inspector_command_makes_an_image(
    node_tools: NodeTools, emulator: Emulator, output_dir: Path
) -> None:
    """The README's 30-second check, as written there, with the emulator's key and address filled in."""
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- inspector-check -->\n```sh\n", 1)[1].split("\n```", 1)[0]
    words = shlex.split(block)
    assert words[:4] == ["npx", "-y", "@modelcontextprotocol/inspector@2.12.0", "--cli"]
    assert (REPO / "tests" / "node" / "package.json").read_text().count('"@modelcontextprotocol/inspector": "2.12.0"')
    local = [
        REPO / word if word == ".venv/bin/mcp-server-images" else word.replace("sk-your-api-key", emulator.api_key)
        for word in words[4:]
    ]
    extra = ["-e", f"MCP_IMAGES_BASE_URL={emulator.base_url}", "-e", f"MCP_IMAGES_OUTPUT_DIR={output_dir}"]

    called = run([*node_tools.command("mcp-inspector"), "--cli", *extra, *map(str, local)], node_tools)

    assert called.returncode == 0, called.stderr
    result = first_json(called.stdout)
    assert not result.get("isError"), result
    [image] = result["structuredContent"]["images"]
    assert Path(image["path"]).parent == output_dir


# Server scenarios of the pinned conformance suite that cannot apply to this server, and why. Every other
# scenario the suite runs must pass: initialize, session lifecycle, ping, tools/resources/prompts list,
# logging-set-level, completion-complete, DNS rebinding, SSE streams and their priming event and retry field,
# stateless requests, caching hints, HTTP header validation and resource-not-found.
FIXTURES = "calls the suite's own fixture {what}, which only the suite's reference server has"
NOT_APPLICABLE = {
    **{
        name: FIXTURES.format(what="tool")
        for name in (
            "tools-call-simple-text",
            "tools-call-image",
            "tools-call-audio",
            "tools-call-embedded-resource",
            "tools-call-mixed-content",
            "tools-call-with-logging",
            "tools-call-error",
            "tools-call-with-progress",
            "tools-call-sampling",
            "tools-call-elicitation",
            "elicitation-sep1034-defaults",
            "elicitation-sep1330-enums",
            "json-schema-2020-12",
        )
    },
    **{
        name: FIXTURES.format(what="prompt")
        for name in (
            "prompts-get-simple",
            "prompts-get-with-args",
            "prompts-get-embedded-resource",
            "prompts-get-with-image",
        )
    },
    **{
        name: FIXTURES.format(what="test:// resource")
        for name in ("resources-read-text", "resources-read-binary", "resources-templates-read")
    },
    "resources-subscribe": "the server offers no resource subscriptions (not advertised); the scenario subscribes "
    "to a fixture resource",
    "resources-unsubscribe": "the server offers no resource subscriptions (not advertised)",
    "http-custom-header-server-validation": "needs a tool whose input schema carries x-mcp-header annotations; "
    "this server's tools take no header-bound arguments",
    **{
        f"input-required-result-{case}": FIXTURES.format(what="tools that ask for more input (InputRequiredResult)")
        for case in (
            "basic-elicitation",
            "basic-list-roots",
            "basic-sampling",
            "capability-check",
            "ignore-extra-params",
            "missing-input-response",
            "multi-round",
            "multiple-input-requests",
            "non-tool-request",
            "request-state",
            "result-type",
            "tampered-state",
            "unsupported-methods",
            "validate-input",
        )
    },
    **{
        f"tasks-{case}": "the tasks extension: the SDK does not implement it; get_job is this server's fallback"
        for case in (
            "lifecycle",
            "capability-negotiation",
            "wire-fields",
            "request-state-removal",
            "mrtr-input",
            "request-headers",
            "dispatch-and-envelope",
            "status-notifications",
            "required-task-error",
            "mrtr-composition",
        )
    },
    **{
        f"sep-2640-skills-{case}": "the skills extension, which this server does not offer"
        for case in ("directory", "enumeration", "manifest")
    },
}
# Checks inside otherwise generic scenarios that need a fixture tool.
FIXTURE_CHECKS = {
    ("server-sse-polling", "incoming-sse-event"): "calls the fixture test_reconnection, which closes its stream",
    ("server-stateless", "sep-2575-server-rejects-undeclared-capability"): "calls the fixture test_missing_capability",
    ("server-stateless", "sep-2575-missing-capability-http-400"): "needs the fixture test_missing_capability",
}


def conformance_results(tools: NodeTools, url: str, out: Path, *spec: str) -> dict[str, list[dict[str, Any]]]:
    """Run every server scenario of the suite; the checks of each scenario, from the files it writes."""
    command = [*tools.command("conformance"), "server", "--url", url, "--suite", "all", "-o", str(out), *spec]
    finished = run(command, tools)
    results: dict[str, list[dict[str, Any]]] = {}
    for checks in sorted(out.glob("server-*/checks.json")):
        scenario = RESULT_FOLDER.sub("", checks.parent.name.removeprefix("server-"))
        results[scenario] = json.loads(checks.read_text())
    assert results, f"the suite wrote no results: {finished.stdout[-3000:]} {finished.stderr[-3000:]}"
    return results


def failures(results: dict[str, list[dict[str, Any]]]) -> Iterator[str]:
    for scenario, checks in results.items():
        if scenario in NOT_APPLICABLE:
            continue
        for check in checks:
            if check["status"] == "FAILURE" and (scenario, check["id"]) not in FIXTURE_CHECKS:
                yield f"{scenario}/{check['id']}: {check.get('errorMessage')}"


@pytest.mark.parametrize(
    ("era", "spec"), [("handshake", ()), ("2026-07-28", ("--spec-version", "2026-07-28"))], ids=["handshake", "2026"]
)
def test_conformance_suite_generic_server_scenarios(
    node_tools: NodeTools, emulator: Emulator, output_dir: Path, era: str, spec: tuple[str, ...]
) -> None:
    seed(output_dir, 2)  # so that resources/read is exercised too
    with http_server(server_env(emulator, output_dir)) as (origin, _):
        results = conformance_results(node_tools, f"{origin}/mcp", output_dir.parent / f"conformance-{era}", *spec)

    generic = sorted(set(results) - set(NOT_APPLICABLE))
    expected = {"server-sse-multiple-streams", "tools-list", "resources-list", "prompts-list", "completion-complete"}
    expected |= {"dns-rebinding-protection", "caching", "http-header-validation", "sep-2164-resource-not-found"}
    expected |= {"server-stateless"}
    if era == "handshake":
        expected |= {"server-initialize", "server-session-lifecycle", "ping", "logging-set-level"}
        expected |= {"server-sse-polling"}
    assert set(generic) == expected
    assert list(failures(results)) == []
    if era == "handshake":  # SEP-1699's recommendations, reported as warnings when unmet
        statuses = {check["id"]: check["status"] for check in results["server-sse-polling"]}
        assert statuses["server-sse-priming-event"] == "SUCCESS"
        assert statuses["server-sse-retry-field"] == "SUCCESS"
