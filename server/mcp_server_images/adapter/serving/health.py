"""Liveness and readiness for load balancers and orchestrators.

`/healthz` is liveness: the process answers HTTP. It is cheap and says nothing else, so an orchestrator never
restarts a server because its bucket is slow. `/readyz` is readiness: whether this instance can serve calls now.
It asks the store (one small request), and, with sign-in, whether the issuer's signing keys are at hand, each
within a few seconds; a stopping server is not ready. A balancer that takes an unready instance out of rotation
sends calls to the others while the bucket or the issuer is away. Both are open without a token, and neither
reveals more than ok or what failed (the details go to the log).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...errors import ImageServerError
from ...services import Services, Serving

if TYPE_CHECKING:
    from .tokens import JwtVerifier

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
READY_WITHIN = 3.0
"""Seconds each readiness check may take (at most the store timeout): a balancer polls every few seconds."""


async def health(_: Request) -> Response:
    """Liveness; open without a token because it reveals nothing."""
    return JSONResponse({"status": "ok", "server": "mcp-server-images"})


async def readiness(services: Services | None, serving: Serving, verifier: JwtVerifier | None) -> Response:
    """200 when the store answers (and, with sign-in, the issuer's keys are known), else 503 naming what failed."""
    if services is None:
        return _answer("starting", {})
    if serving.drain.draining:
        return _answer("stopping", {})
    within = min(READY_WITHIN, services.settings.store_timeout)
    checks = {"store": await _store_check(services, within)}
    if verifier is not None:
        checks["sign_in"] = await _keys_check(verifier, within)
    return _answer("ready" if all(said == "ok" for said in checks.values()) else "unready", checks)


def _answer(status: str, checks: dict[str, str]) -> Response:
    code = 200 if status == "ready" else 503
    return JSONResponse({"status": status, "checks": checks}, status_code=code)


async def _store_check(services: Services, within: float) -> str:
    with anyio.move_on_after(within):
        try:
            await anyio.to_thread.run_sync(services.store.ping, abandon_on_cancel=True)
        except ImageServerError as exc:
            log.warning("not ready: %s", exc)
            return "failed"
        return "ok"
    log.warning("not ready: the store %s did not answer within %g s", services.store.location, within)
    return "timeout"


async def _keys_check(verifier: JwtVerifier, within: float) -> str:
    with anyio.move_on_after(within):
        if await verifier.keys_ready():
            return "ok"
        log.warning("not ready: the signing keys of %s could not be fetched", verifier.issuer)
        return "failed"
    log.warning("not ready: the issuer %s did not answer within %g s", verifier.issuer, within)
    return "timeout"
