"""The server shows what it does: a span per tool call under the MCP SDK's own span, metrics of calls, latency,
upstream failures and retries, budget refusals, lost jobs and spend, through OpenTelemetry (read back with the
SDK's in-memory readers, and from an OTLP/HTTP receiver a server process exports to) and Prometheus (/metrics,
parsed with prometheus_client's parser); and, when asked, JSON log lines that follow each call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fake_openai import Emulator, Fault
from tests.support.clock import FrozenClock
from tests.support.results import entries, text_of
from tests.support.servers import SettingsFactory, free_port, http_server, open_client, server_env
from tests.support.signin import issuer_of, signed_in_server
from tests.support.telemetry import otlp_receiver, recorded, total
from tests.support.waiting import until

pytestmark = pytest.mark.anyio

GENERATIONS = "/images/generations"
MODEL = "gpt-image-2.6-flare"
TOKEN = "metrics-test-token"
SERVER_ERROR = Fault(status=500, path="/v1/images/generations")
"""Answered once with a 500, which the server retries."""


async def test_spans_and_metrics_through_the_opentelemetry_sdk(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    with recorded() as otel:
        before = otel.points()
        emulator.enqueue(SERVER_ERROR)
        async with open_client(make_settings(max_cost_per_call=1.0)) as client:
            made = await client.call_tool("generate_image", {"prompt": "a lantern"})
            refused = await client.call_tool("generate_image", {"prompt": "ten lanterns", "n": 10})
        spans = otel.finished_spans()
        after = otel.points()

    assert not made.is_error and refused.is_error, (text_of(made), text_of(refused))
    [call] = [span for span in spans if span.name == f"generate_content {MODEL}" and span.status.is_ok]
    attributes = dict(call.attributes or {})
    usage = (made.structured_content or {})["usage"]
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == MODEL
    assert attributes["gen_ai.usage.input_tokens"] == usage["input_tokens"]
    assert attributes["gen_ai.usage.output_tokens"] == usage["output_tokens"]
    assert attributes["mcp_images.image.count"] == 1 and attributes["mcp_images.outcome"] == "ok"
    assert attributes["mcp_images.cost.usd"] == (made.structured_content or {})["cost"]["amount"]
    [sdk_span] = [span for span in spans if call.parent is not None and span.context.span_id == call.parent.span_id]
    assert sdk_span.name == "tools/call generate_image", "the tool's span is a child of the SDK's span"

    def delta(name: str, **attributes: Any) -> float:
        return total(after, name, **attributes) - total(before, name, **attributes)

    calls = "mcp.server.operation.duration"
    assert delta(calls, **{"gen_ai.tool.name": "generate_image", "mcp_images.outcome": "ok"}) == 1
    assert delta(calls, **{"gen_ai.tool.name": "generate_image", "mcp_images.outcome": "error"}) == 1
    assert delta("mcp_images.upstream.errors", **{"error.type": "500"}) == 1
    assert delta("mcp_images.upstream.retries") == 1
    assert delta("mcp_images.budget.refusals") == 1
    assert delta("mcp_images.spend") == pytest.approx(attributes["mcp_images.cost.usd"])
    assert delta("mcp_images.images") == 1
    assert delta("gen_ai.client.token.usage", **{"gen_ai.token.type": "output"}) == 1


async def test_a_lost_job_is_counted_once_by_the_sweep(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    settings = make_settings(response_deadline=0.2, job_lease=60, sweep_interval=0.05)
    with recorded() as otel, emulator.hold(GENERATIONS) as upstream:
        before = total(otel.points(), "mcp_images.jobs.lost")
        async with open_client(settings, FrozenClock()) as running:
            await running.call_tool("generate_image", {"prompt": "an unfinished bridge"})
            later = FrozenClock()
            later.advance(300)
            async with open_client(settings, later):
                await until(lambda: total(otel.points(), "mcp_images.jobs.lost") > before, "the sweep to count it")
            upstream.release()
        assert total(otel.points(), "mcp_images.jobs.lost") == before + 1


@pytest.mark.subprocess
async def test_spans_and_metrics_exported_over_otlp(emulator: Emulator, output_dir: Path) -> None:
    with otlp_receiver() as receiver:
        env = server_env(emulator, output_dir, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
        with http_server(env) as (origin, _):
            async with open_client(f"{origin}/mcp") as client:
                made = await client.call_tool("generate_image", {"prompt": "a lantern"})
        # The server has stopped: what it buffered was sent on the way out.

    assert not made.is_error, text_of(made)
    spans = receiver.spans()
    [call] = [span for span in spans if span["name"] == f"generate_content {MODEL}"]
    [parent] = [span for span in spans if span["span_id"] == call["parent_id"]]
    assert parent["name"] == "tools/call generate_image"
    assert call["attributes"]["mcp_images.image.count"] == 1
    assert call["attributes"]["gen_ai.request.model"] == MODEL
    assert call["resource"]["service.name"] == "mcp-server-images"
    assert {"mcp.server.operation.duration", "mcp_images.spend", "gen_ai.client.token.usage"} <= receiver.metric_names()


def scrape(url: str, token: str | None = None) -> dict[str, list[tuple[dict[str, str], float]]]:
    """/metrics as Prometheus reads it: sample name -> [(labels, value)]."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    answer = httpx2.get(url, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(found for seen, found in samples.get(name, []) if labels.items() <= seen.items())


