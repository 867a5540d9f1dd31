"""The health check every server answers (stdio servers too register it, for the HTTP app they may build)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

HEALTH_PATH = "/healthz"


async def health(_: Request) -> Response:
    """Liveness for load balancers and scripts; open without a token because it reveals nothing."""
    return JSONResponse({"status": "ok", "server": "mcp-server-images"})
