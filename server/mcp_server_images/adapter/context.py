"""What a handler reads from the MCP request: the server's services as the caller may see them, the client's roots,
whether it watches.

Every handler gets its services from `services_of` (or, for the low-level handlers and the HTTP routes,
`services_for`): the services the lifespan opened, seen by the request's signed-in user. That is the one place
where the owner-scoped view of the store (store/owned.py) is chosen, so no read path can reach the whole store.
"""

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
from ..store.owned import EVERYONE, Viewer
from .serving.auth import access_of

log = logging.getLogger(__name__)

ROOTS_TIMEOUT = 5.0
SESSION_HEADER = "mcp-session-id"
ONE_CLIENT = "the one client"
"""The audience of a stdio or in-memory server, which has a single client."""

Ctx = Context[Services, Any]


def services_of(ctx: Ctx) -> Services:
    """The services the server's lifespan opened, as the caller sees them."""
    services: Services = ctx.request_context.lifespan_context
    return services_for(services, ctx.request_context.request)


def services_for(services: Services, request: object) -> Services:
    """`services` as the user who sent `request` sees them (everything, without sign-in)."""
    return services.seen_by(viewer_of(services.settings, request))


def viewer_of(settings: Settings, request: object) -> Viewer:
    """Who sent the request: the signed-in subject, whether it administers the server, whether it sees only its own."""
    access = access_of(request)
    if access is None or access.subject is None:
        return EVERYONE
    admin = access.subject in settings.admins() or (
        settings.admin_scope is not None and settings.admin_scope in access.scopes
    )
    return Viewer(subject=access.subject, admin=admin, own_only=settings.own_images_only)


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
    access = access_of(ctx.request_context.request)
    return None if access is None else access.subject


def audience_of(ctx: Ctx) -> str | None:
    """Who a note said once per session goes to: the single client of a stdio or in-memory server, a handshake-era
    HTTP session (by its id), or None where there is no session to remember it by (stateless HTTP, and the
    2026-07-28 protocol over HTTP, which has no sessions), so that such a caller hears the note every time."""
    headers = ctx.headers
    if headers is None:
        return ONE_CLIENT
    session = headers.get(SESSION_HEADER)
    return f"session {session}" if session else None
