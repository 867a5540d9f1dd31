"""Builds the MCP server: the lifespan that opens the shared services, the tools, resources and health check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
from .adapter.serving.health import HEALTH_PATH, health
from .adapter.tools.described import registered_tools
from .catalog.feed import CatalogFeed
from .clock import Clock
from .services import Services, open_services
from .settings import Settings

INSTRUCTIONS = """\
Image generation, editing, variations and vision. Every image this server makes is saved to disk with a short
id; pass that id (or a file path or URL) to later calls instead of image data. Results show a preview when the
original is too large to inline; the full image is always in the file named in the result. A slow generation
answers with a job id: call get_job with it for the result. analyze_image lets you check what an image shows;
list_images finds earlier images. The prompts are ready-made recipes that chain these tools."""


def build_server(settings: Settings, clock: Clock) -> MCPServer[Services]:
    """The MCP server for these settings. Its lifespan runs once per server (over HTTP, shared by every client).

    The model catalog (with the user's models file, and the cached copy of a catalog feed while it is valid) is
    read here, so a broken file stops the start, not a call, and the tools' descriptions are built from it and the
    settings. `clock` is the server's one wall clock (tests pass a frozen one).
    """
    feed = CatalogFeed.start(settings, clock)
    catalog = feed.catalog

    opened: list[Services] = []
    """The lifespan's services while it runs, for the HTTP routes (which get no MCP context)."""

    @asynccontextmanager
    async def lifespan(_: MCPServer[Services]) -> AsyncIterator[Services]:
        async with open_services(settings, feed, clock) as services:
            opened.append(services)
            try:
                yield services
            finally:
                opened.remove(services)

    sign_in = oauth(settings, clock)
    server: MCPServer[Services] = ImagesServer(
        "mcp-server-images",
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
    add_routes(server, settings, sign_in[0] if sign_in else None, opened)
    return server


def add_routes(
    server: MCPServer[Services], settings: Settings, auth: AuthSettings | None, opened: list[Services]
) -> None:
    """The HTTP routes beside the MCP endpoint: health, the bare resource metadata path, and image links."""
    server.custom_route(HEALTH_PATH, methods=["GET"])(health)
    if auth is not None:
        server.custom_route("/.well-known/oauth-protected-resource", methods=["GET"])(root_metadata(auth))
    if settings.public_base_url:
        from .adapter.serving.links import IMAGE_ROUTE, serve_image

        async def image(request: Request) -> Response:
            if not opened:
                return JSONResponse({"error": "starting", "message": "The server is starting."}, status_code=503)
            return await serve_image(services_for(opened[0], request), request)

        server.custom_route(IMAGE_ROUTE, methods=["GET"])(image if auth is None else signed_in_only(auth, image))
