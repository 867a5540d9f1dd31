"""Browser pages on other origins (a web host of MCP Apps, an inspector in the browser) calling the HTTP endpoint.

A browser sends a page's request to another origin only when the server says, per CORS, that this origin may
call it: it first asks with an OPTIONS preflight, then reads the answer only if `Access-Control-Allow-Origin`
names the page's origin. Only the origins an operator lists (`MCP_IMAGES_CORS_ORIGINS`) are named; every request
past the preflight still needs the bearer token or sign-in, which the preflight itself never carries.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

METHODS = ["GET", "POST", "DELETE", "OPTIONS"]
"""Streamable HTTP: POST requests, GET for the server's own stream, DELETE to end a session."""
EXPOSED_HEADERS = ["mcp-session-id", "mcp-protocol-version", "www-authenticate"]
"""Response headers a page's MCP client must read: its session, the protocol, where to sign in."""
PREFLIGHT_CACHE_SECONDS = 600


def open_to_origins(app: ASGIApp, origins: list[str]) -> ASGIApp:
    """`app`, answering preflights and adding CORS headers for `origins` (unchanged when there are none)."""
    if not origins:
        return app
    return CORSMiddleware(
        app,
        allow_origins=origins,
        allow_methods=METHODS,
        allow_headers=["*"],  # echoes what the preflight asks for: Authorization, Mcp-* and whatever comes next
        expose_headers=EXPOSED_HEADERS,
        max_age=PREFLIGHT_CACHE_SECONDS,
    )
