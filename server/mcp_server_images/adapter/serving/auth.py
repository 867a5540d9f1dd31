"""OAuth 2.1 resource server (the MCP authorization spec): JWT access tokens checked against the issuer's JWKS.

The SDK does the HTTP side once it has `AuthSettings` and a `TokenVerifier`: 401 with `WWW-Authenticate: Bearer
resource_metadata="…"` for a missing or refused token, 403 for a missing scope, and the protected resource
metadata at `/.well-known/oauth-protected-resource/<path>`. This module verifies tokens: signature with a key from
the issuer's JWKS (asymmetric algorithms only, so a public key can never be used as an HMAC secret and `alg: none`
never passes), `iss`, `aud` (this server's resource URL), `exp`/`nbf` against the server's clock, and a subject to
tag images with.

PyJWT does the JOSE work: the SDK already depends on it (with `cryptography`), so it adds nothing to install.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx2
import jwt
from mcp.server.auth.handlers.metadata import ProtectedResourceMetadataHandler
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import build_resource_metadata_url
from mcp.server.auth.settings import AuthSettings
from mcp.shared.auth import ProtectedResourceMetadata
from pydantic import AnyHttpUrl
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from ...clock import Clock
from ...settings import Settings

log = logging.getLogger(__name__)

ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
LEEWAY = 30.0
"""Seconds of clock difference tolerated on exp and nbf."""
JWKS_MAX_AGE = 600.0
JWKS_MIN_REFETCH = 30.0
"""A token naming an unknown key refetches the JWKS (keys rotate), at most this often."""
FETCH_TIMEOUT = 10.0


def oauth(settings: Settings, clock: Clock) -> tuple[AuthSettings, JwtVerifier] | None:
    """The SDK's resource-server settings and this module's verifier, when an issuer is configured."""
    if settings.oauth_issuer is None or settings.resource_url is None:
        return None
    auth = AuthSettings(
        issuer_url=AnyHttpUrl(settings.oauth_issuer),
        resource_server_url=AnyHttpUrl(settings.resource_url),
        required_scopes=settings.required_scopes() or None,
        validate_token_resource=True,
    )
    verifier = JwtVerifier(
        issuer=settings.oauth_issuer, audience=settings.resource_url, jwks_url=settings.oauth_jwks_url, clock=clock
    )
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


class _Delegate(Response):
    """A response that hands the request to an ASGI app: how a request endpoint runs the SDK's middleware."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__()
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def subject_of(request: object) -> str | None:
    """The signed-in user's subject, when the request came over HTTP with an accepted OAuth token."""
    scope = getattr(request, "scope", None)
    user = scope.get("user") if isinstance(scope, dict) else None
    return user.access_token.subject if isinstance(user, AuthenticatedUser) else None


class JwtVerifier:
    """The SDK's TokenVerifier for JWT access tokens signed by the issuer's keys."""

    def __init__(self, *, issuer: str, audience: str, jwks_url: str | None, clock: Clock) -> None:
        self.issuer = issuer
        self.audience = audience
        self._clock = clock
        self._keys = Jwks(issuer, jwks_url)

    async def keys_ready(self) -> bool:
        """Whether the issuer's signing keys are at hand (fetched now if they were not, or are old)."""
        return await self._keys.ready()

    async def verify_token(self, token: str) -> AccessToken | None:
        """The token's access, or None (the SDK answers 401); the reason is logged, never the token."""
        try:
            header = jwt.get_unverified_header(token)
            key = await self._keys.find(header.get("kid"))
            if key is None or key.algorithm_name not in ALGORITHMS:
                log.info("refused a token: no usable key %r in the issuer's JWKS", header.get("kid"))
                return None
            claims = jwt.decode(
                token,
                key,
                algorithms=[key.algorithm_name],
                audience=self.audience,
                issuer=self.issuer,
                # The times are checked against the server's clock below, not PyJWT's own reading of it.
                options={"require": ["exp", "iss", "aud", "sub"], "verify_exp": False, "verify_nbf": False},
            )
            _check_times(claims, self._clock.timestamp())
        except jwt.PyJWTError as exc:
            log.info("refused a token: %s", exc)
            return None
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id") or claims.get("azp") or claims["sub"]),
            scopes=_scopes(claims),
            expires_at=int(claims["exp"]),
            resource=self.audience,
            subject=str(claims["sub"]),
            claims=claims,
        )


