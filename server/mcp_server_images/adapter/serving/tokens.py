"""Verifying JWT access tokens against the issuer's JWKS (imported only by a server with sign-in, see auth.py).

Signature with a key from the issuer's JWKS (asymmetric algorithms only, so a public key can never be used as an
HMAC secret and `alg: none` never passes), `iss`, `aud` (this server's resource URL), `exp`/`nbf` against the
server's clock, and a subject to tag images with.

The keys are fetched like any URL the server fetches (inputs/fetch.py): the address guard (the issuer's own origin
may be private, as an in-house identity provider is; anything else must be public unless
MCP_IMAGES_ALLOW_PRIVATE_URLS), a size cap, one deadline for the whole refresh, and no redirect off the host
asked. A refresh holds no lock: the check that finds the keys stale fetches them, while every other check goes on
with the keys it has (only a check that has no usable key waits for the refresh under way, at most its deadline).

PyJWT does the JOSE work: the SDK already depends on it (with `cryptography`), so it adds nothing to install.
"""

from __future__ import annotations

import json
import logging
from contextlib import aclosing
from typing import Any

import anyio
import jwt
from mcp.server.auth.provider import AccessToken

from ...clock import Clock
from ...errors import ImageServerError
from ...inputs.fetch import JSON, UrlFetcher

log = logging.getLogger(__name__)

ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
LEEWAY = 30.0
"""Seconds of clock difference tolerated on exp and nbf."""
JWKS_MAX_AGE = 600.0
JWKS_MIN_REFETCH = 30.0
"""A token naming an unknown key refetches the JWKS (keys rotate), at most this often."""
JWKS_DEADLINE = 10.0
"""Seconds one refresh of the keys (metadata and JWKS, redirects included) may take in all."""
JWKS_MAX_BYTES = 512 * 1024
"""The largest metadata or JWKS document read (a JWKS is a few KB)."""


class JwtVerifier:
    """The SDK's TokenVerifier for JWT access tokens signed by the issuer's keys."""

    def __init__(self, *, issuer: str, audience: str, keys: Jwks, clock: Clock) -> None:
        self.issuer = issuer
        self.audience = audience
        self._clock = clock
        self._keys = keys

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
    """The issuer's signing keys: fetched when first needed, kept for a while, refetched when a new key appears.

    Ages are read from the server's clock, like the model list's.
    """

    def __init__(
        self,
        issuer: str,
        jwks_url: str | None,
        clock: Clock,
        *,
        allow_private: bool,
        deadline: float = JWKS_DEADLINE,
    ) -> None:
        self._issuer = issuer
        self._configured = jwks_url
        self._url = jwks_url
        self._clock = clock
        self._allow_private = allow_private
        self._deadline = deadline
        self._keys: jwt.PyJWKSet | None = None
        self._fetched: float | None = None
        """When the last refresh started (the server clock's timestamp), successful or not."""
        self._refresh: anyio.Event | None = None
        """Set while a refresh runs; it is set when the refresh ends."""

    async def ready(self) -> bool:
        """Keys are at hand: refreshed as a token check refreshes them (none yet, at most every JWKS_MIN_REFETCH
        seconds, or old), joining a refresh already running; keys fetched earlier still verify tokens while the
        issuer is away."""
        held = None if self._keys is None or not self._keys.keys else self._keys.keys[0]
        if self._needs_refresh(held):
            if self._refresh is None:
                await self._refreshed()
            else:
                await self._refresh.wait()
        return self._keys is not None

    async def find(self, kid: str | None) -> jwt.PyJWK | None:
        """The key a token names. Stale or missing keys are refetched by this check, unless another check already
        is: then this one uses the keys there are, and waits for that refresh only when it has no usable key."""
        key = self._current(kid)
        if self._needs_refresh(key):
            if self._refresh is None:
                await self._refreshed()
            elif key is None:
                await self._refresh.wait()
            key = self._current(kid)
        return key

    def _current(self, kid: str | None) -> jwt.PyJWK | None:
        return None if self._keys is None else _pick(self._keys, kid)

    def _needs_refresh(self, key: jwt.PyJWK | None) -> bool:
        if self._fetched is None:
            return True
        age = self._clock.timestamp() - self._fetched
        return age > JWKS_MAX_AGE or (key is None and age > JWKS_MIN_REFETCH)

    async def _refreshed(self) -> None:
        done = self._refresh = anyio.Event()
        self._fetched = self._clock.timestamp()
        try:
            with anyio.fail_after(self._deadline):
                url = self._url or await self._discover()
                keys = jwt.PyJWKSet.from_dict(await self._json(url, self._configured or self._issuer))
            self._keys, self._url = keys, url
        except (TimeoutError, ImageServerError, ValueError, jwt.PyJWTError) as exc:
            said = f"took longer than {self._deadline:g} s" if isinstance(exc, TimeoutError) else str(exc)
            log.warning("could not fetch the signing keys of %s: %s", self._issuer, said)
        finally:
            self._refresh = None
            done.set()

    async def _json(self, url: str, trusted: str) -> Any:
        """A JSON document, through the guarded fetcher; `trusted` is the origin that may be private."""
        fetcher = UrlFetcher(
            allow_private=self._allow_private,
            timeout=self._deadline,
            max_bytes=JWKS_MAX_BYTES,
            trusted_origin=trusted,
            wanted=JSON,
        )
        async with aclosing(fetcher):
            return json.loads(await fetcher.fetch(url))

    async def _discover(self) -> str:
        """`jwks_uri` from the issuer's OpenID configuration, else its OAuth server metadata (RFC 8414)."""
        issuer = self._issuer.rstrip("/")
        scheme, _, rest = issuer.partition("://")
        host, _, path = rest.partition("/")
        candidates = (
            f"{issuer}/.well-known/openid-configuration",
            f"{scheme}://{host}/.well-known/oauth-authorization-server{'/' + path if path else ''}",
        )
        for candidate in candidates:
            try:
                metadata = await self._json(candidate, self._issuer)
            except ImageServerError:
                continue
            if isinstance(metadata, dict) and isinstance(metadata.get("jwks_uri"), str):
                return str(metadata["jwks_uri"])
        raise ValueError(f"neither {candidates[0]} nor {candidates[1]} names a jwks_uri")


def _pick(keys: jwt.PyJWKSet, kid: str | None) -> jwt.PyJWK | None:
    if kid is None:
        return keys.keys[0] if len(keys.keys) == 1 else None
    return next((key for key in keys.keys if key.key_id == kid), None)
