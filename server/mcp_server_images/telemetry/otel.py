"""OpenTelemetry's SDK with the OTLP/HTTP exporters, switched on when the standard OTEL_* variables name an endpoint.

Imported only then: the SDK and the exporters come with the `otel` extra. They read the rest of their configuration
from the same variables, as every OpenTelemetry SDK does (OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES, OTEL_METRIC_EXPORT_INTERVAL, ...). The providers become the global ones, so the MCP SDK's
own spans (one per message) are exported with the server's, as their parents.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

SERVICE = "mcp-server-images"


@dataclass(frozen=True)
class Export:
    """The providers exporting over OTLP; `shutdown()` sends what is still buffered."""

    tracing: TracerProvider
    metering: MeterProvider

    def shutdown(self) -> None:
        self.tracing.shutdown()
        self.metering.shutdown()


def start_export(version: str) -> Export:
    resource = Resource.create({"service.version": version})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": SERVICE}))
    tracing = TracerProvider(resource=resource)
    tracing.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    metering = MeterProvider(resource=resource, metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())])
    trace.set_tracer_provider(tracing)
    metrics.set_meter_provider(metering)
    return Export(tracing, metering)
