"""What a handler reads from the MCP request: the server's services, the client's roots, whether it watches."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import anyio
from mcp import MCPDeprecationWarning
from mcp.server.mcpserver import Context

from ..inputs.refs import parse_path
from ..services import Services
from ..settings import Settings
from .serving.auth import subject_of

log = logging.getLogger(__name__)

ROOTS_TIMEOUT = 5.0
SESSION_HEADER = "mcp-session-id"
ONE_CLIENT = "the one client"
"""The audience of a stdio or in-memory server, which has a single client."""

Ctx = Context[Services, Any]


def services_of(ctx: Ctx) -> Services:
    """The services the server's lifespan opened."""
    services: Services = ctx.request_context.lifespan_context
    return services


async def client_roots(ctx: Ctx) -> list[Path]:
    """Folders the client offers (MCP roots), as local paths; empty when the client has none or cannot say."""
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.roots is None:
        return []
    try:
        with anyio.fail_after(ROOTS_TIMEOUT), warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            listed = await ctx.session.list_roots()
    except Exception as exc:
        log.debug("could not list the client's roots: %r", exc)
        return []
    roots = []
    for root in listed.roots:
        ref = parse_path(str(root.uri), windows=os.name == "nt")
        if ref.windows == (os.name == "nt") and ref.path.is_absolute():
            roots.append(Path(ref.path))
    return roots


def wants_progress(ctx: Ctx) -> bool:
    """Whether the caller sent a progress token (only then are partial images streamed)."""
    meta = ctx.request_context.meta
    if meta is None:
        return False
    return any(meta.get(key) is not None for key in ("progress_token", "progressToken"))


def caller(ctx: Ctx) -> str | None:
    """The signed-in user's subject (OAuth over HTTP); None without sign-in."""
    return subject_of(ctx.request_context.request)


def audience_of(ctx: Ctx) -> str | None:
    """Who a note said once per session goes to: the single client of a stdio or in-memory server, a handshake-era
    HTTP session (by its id), or None where there is no session to remember it by (stateless HTTP, and the
    2026-07-28 protocol over HTTP, which has no sessions), so that such a caller hears the note every time."""
    headers = ctx.headers
    if headers is None:
        return ONE_CLIENT
    session = headers.get(SESSION_HEADER)
    return f"session {session}" if session else None


def listing_user(settings: Settings, request: object) -> str | None:
    """Whose images a listing shows: the caller's own with `own_images_only` and a signed-in caller, else all."""
    return subject_of(request) if settings.own_images_only else None
