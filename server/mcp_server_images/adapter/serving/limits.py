"""A per-user request rate limit for the HTTP server: each user gets `rate_limit` requests a minute.

A user is the signed-in subject (OAuth), else the client's address (a static token, or no sign-in). Each has a
token bucket that holds a minute's worth of requests and refills evenly, so a burst is allowed and a steady
stream is held to the rate. A request with an empty bucket is answered 429 with `Retry-After` (RFC 6585) and a
JSON-RPC error saying when to retry, before it reaches the MCP endpoint or an image link. The health checks and
the sign-in metadata are never limited.

The middleware sits inside the SDK's authentication (see `http_app`), so it knows who signed in.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

OPEN_PATHS = ("/healthz", "/readyz", "/.well-known/")
KEEP_USERS = 10_000
"""Buckets kept before the full ones (users idle for a minute or more) are forgotten."""


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimit:
    """ASGI middleware: at most `per_minute` requests a minute per user."""

    def __init__(self, app: ASGIApp, per_minute: int) -> None:
        self.app = app
        self.per_minute = per_minute
        self._buckets: dict[str, _Bucket] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        wait = self._take(_user_of(scope), time.monotonic())
        if wait is None:
            await self.app(scope, receive, send)
            return
        seconds = math.ceil(wait)
        message = (
            f"Too many requests: at most {self.per_minute} a minute per user (MCP_IMAGES_RATE_LIMIT). "
            f"Retry in {seconds} s."
        )
        body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": message}}
        await JSONResponse(body, status_code=429, headers={"retry-after": str(seconds)})(scope, receive, send)

    def _take(self, user: str, now: float) -> float | None:
        """Take one request from the user's bucket; None when it had one, else the seconds until it has."""
        rate = self.per_minute / 60.0
        bucket = self._buckets.get(user)
        if bucket is None:
            self._forget_idle(now)
            bucket = self._buckets[user] = _Bucket(float(self.per_minute), now)
        bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / rate

    def _forget_idle(self, now: float) -> None:
        """A bucket untouched for a minute is full again: forgetting it changes nothing."""
        if len(self._buckets) >= KEEP_USERS:
            self._buckets = {user: b for user, b in self._buckets.items() if now - b.updated < 60.0}


def _user_of(scope: Scope) -> str:
    user = scope.get("user")
    if isinstance(user, AuthenticatedUser) and user.access_token.subject:
        return f"subject:{user.access_token.subject}"
    client = scope.get("client")
    return f"address:{client[0] if client else 'unknown'}"
