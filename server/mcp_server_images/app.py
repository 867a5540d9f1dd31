"""Builds the MCP server: the lifespan that opens the shared services, the tools, resources, health checks and
metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import __version__
from .adapter.app.ui import apps_extension, register_app_listing
from .adapter.browse.completions import register_completions
from .adapter.browse.prompts import register_prompts
from .adapter.browse.resources import register_resources
from .adapter.client_log import register_logging
from .adapter.context import services_for
from .adapter.server import ImagesServer
from .adapter.serving.auth import oauth, root_metadata, signed_in_only
from .adapter.serving.health import HEALTH_PATH, READY_PATH, health, readiness
from .adapter.serving.metrics import METRICS_PATH, metrics_endpoint
from .adapter.tools.described import registered_tools
from .catalog.feed import CatalogFeed
from .clock import Clock
from .errors import ConfigurationError
from .operations.drain import Drain
from .providers import endpoint_of
from .services import Services, Serving, open_services
from .settings import Settings
from .telemetry import Telemetry

if TYPE_CHECKING:
    from .adapter.serving.tokens import JwtVerifier

INSTRUCTIONS = """\
Image generation, editing, variations and vision. Every image this server makes is stored with a short id; pass
that id (or a file path or URL) to later calls instead of image data. Results show a preview when the original is
too large to inline; the full image is always where the result says it is stored. A slow generation answers with
a job id: call get_job with it for the result. analyze_image lets you check what an image shows; list_images finds
earlier images. The prompts are ready-made recipes that chain these tools."""


def build_server(settings: Settings, clock: Clock) -> ImagesServer:
    """The MCP server for these settings. Its lifespan runs once per server (over HTTP, shared by every client).

    The model catalog (with the user's models file, and the cached copy of a catalog feed while it is valid) is
    read here, so a broken file stops the start, not a call, and the tools' descriptions are built from it and the
    settings. `clock` is the server's one wall clock (tests pass a frozen one).
    """
    feed = CatalogFeed.start(settings, clock)
    catalog = feed.catalog
    serving = Serving(clock, Drain(settings.shutdown_grace), telemetry_for(settings))

    opened: list[Services] = []
    """The lifespan's services while it runs, for the HTTP routes (which get no MCP context)."""

    @asynccontextmanager
    async def lifespan(_: MCPServer[Services]) -> AsyncIterator[Services]:
        async with open_services(settings, feed, serving) as services:
            opened.append(services)
            try:
                yield services
            finally:
                opened.remove(services)

    sign_in = oauth(settings, clock)
    server = ImagesServer(
        "mcp-server-images",
        serving=serving,
        title="Images",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level=settings.log_level,
        auth=sign_in[0] if sign_in else None,
        token_verifier=sign_in[1] if sign_in else None,
        extensions=[apps_extension()],
        tools=registered_tools(settings, catalog),
    )
    register_resources(server)
    register_app_listing(server)
    register_prompts(server)
    register_completions(server)
    register_logging(server)
    add_routes(server, settings, sign_in, opened)
    return server


def telemetry_for(settings: Settings) -> Telemetry:
    """The recorder, with Prometheus when /metrics is served (prometheus-client is imported only then)."""
    prometheus = None
    if settings.metrics or settings.metrics_port is not None:
        try:
            from .telemetry.prometheus import PrometheusMetrics
        except ImportError as exc:
            raise ConfigurationError(
                "--metrics needs the Prometheus client library: install mcp-server-images[metrics]."
            ) from exc
        prometheus = PrometheusMetrics(user_labels=settings.metrics_user_labels)
    return Telemetry(endpoint_of(settings).provider, settings.metrics_user_labels, prometheus)


def add_routes(
    server: ImagesServer,
    settings: Settings,
    sign_in: tuple[AuthSettings, JwtVerifier] | None,
    opened: list[Services],
) -> None:
    """The HTTP routes beside the MCP endpoint: health and readiness, metrics, the bare resource metadata path, and
    image links."""
    auth, verifier = sign_in if sign_in else (None, None)

    async def ready(_: Request) -> Response:
        return await readiness(opened[0] if opened else None, server.serving, verifier)

    server.custom_route(HEALTH_PATH, methods=["GET"])(health)
    server.custom_route(READY_PATH, methods=["GET"])(ready)
    prometheus = server.serving.telemetry.prometheus
    if settings.metrics and prometheus is not None:
        metrics = metrics_endpoint(prometheus)
        server.custom_route(METRICS_PATH, methods=["GET"])(metrics if auth is None else signed_in_only(auth, metrics))
    if auth is not None:
        server.custom_route("/.well-known/oauth-protected-resource", methods=["GET"])(root_metadata(auth))
    if settings.public_base_url:
        from .adapter.serving.links import IMAGE_ROUTE, serve_image

        async def image(request: Request) -> Response:
            if not opened:
                return JSONResponse({"error": "starting", "message": "The server is starting."}, status_code=503)
            return await serve_image(services_for(opened[0], request), request)

        server.custom_route(IMAGE_ROUTE, methods=["GET"])(image if auth is None else signed_in_only(auth, image))
