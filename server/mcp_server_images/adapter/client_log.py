"""Log messages to the client (MCP logging): what a tool call did, shown in the client's log or debug panel.

Handshake-era clients (protocol 2025-11-25 and before) set their level with `logging/setLevel` and get every
message at or above it. From 2026-07-28 on, logging is deprecated and opt-in per request (`_meta`); the SDK
applies that gate and `logging/setLevel` no longer exists. Either way the server's own log stays on stderr.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

from mcp import MCPDeprecationWarning
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.types import EmptyResult, LoggingLevel, SetLevelRequestParams

from ..services import Services
from .context import SESSION_HEADER, Ctx, services_of

log = logging.getLogger(__name__)

LEVELS: tuple[LoggingLevel, ...] = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
LOGGER_NAME = "mcp-server-images"


def _client_key(headers: Mapping[str, str] | None) -> str | None:
    """Which client asked: its HTTP session id, or None for the single client of a stdio or in-memory server."""
    return None if headers is None else headers.get(SESSION_HEADER)


async def set_level(ctx: ServerRequestContext[Services, Any], params: SetLevelRequestParams) -> EmptyResult:
    """`logging/setLevel`: remember the least severe level this client wants."""
    headers = getattr(ctx.request, "headers", None)
    ctx.lifespan_context.client_log_levels[_client_key(headers)] = params.level
    return EmptyResult()


async def client_log(ctx: Ctx, level: LoggingLevel, message: str) -> None:
    """Send one message to the calling client when its level lets it through; never fails the call."""
    wanted = services_of(ctx).client_log_levels.get(_client_key(ctx.headers))
    if wanted is not None and LEVELS.index(level) < LEVELS.index(wanted):
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await ctx.log(level, message, logger_name=LOGGER_NAME)
    except Exception as exc:  # a client that went away must not turn a finished call into a failure
        log.debug("could not send a log message to the client: %r", exc)


def register_logging(server: MCPServer[Services]) -> None:
    """Serve `logging/setLevel` (for handshake-era clients; the SDK refuses it on 2026-07-28 connections).

    Registered on the low-level server because MCPServer has no hook for it; this also advertises the logging
    capability.
    """
    server._lowlevel_server.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
