"""Streamable HTTP: the MCP endpoint, bearer-token auth, DNS-rebinding protection, open health checks, and the way
the server stops.

The server binds to loopback by default. Listening anywhere else without a token would hand the user's API key
(and their disk, through image paths) to anyone who can reach the port, so that needs an explicit flag. The
bind address is judged by the address it names, not by its spelling: `0:0:0:0:0:0:0:1`, `::ffff:127.0.0.1`,
`127.0.0.2` and `localhost.` are loopback like `127.0.0.1`, and each keeps the Host and Origin checks that stop
DNS rebinding.

What one client can take is bounded: open sessions (MCP_IMAGES_MAX_SESSIONS; the SDK answers one more with 503)
and their idle life (MCP_IMAGES_SESSION_IDLE_TIMEOUT; an expired session answers 404 and the client starts a new
one), and requests per user and minute (MCP_IMAGES_RATE_LIMIT, see limits.py). A token in the query string is
refused (auth.py) and the access log never shows a query string.

On SIGTERM or SIGINT uvicorn stops listening (a balancer's next connection goes to another instance) and the
drain begins (operations/drain.py): every call in flight answers within the shutdown grace period, with its result
or its job id, on the response stream it came in on; only then are the remaining streams (a legacy client's
standing GET stream) ended, the connections closed, and the jobs given the rest of the grace period. The SDK's
SSE library would end every stream at the signal, cutting the answers off ("SSE stream ended without a
response"), so its automatic ending is switched off and done here once the answers are out.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import socket

import anyio
import uvicorn
from mcp.server.transport_security import TransportSecuritySettings
from sse_starlette.sse import AppStatus
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ...errors import ConfigurationError
from ...operations.drain import Drain
from ...settings import Settings
from ..server import ImagesServer
from .auth import QueryTokenRefusal
from .events import RETRY_MILLISECONDS, RecentEvents
from .health import HEALTH_PATH, READY_PATH
from .limits import RateLimit
from .metrics import METRICS_PATH, metrics_endpoint
from .web_access import open_to_origins

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({HEALTH_PATH, READY_PATH})
"""What a load balancer asks without a token."""
CLOSE_MARGIN = 5.0
"""Seconds after the grace period at which uvicorn stops waiting for connections to close."""


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
    """Answers 401 to any request but the health checks that lacks `Authorization: Bearer <token>`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
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


class OwedAnswers:
    """Counts the POST requests in flight (each carries a call, or a client's answer to the server) as answers the
    drain waits for: a POST's response is complete when its stream has sent the call's answer."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        with self.drain.owing():
            await self.app(scope, receive, send)


def http_app(server: ImagesServer, settings: Settings) -> ASGIApp:
    """The ASGI app serving MCP at `settings.path` and the health checks at /healthz and /readyz, to the web
    origins allowed.

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
    counted = OwedAnswers(app, server.serving.drain)
    guarded = BearerTokenMiddleware(counted, token) if token else counted
    # Outermost: other origins' preflights are answered, and every answer (a refusal too) carries the CORS headers.
    return open_to_origins(QueryTokenRefusal(guarded), settings.web_origins())


class DrainingServer(uvicorn.Server):
    """uvicorn, which begins the drain when it stops listening (see the module's docstring), and then lets the
    process end normally (status 0, buffered telemetry sent) rather than raise the signal again as uvicorn does."""

    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self.drain = drain

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.drain.begin()
        await super().shutdown(sockets)
        self._captured_signals.clear()


class QueryStringOmitted(logging.Filter):
    """Access log lines without the query string: a client may put a token there (refused, but logged first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?[query not logged]", *args[3:])
        return True


async def end_streams_once_answered(drain: Drain) -> None:
    """Once the drain has begun and every call in flight has answered (or the grace period is over), end the
    response streams still open, so that their connections close."""
    await drain.begun()
    await drain.answered()
    log.info("calls in flight have answered; closing the remaining connections")
    AppStatus.should_exit = True


async def serve_http(server: ImagesServer, settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT, then stop as the module's docstring says (a second signal stops at once)."""
    AppStatus.disable_automatic_graceful_drain()  # type: ignore[no-untyped-call]
    drain = server.serving.drain
    app = http_app(server, settings)
    logging.getLogger("uvicorn.access").addFilter(QueryStringOmitted())
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace + CLOSE_MARGIN),
    )
    log.info("MCP endpoint: http://%s:%d%s", settings.host, settings.port, settings.path)
    main = DrainingServer(config, drain)
    scraped = metrics_server(server, settings)
    async with anyio.create_task_group() as group:
        group.start_soon(end_streams_once_answered, drain)
        if scraped is not None:
            group.start_soon(scraped.serve)
        await main.serve()
        if scraped is not None:
            scraped.should_exit = True
        group.cancel_scope.cancel()


def metrics_server(server: ImagesServer, settings: Settings) -> uvicorn.Server | None:
    """/metrics on its own port without sign-in (`--metrics-port`), for a scraper inside the network."""
    prometheus = server.serving.telemetry.prometheus
    if settings.metrics_port is None or prometheus is None:
        return None
    app = Starlette(routes=[Route(METRICS_PATH, metrics_endpoint(prometheus), methods=["GET"])])
    log.info("Prometheus metrics: http://%s:%d%s", settings.host, settings.metrics_port, METRICS_PATH)
    config = uvicorn.Config(app, host=settings.host, port=settings.metrics_port, log_config=None, lifespan="off")
    return uvicorn.Server(config)
