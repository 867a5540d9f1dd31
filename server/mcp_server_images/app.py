"""Builds the MCP server: the lifespan that owns the upstream client, the tools and the resources."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.mcpserver import MCPServer

from . import __version__
from .operations import ImageService
from .resources import register_resources
from .settings import Settings
from .store import ImageStore
from .tools import register_tools
from .upstream import ImagesAPI, RetryPolicy, UpstreamClient

INSTRUCTIONS = """\
Image generation, editing and understanding. Every image this server makes is saved to disk with a short id;
pass that id (or the file path) to later calls instead of image data. Results show a preview when the original
is too large to inline; the full image is always in the file named in the result."""


def build_server(settings: Settings) -> MCPServer[ImageService]:
    """The MCP server for these settings; each connection's lifespan opens one pooled upstream client."""
    endpoint = settings.endpoint()

    @asynccontextmanager
    async def lifespan(_: MCPServer[ImageService]) -> AsyncIterator[ImageService]:
        async with UpstreamClient(
            endpoint,
            timeout=settings.upstream_timeout,
            max_concurrency=settings.max_concurrency,
            retry=RetryPolicy(max_retries=settings.max_retries),
        ) as client:
            yield ImageService(
                images=ImagesAPI(client),
                store=ImageStore(settings.output_dir),
                provider=endpoint.provider,
                default_model=settings.default_model,
            )

    server: MCPServer[ImageService] = MCPServer(
        "mcp-server-images",
        title="Images",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level=settings.log_level,
    )
    register_tools(server, settings)
    register_resources(server)
    return server