@pytest.mark.subprocess
async def test_prometheus_metrics_behind_the_token_and_on_their_own_port(emulator: Emulator, output_dir: Path) -> None:
    metrics_port = free_port()
    env = server_env(
        emulator,
        output_dir,
        MCP_IMAGES_AUTH_TOKEN=TOKEN,
        MCP_IMAGES_METRICS="true",
        MCP_IMAGES_METRICS_PORT=str(metrics_port),
        MCP_IMAGES_MAX_COST_PER_CALL="1",
    )
    emulator.enqueue(SERVER_ERROR)
    with http_server(env) as (origin, _):
        async with open_client(f"{origin}/mcp", token=TOKEN) as client:
            made = await client.call_tool("generate_image", {"prompt": "a lantern"})
            await client.call_tool("generate_image", {"prompt": "ten lanterns", "n": 10})
            await client.call_tool("generate_image", {"prompt": "a lantern", "dry_run": True})
        unauthorized = httpx2.get(f"{origin}/metrics", timeout=10).status_code
        behind_token = scrape(f"{origin}/metrics", TOKEN)
        own_port = scrape(f"http://127.0.0.1:{metrics_port}/metrics")

    assert unauthorized == 401
    assert own_port == behind_token, "the same metrics, without sign-in, on their own port"
    samples = behind_token
    calls = "mcp_images_calls_total"
    assert value(samples, calls, tool="generate_image", model=MODEL, outcome="ok") == 1
    assert value(samples, calls, tool="generate_image", outcome="error") == 1
    assert value(samples, calls, tool="generate_image", outcome="dry_run") == 1
    assert value(samples, "mcp_images_call_duration_seconds_count", tool="generate_image") == 3
    assert value(samples, "mcp_images_upstream_errors_total", kind="500") == 1
    assert value(samples, "mcp_images_upstream_retries_total") == 1
    assert value(samples, "mcp_images_budget_refusals_total") == 1
    assert value(samples, "mcp_images_jobs_total", status="succeeded") == 1
    assert value(samples, "mcp_images_spend_usd_total", model=MODEL) == pytest.approx(
        (made.structured_content or {})["cost"]["amount"]
    )
    assert "user" not in {label for found in samples.values() for labels, _ in found for label in labels}


@pytest.mark.subprocess
async def test_json_log_lines_follow_each_call(emulator: Emulator, output_dir: Path) -> None:
    issuer = issuer_of(emulator)
    extra = {"MCP_IMAGES_LOG_FORMAT": "json"}
    with signed_in_server(emulator, issuer, output_dir, extra) as (_, resource):
        async with open_client(resource, token=issuer.token(resource, subject="alice")) as alice:
            [image] = entries(await alice.call_tool("generate_image", {"prompt": "a lantern"}))
    lines = [json.loads(line) for line in (output_dir.parent / "server.log").read_text().splitlines() if line]

    [closing] = [line for line in lines if line.get("tool") == "generate_image" and "outcome" in line]
    assert closing["outcome"] == "ok" and closing["model"] == MODEL and closing["user"] == "alice"
    assert closing["cost"] > 0 and closing["images"] == 1 and closing["request_id"]
    stored = [line for line in lines if line["message"].startswith(f"stored image {image['id']}")]
    assert [(line["tool"], line["user"], line["request_id"]) for line in stored] == [
        ("generate_image", "alice", closing["request_id"])
    ], "a line logged inside the call carries the call's fields"
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
