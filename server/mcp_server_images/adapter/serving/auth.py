"""OAuth 2.1 resource server (the MCP authorization spec): the SDK's settings and the HTTP side of sign-in.

The SDK does the HTTP side once it has `AuthSettings` and a `TokenVerifier`: 401 with `WWW-Authenticate: Bearer
resource_metadata="…"` for a missing or refused token, 403 for a missing scope, and the protected resource
metadata at `/.well-known/oauth-protected-resource/<path>`. The verifier (JWT access tokens against the issuer's
JWKS) lives in tokens.py, imported only by a server that has an issuer configured: PyJWT and `cryptography` stay
out of every other start.

The issuer is advertised exactly as configured: RFC 8414 clients (the SDK's own among them) compare it character
for character, so `http://idp:8080` must not become `http://idp:8080/`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from mcp.server.auth.handlers.metadata import ProtectedResourceMetadataHandler
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import build_resource_metadata_url
from mcp.server.auth.settings import AuthSettings
from mcp.shared.auth import ProtectedResourceMetadata
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from ...clock import Clock
from ...settings import Settings

if TYPE_CHECKING:
    from .tokens import JwtVerifier

log = logging.getLogger(__name__)


def oauth(settings: Settings, clock: Clock) -> tuple[AuthSettings, JwtVerifier] | None:
    """The SDK's resource-server settings and this module's verifier, when an issuer is configured."""
    if settings.oauth_issuer is None or settings.resource_url is None:
        return None
    # Given as strings, the URLs keep their exact form (AuthSettings preserves an empty path); AnyHttpUrl(...) on
    # its own would add a slash to a path-less issuer.
    auth = AuthSettings.model_validate(
        {
            "issuer_url": settings.oauth_issuer,
            "resource_server_url": settings.resource_url,
            "required_scopes": settings.required_scopes() or None,
            "validate_token_resource": True,
        }
    )
    from .tokens import Jwks, JwtVerifier  # PyJWT and cryptography: only for a server with sign-in

    keys = Jwks(settings.oauth_issuer, settings.oauth_jwks_url, clock, allow_private=settings.allow_private_urls)
    verifier = JwtVerifier(issuer=settings.oauth_issuer, audience=settings.resource_url, keys=keys, clock=clock)
    return auth, verifier


Endpoint = Callable[[Request], Awaitable[Response]]


def signed_in_only(auth: AuthSettings, endpoint: Endpoint) -> Endpoint:
    """`endpoint` behind the SDK's own check (custom routes are open by default): the same 401 and
    WWW-Authenticate header, and the same scope check, as the MCP endpoint."""
    resource = auth.resource_server_url
    metadata = build_resource_metadata_url(resource) if resource else None
    guard = RequireAuthMiddleware(request_response(endpoint), auth.required_scopes or [], metadata)

    async def guarded(_: Request) -> Response:
        return _Delegate(guard)

    return guarded


def root_metadata(auth: AuthSettings) -> Endpoint:
    """Protected resource metadata at the bare `/.well-known/oauth-protected-resource` too: the SDK serves it at
    the path-inserted form (RFC 9728), and some clients look only at the root."""
    metadata = ProtectedResourceMetadata(
        resource=auth.resource_server_url or auth.issuer_url,
        authorization_servers=[auth.issuer_url],
        scopes_supported=auth.required_scopes,
    )
    return ProtectedResourceMetadataHandler(metadata).handle


class QueryTokenRefusal:
    """ASGI middleware: a request carrying `access_token` in its query string (RFC 6750 section 2.3, which the MCP
    authorization spec forbids) is refused with 400 `invalid_request` before anything else sees the token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = (
            parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            if scope["type"] == "http"
            else {}
        )
        if "access_token" not in query:
            await self.app(scope, receive, send)
            return
        description = "Access tokens are not accepted in the URL; send them as 'Authorization: Bearer <token>'."
        response = JSONResponse(
            {"error": "invalid_request", "error_description": description},
            status_code=400,
            headers={"www-authenticate": f'Bearer error="invalid_request", error_description="{description}"'},
        )
        await response(scope, receive, send)


class _Delegate(Response):
    """A response that hands the request to an ASGI app: how a request endpoint runs the SDK's middleware."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__()
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def access_of(request: object) -> AccessToken | None:
    """The accepted OAuth token of a request that came over HTTP with one (its subject and scopes); else None."""
    scope = getattr(request, "scope", None)
    user = scope.get("user") if isinstance(scope, dict) else None
    return user.access_token if isinstance(user, AuthenticatedUser) else None
