"""Builds the MCP server: the lifespan that opens the shared services, the tools, resources and health check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.mcpserver import MCPServer

from . import __version__
from .adapter.client_log import register_logging
from .adapter.completions import register_completions
from .adapter.http import HEALTH_PATH, health
from .adapter.prompts import register_prompts
from .adapter.resources import register_resources
from .adapter.server import ImagesServer
from .adapter.tools import TOOLS
from .services import Services, open_services
from .settings import Settings

INSTRUCTIONS = """\
Image generation, editing, variations and vision. Every image this server makes is saved to disk with a short
id; pass that id (or a file path or URL) to later calls instead of image data. Results show a preview when the
original is too large to inline; the full image is always in the file named in the result. A slow generation
answers with a job id: call get_job with it for the result. analyze_image lets you check what an image shows;
list_images finds earlier images. The prompts are ready-made recipes that chain these tools."""


def build_server(settings: Settings) -> MCPServer[Services]:
    """The MCP server for these settings. Its lifespan runs once per server (over HTTP, shared by every client)."""

    @asynccontextmanager
    async def lifespan(_: MCPServer[Services]) -> AsyncIterator[Services]:
        async with open_services(settings) as services:
            yield services

    server: MCPServer[Services] = ImagesServer(
        "mcp-server-images",
        title="Images",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level=settings.log_level,
    )
    for tool in TOOLS:
        description = tool.describe(settings) if tool.describe else None
        server.add_tool(tool.handler, title=tool.title, description=description, annotations=tool.annotations)
    register_resources(server)
    register_prompts(server)
    register_completions(server)
    register_logging(server)
    server.custom_route(HEALTH_PATH, methods=["GET"])(health)
    return server
