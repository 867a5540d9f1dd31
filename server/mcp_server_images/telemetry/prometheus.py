"""The Prometheus side of the metrics: one registry per server, served as text at /metrics.

Imported only when /metrics is served (`--metrics` or `--metrics-port`): prometheus-client comes with the
`metrics` extra. Each server gets its own registry (not the library's global one), so two servers in one process
never count into each other.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from . import DURATION_BUCKETS, CallReport, JobReport, token_counts


class PrometheusMetrics:
    """Calls by tool, model and outcome; their latency; jobs, images, tokens and spend; upstream failures and
    retries; budget refusals; lost jobs."""

    def __init__(self, *, user_labels: bool) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._user_labels = user_labels
        users = ("user",) if user_labels else ()
        registry = self.registry
        self._calls = Counter(
            "mcp_images_calls",
            "Tool calls by tool, model and outcome",
            ("tool", "model", "outcome", *users),
            registry=registry,
        )
        self._latency = Histogram(
            "mcp_images_call_duration_seconds",
            "How long tool calls took to answer",
            ("tool",),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self._jobs = Counter(
            "mcp_images_jobs",
            "Image jobs by operation, model and how they ended",
            ("operation", "model", "status"),
            registry=registry,
        )
        self._images = Counter("mcp_images_images", "Images stored", ("model",), registry=registry)
        self._tokens = Counter("mcp_images_tokens", "Tokens used by image jobs", ("model", "type"), registry=registry)
        self._spend = Counter(
            "mcp_images_spend_usd", "Cost of the image jobs, USD", ("model", *users), registry=registry
        )
        self._upstream = Counter(
            "mcp_images_upstream_errors",
            "Failed attempts of upstream requests by HTTP status or kind",
            ("kind",),
            registry=registry,
        )
        self._retries = Counter("mcp_images_upstream_retries", "Upstream requests retried", registry=registry)
        self._refusals = Counter("mcp_images_budget_refusals", "Calls a budget refused", registry=registry)
        self._lost = Counter("mcp_images_jobs_lost", "Jobs found lost (their instance died)", registry=registry)

    content_type = CONTENT_TYPE_LATEST

    def text(self) -> bytes:
        return generate_latest(self.registry)

    def call(self, report: CallReport, *, user: str | None) -> None:
        self._calls.labels(report.tool, report.model or "", report.outcome, *self._user(user)).inc()
        self._latency.labels(report.tool).observe(report.seconds)

    def job(self, report: JobReport, *, user: str | None) -> None:
        model = report.model or ""
        self._jobs.labels(report.operation, model, report.status).inc()
        if report.images:
            self._images.labels(model).inc(report.images)
        for kind, count in token_counts(report.usage):
            self._tokens.labels(model, kind).inc(count)
        if report.cost:
            self._spend.labels(model, *self._user(user)).inc(report.cost)
        if report.status == "refused":
            self._refusals.inc()

    def upstream(self, kind: str, *, retried: bool) -> None:
        self._upstream.labels(kind).inc()
        if retried:
            self._retries.inc()

    def lost(self) -> None:
        self._lost.inc()

    def _user(self, user: str | None) -> list[str]:
        """The user label's value, when users label the metrics."""
        return [user or ""] if self._user_labels else []
