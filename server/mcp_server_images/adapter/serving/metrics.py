"""The Prometheus endpoint: the metrics in the text exposition format, on the HTTP port behind the same sign-in as
/mcp (`--metrics`), or on a port of its own without (`--metrics-port`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from .auth import Endpoint

if TYPE_CHECKING:  # prometheus-client is imported only when metrics are served
    from ...telemetry.prometheus import PrometheusMetrics

METRICS_PATH = "/metrics"


def metrics_endpoint(prometheus: PrometheusMetrics) -> Endpoint:
    async def metrics(_: Request) -> Response:
        return Response(prometheus.text(), media_type=prometheus.content_type)

    return metrics
