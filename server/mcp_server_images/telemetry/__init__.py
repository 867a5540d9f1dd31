"""What the server tells an operator about its work: metrics, a span per tool call, and one log line per call.

`Telemetry` is the one recorder every layer reports to (tool calls from the adapter, jobs from operations, upstream
failures from the backends, lost jobs from the sweep). It records through OpenTelemetry's API, which the MCP SDK
already installs: without a configured provider every record is a no-op; with the OTLP exporters (telemetry/otel.py,
when the standard OTEL_* variables name an endpoint) or a test's in-memory readers, spans and metrics go there.
Prometheus (telemetry/prometheus.py) is imported only when /metrics is served. Names follow OpenTelemetry's GenAI
and MCP conventions where they have one (`gen_ai.*`, `mcp.*`, `error.type`); the rest are `mcp_images.*`.

A tool call's span is the child of the SDK's own span of the message (`tools/call <tool>`): it carries the model,
provider, image count, tokens, cost and outcome. Users label metrics only when asked (`metrics_user_labels`): one
series per user can grow without bound.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, StatusCode

if TYPE_CHECKING:
    from .prometheus import PrometheusMetrics

log = logging.getLogger("mcp_server_images.calls")

SCOPE = "mcp_server_images"
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 200.0, 400.0)
"""Seconds: image calls take from a fraction of a second (dry runs, listings) to minutes (high quality)."""
MODEL_TOOLS = {"generate_image": "generate_content", "edit_image": "generate_content"}
MODEL_TOOLS |= {"create_image_variation": "generate_content", "analyze_image": "chat"}
"""Tools that call a model, and the GenAI operation each is."""


@dataclass
class CallReport:
    """What one tool call did, as its span, its metrics and its log line say it."""

    tool: str
    outcome: str
    """"ok", "job" (answered with a job id), "dry_run", "error", "refused" (by a budget) or "stopping"."""
    seconds: float
    model: str | None = None
    images: int = 0
    usage: dict[str, Any] | None = None
    cost: float | None = None
    job_id: str | None = None
    user: str | None = None
    error: str | None = None


@dataclass
class JobReport:
    """How a job ended: counted once, whichever call delivers its answer."""

    operation: str
    status: str
    """"succeeded", "failed", "refused" (by a budget) or "stopped" (at shutdown)."""
    model: str | None
    images: int
    cost: float | None
    usage: dict[str, Any] | None = None
    user: str | None = None


@dataclass
class Telemetry:
    provider: str
    """The upstream provider (gen_ai.provider.name): openai, dedalus or a gateway's base URL."""
    user_labels: bool = False
    prometheus: PrometheusMetrics | None = None
    _meter: metrics.Meter = field(init=False)
    _tracer: trace.Tracer = field(init=False)

    def __post_init__(self) -> None:
        self._meter = metrics.get_meter(SCOPE)
        self._tracer = trace.get_tracer(SCOPE)
        meter = self._meter
        self._duration = meter.create_histogram(
            "mcp.server.operation.duration",
            unit="s",
            description="Duration of MCP tool calls",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self._tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}", description="Tokens used")
        self._jobs = meter.create_counter("mcp_images.jobs", unit="{job}", description="Image jobs by how they ended")
        self._images = meter.create_counter("mcp_images.images", unit="{image}", description="Images stored")
        self._spend = meter.create_counter("mcp_images.spend", unit="USD", description="Cost of the calls made")
        self._upstream_errors = meter.create_counter(
            "mcp_images.upstream.errors", unit="{error}", description="Failed attempts of upstream requests"
        )
        self._retries = meter.create_counter("mcp_images.upstream.retries", unit="{retry}", description="Retries")
        self._refusals = meter.create_counter(
            "mcp_images.budget.refusals", unit="{call}", description="Calls a budget refused"
        )
        self._lost = meter.create_counter("mcp_images.jobs.lost", unit="{job}", description="Jobs found lost")

    @contextmanager
    def call_span(self, tool: str) -> Iterator[Span]:
        """The span of one tool call, current while the call runs (its parent is the SDK's span of the message)."""
        attributes = {"gen_ai.tool.name": tool, "gen_ai.provider.name": self.provider}
        operation = MODEL_TOOLS.get(tool)
        if operation is not None:
            attributes["gen_ai.operation.name"] = operation
        with self._tracer.start_as_current_span(
            tool, kind=SpanKind.INTERNAL, attributes=attributes, record_exception=True
        ) as span:
            yield span

    def call_finished(self, report: CallReport, span: Span) -> None:
        """Close a call's account: the span's attributes, the duration metric, the log line."""
        _describe(span, report, MODEL_TOOLS.get(report.tool))
        attributes: dict[str, str] = {
            "mcp.method.name": "tools/call",
            "gen_ai.tool.name": report.tool,
            "mcp_images.outcome": report.outcome,
        }
        if report.model:
            attributes["gen_ai.request.model"] = report.model
        if report.outcome == "error":
            attributes["error.type"] = "tool_error"
        if self.user_labels and report.user:
            attributes["user.id"] = report.user
        self._duration.record(report.seconds, attributes)
        if self.prometheus is not None:
            self.prometheus.call(report, user=report.user if self.user_labels else None)
        _log_call(report)

    def job_ended(self, report: JobReport) -> None:
        """Count a job's images, tokens and spend once, when it ends."""
        base = {"gen_ai.provider.name": self.provider, "gen_ai.operation.name": "generate_content"}
        if report.model:
            base["gen_ai.request.model"] = report.model
        user = {"user.id": report.user} if self.user_labels and report.user else {}
        self._jobs.add(1, {**base, "mcp_images.job.status": report.status})
        if report.images:
            self._images.add(report.images, base)
        if report.cost:
            self._spend.add(report.cost, {**base, **user})
        for kind, count in token_counts(report.usage):
            self._tokens.record(count, {**base, "gen_ai.token.type": kind})
        if report.status == "refused":
            self._refusals.add(1, base)
        if self.prometheus is not None:
            self.prometheus.job(report, user=report.user if self.user_labels else None)

    def upstream_failed(self, kind: str, *, retried: bool) -> None:
        """One failed attempt of an upstream request: `kind` is the HTTP status, or "connection" or "timeout"."""
        self._upstream_errors.add(1, {"error.type": kind, "gen_ai.provider.name": self.provider})
        if retried:
            self._retries.add(1, {"gen_ai.provider.name": self.provider})
        if self.prometheus is not None:
            self.prometheus.upstream(kind, retried=retried)

    def job_lost(self) -> None:
        self._lost.add(1)
        if self.prometheus is not None:
            self.prometheus.lost()