def _check_times(claims: dict[str, Any], now: float) -> None:
    """`exp` passed or `nbf` to come (with LEEWAY either way) refuse the token, as PyJWT would."""
    for claim in ("exp", "nbf"):
        value = claims.get(claim)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise jwt.DecodeError(f"{claim} must be a number")
    if claims["exp"] <= now - LEEWAY:
        raise jwt.ExpiredSignatureError("Signature has expired")
    if claims.get("nbf") is not None and claims["nbf"] > now + LEEWAY:
        raise jwt.ImmatureSignatureError("The token is not yet valid (nbf)")


def _scopes(claims: dict[str, Any]) -> list[str]:
    """`scope` is a space-separated string (RFC 9068); some issuers send a list in `scp`."""
    scope = claims.get("scope", claims.get("scp", ""))
    return scope.split() if isinstance(scope, str) else [str(item) for item in scope]


class Jwks:
    """The issuer's signing keys: fetched when first needed, kept for a while, refetched when a new key appears."""

    def __init__(self, issuer: str, jwks_url: str | None) -> None:
        self._issuer = issuer.rstrip("/")
        self._url = jwks_url
        self._keys: jwt.PyJWKSet | None = None
        self._fetched = -JWKS_MIN_REFETCH
        self._lock = anyio.Lock()

    async def ready(self) -> bool:
        """Keys are at hand: fetched when there are none (at most every JWKS_MIN_REFETCH seconds) or they are old;
        keys fetched earlier still verify tokens while the issuer is away."""
        async with self._lock:
            age = time.monotonic() - self._fetched
            if (self._keys is None and age > JWKS_MIN_REFETCH) or age > JWKS_MAX_AGE:
                await self._fetch()
        return self._keys is not None

    async def find(self, kid: str | None) -> jwt.PyJWK | None:
        async with self._lock:
            age = time.monotonic() - self._fetched
            if self._keys is None or age > JWKS_MAX_AGE or (_pick(self._keys, kid) is None and age > JWKS_MIN_REFETCH):
                await self._fetch()
        return None if self._keys is None else _pick(self._keys, kid)

    async def _fetch(self) -> None:
        self._fetched = time.monotonic()
        try:
            async with httpx2.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=True) as http:
                url = self._url or await self._discover(http)
                response = await http.get(url)
                response.raise_for_status()
                self._keys = jwt.PyJWKSet.from_dict(response.json())
                self._url = url
        except (httpx2.HTTPError, ValueError, jwt.PyJWTError) as exc:
            log.warning("could not fetch the signing keys of %s: %s", self._issuer, exc)

    async def _discover(self, http: httpx2.AsyncClient) -> str:
        """`jwks_uri` from the issuer's OpenID configuration, else its OAuth server metadata (RFC 8414)."""
        scheme, _, rest = self._issuer.partition("://")
        host, _, path = rest.partition("/")
        candidates = (
            f"{self._issuer}/.well-known/openid-configuration",
            f"{scheme}://{host}/.well-known/oauth-authorization-server{'/' + path if path else ''}",
        )
        for candidate in candidates:
            response = await http.get(candidate)
            if response.status_code == 200 and isinstance(response.json().get("jwks_uri"), str):
                return str(response.json()["jwks_uri"])
        raise ValueError(f"neither {candidates[0]} nor {candidates[1]} names a jwks_uri")


def _pick(keys: jwt.PyJWKSet, kid: str | None) -> jwt.PyJWK | None:
    if kid is None:
        return keys.keys[0] if len(keys.keys) == 1 else None
    return next((key for key in keys.keys if key.key_id == kid), None)
