"""Reading back what the server tells an operator: OpenTelemetry spans and metrics in memory (the SDK's own in-memory
readers, installed as the process's providers), an OTLP/HTTP receiver a server process exports to, and JSON logs.

The process's OpenTelemetry providers can be set once; the in-memory ones are installed the first time a test asks
for them and stay. Spans are recorded only while a test reads them (so the rest of the suite does not fill memory
with them); metrics are cumulative for the process, so tests compare readings taken before and after.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.servers import free_port


class _Gate(SpanProcessor):
    """Passes spans on to `inner` only while open."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner = inner
        self.open = False

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self.open:
            self.inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if self.open:
            self.inner.on_end(span)


@dataclass
class MemoryTelemetry:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    gate: _Gate

    def finished_spans(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self) -> dict[str, list[tuple[dict[str, Any], float]]]:
        """Every metric's data points now: name -> [(attributes, value: a sum or a histogram's count)]."""
        found: dict[str, list[tuple[dict[str, Any], float]]] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = point.value if isinstance(point, NumberDataPoint) else point.count
                        found.setdefault(metric.name, []).append((dict(point.attributes or {}), float(value)))
        return found


_installed: list[MemoryTelemetry] = []


@contextmanager
def recorded() -> Iterator[MemoryTelemetry]:
    """The in-memory providers (installed once per process), recording spans while the block runs."""
    if not _installed:
        spans = InMemorySpanExporter()
        gate = _Gate(SimpleSpanProcessor(spans))
        tracing = TracerProvider()
        tracing.add_span_processor(gate)
        trace.set_tracer_provider(tracing)
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _installed.append(MemoryTelemetry(spans, reader, gate))
    memory = _installed[0]
    memory.spans.clear()
    memory.gate.open = True
    try:
        yield memory
    finally:
        memory.gate.open = False
        memory.spans.clear()


def total(points: dict[str, list[tuple[dict[str, Any], float]]], name: str, **attributes: Any) -> float:
    """The sum of a metric's points whose attributes include `attributes`."""
    return sum(value for seen, value in points.get(name, []) if attributes.items() <= seen.items())


@dataclass
class OtlpReceiver:
    """An OTLP/HTTP endpoint on loopback, keeping what it is sent (protobuf, as the exporters send by default)."""

    endpoint: str
    traces: list[ExportTraceServiceRequest] = field(default_factory=list)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)

    def spans(self) -> list[dict[str, Any]]:
        """Every span received: name, ids, parent id, attributes, and its resource's attributes."""
        found = []
        for request in self.traces:
            for resource in request.resource_spans:
                owner = {kv.key: _value(kv.value) for kv in resource.resource.attributes}
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        found.append(
                            {
                                "name": span.name,
                                "span_id": span.span_id.hex(),
                                "parent_id": span.parent_span_id.hex(),
                                "attributes": {kv.key: _value(kv.value) for kv in span.attributes},
                                "resource": owner,
                            }
                        )
        return found

    def metric_names(self) -> set[str]:
        return {
            metric.name
            for request in self.metrics
            for resource in request.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        }


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    port = free_port()
    receiver = OtlpReceiver(f"http://127.0.0.1:{port}")

    async def traces(request: Request) -> Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.body())
        receiver.traces.append(message)
        return Response(b"", media_type="application/x-protobuf")

    async def metric_data(request: Request) -> Response:
        message = ExportMetricsServiceRequest()
        message.ParseFromString(await request.body())
        receiver.metrics.append(message)
        return Response(b"", media_type="application/x-protobuf")

    routes = [Route("/v1/traces", traces, methods=["POST"]), Route("/v1/metrics", metric_data, methods=["POST"])]
    config = uvicorn.Config(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="otlp-receiver", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the OTLP receiver did not start")
        time.sleep(0.01)
    try:
        yield receiver
    finally:
        server.should_exit = True
        thread.join(timeout=10)