def _describe(span: Span, report: CallReport, operation: str | None) -> None:
    if report.model:
        span.set_attribute("gen_ai.request.model", report.model)
        if operation is not None:
            span.update_name(f"{operation} {report.model}")
    for kind, count in token_counts(report.usage):
        span.set_attribute(f"gen_ai.usage.{kind}_tokens", count)
    span.set_attribute("mcp_images.outcome", report.outcome)
    span.set_attribute("mcp_images.image.count", report.images)
    if report.cost is not None:
        span.set_attribute("mcp_images.cost.usd", report.cost)
    if report.job_id is not None:
        span.set_attribute("mcp_images.job.id", report.job_id)
    if report.outcome in ("error", "refused"):
        span.set_attribute("error.type", "tool_error" if report.outcome == "error" else "budget_refused")
        span.set_status(StatusCode.ERROR, report.error)


def token_counts(usage: dict[str, Any] | None) -> Iterator[tuple[str, int]]:
    """(input|output, count) from an OpenAI-style usage object."""
    for kind in ("input", "output"):
        count = (usage or {}).get(f"{kind}_tokens")
        if isinstance(count, int) and not isinstance(count, bool):
            yield kind, count


def _log_call(report: CallReport) -> None:
    """One line per call: in JSON logs each of these is a field."""
    said = [report.outcome]
    if report.model:
        said.append(f"model {report.model}")
    if report.images:
        said.append(f"{report.images} image(s)")
    if report.cost is not None:
        said.append(f"${report.cost:.4f}")
    if report.job_id:
        said.append(f"job {report.job_id}")
    fields = {
        "tool": report.tool,
        "outcome": report.outcome,
        "model": report.model,
        "cost": report.cost,
        "images": report.images,
        "job_id": report.job_id,
        "seconds": round(report.seconds, 3),
    }
    log.info("%s: %s in %.1f s", report.tool, ", ".join(said), report.seconds, extra={"call": fields})
