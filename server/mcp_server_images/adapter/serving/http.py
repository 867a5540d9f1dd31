"""Streamable HTTP: the MCP endpoint, bearer-token auth, DNS-rebinding protection and an open health check.

The server binds to loopback by default. Listening anywhere else without a token would hand the user's API key
(and their disk, through image paths) to anyone who can reach the port, so that needs an explicit flag. The
bind address is judged by the address it names, not by its spelling: `0:0:0:0:0:0:0:1`, `::ffff:127.0.0.1`,
`127.0.0.2` and `localhost.` are loopback like `127.0.0.1`, and each keeps the Host and Origin checks that stop
DNS rebinding.

What one client can take is bounded: open sessions (MCP_IMAGES_MAX_SESSIONS; the SDK answers one more with 503)
and their idle life (MCP_IMAGES_SESSION_IDLE_TIMEOUT; an expired session answers 404 and the client starts a new
one), and requests per user and minute (MCP_IMAGES_RATE_LIMIT, see limits.py). A token in the query string is
refused (auth.py) and the access log never shows a query string.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ...errors import ConfigurationError
from ...services import Services
from ...settings import Settings
from .auth import QueryTokenRefusal
from .events import RETRY_MILLISECONDS, RecentEvents
from .health import HEALTH_PATH
from .limits import RateLimit
from .web_access import open_to_origins

log = logging.getLogger(__name__)


LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")
"""How clients name a loopback server in Host and Origin headers."""


def loopback_address(host: str) -> str | None:
    """The host as Host headers spell it (`127.0.0.2`, `[::1]`, `localhost`) when it is loopback, else None."""
    name = host.strip().rstrip(".").lower()
    if name == "localhost":
        return name
    try:
        ip = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_loopback:
        return None
    return f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else str(ip)


def rebinding_protection(host: str, local_name: str, web_origins: list[str]) -> TransportSecuritySettings:
    """Host/Origin checks for a loopback bind: only the usual loopback names and the bound address pass, and the
    pages of the web origins the operator allowed (`cors_origins`).

    The bound address counts in its usual form (`[::1]`) and as it was typed (`[0:0:0:0:0:0:0:1]`).
    """
    typed = f"[{host.strip('[]')}]" if ":" in host else host.strip()
    names = dict.fromkeys([*LOCAL_NAMES, local_name, typed.lower()])
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{name}:*" for name in names],
        allowed_origins=[f"http://{name}:*" for name in names] + web_origins,
    )


class BearerTokenMiddleware:
    """Answers 401 to any request but the health check that lacks `Authorization: Bearer <token>`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != HEALTH_PATH:
            presented = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(presented, self.expected):
                response = JSONResponse(
                    {"error": "unauthorized", "message": "Send 'Authorization: Bearer <MCP_IMAGES_AUTH_TOKEN>'."},
                    status_code=401,
                    headers={"www-authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def http_app(server: MCPServer[Services], settings: Settings) -> ASGIApp:
    """The ASGI app serving MCP at `settings.path` and the health check at /healthz, to the web origins allowed.

    Outside stateless mode every SSE stream opens with a priming event and a `retry` interval, and its events are
    kept a while, so a client whose connection dropped resumes the stream (`Last-Event-ID`)."""
    token = settings.auth_token.get_secret_value() if settings.auth_token else None
    local_name = loopback_address(settings.host)
    signed_in = token is not None or settings.oauth_issuer is not None  # OAuth: the SDK checks every MCP request
    if local_name is None and not signed_in and not settings.allow_remote:
        raise ConfigurationError(
            f"Refusing to listen on {settings.host} without an auth token: anyone who reaches the port could use "
            "your API key. Set MCP_IMAGES_AUTH_TOKEN (or MCP_IMAGES_OAUTH_ISSUER), bind to 127.0.0.1, or pass "
            "--allow-remote if a proxy in front of this server authenticates requests."
        )

    # Host names clients will use are unknown off loopback; the bearer token is what stops rebinding there.
    security = (
        rebinding_protection(settings.host, local_name, settings.web_origins())
        if local_name is not None
        else TransportSecuritySettings(enable_dns_rebinding_protection=False)
    )
    app = server.streamable_http_app(
        streamable_http_path=settings.path,
        host=settings.host,
        transport_security=security,
        stateless_http=settings.stateless_http,
        event_store=None if settings.stateless_http else RecentEvents(),
        retry_interval=RETRY_MILLISECONDS,
        max_sessions=settings.max_sessions,
        session_idle_timeout=settings.session_idle_timeout,
    )
    if settings.rate_limit:
        # Inside the SDK's authentication middleware (appended after it), so the limit knows who signed in.
        app.user_middleware.append(Middleware(RateLimit, per_minute=settings.rate_limit))
    guarded = BearerTokenMiddleware(app, token) if token else app
    # Outermost: other origins' preflights are answered, and every answer (a refusal too) carries the CORS headers.
    return open_to_origins(QueryTokenRefusal(guarded), settings.web_origins())


class QueryStringOmitted(logging.Filter):
    """Access log lines without the query string: a client may put a token there (refused, but logged first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?[query not logged]", *args[3:])
        return True


async def serve_http(server: MCPServer[Services], settings: Settings) -> None:
    app = http_app(server, settings)
    logging.getLogger("uvicorn.access").addFilter(QueryStringOmitted())
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None, lifespan="on")
    log.info("MCP endpoint: http://%s:%d%s", settings.host, settings.port, settings.path)
    await uvicorn.Server(config).serve()
