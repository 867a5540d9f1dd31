"""The connection step of URL fetching: every TCP connection httpcore opens is resolved, checked and pinned here
(see fetch.py for the rules). Imported when a fetcher first fetches, with the HTTP connection stack under it."""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Iterable

import anyio
import httpcore2
import httpx2

from .fetch import TRUSTED_HOP, BlockedAddressError, Origin, address_problem
from .refs import RefError


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every fetcher's connections, built at the first fetch: loading the trusted certificates
    takes tens of ms, and each client (and the transport under it) would otherwise load them again."""
    return httpx2.create_ssl_context(trust_env=False)


class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """Resolves, checks and pins every TCP connection httpcore opens."""

    def __init__(self, *, allow_private: bool, trusted: Origin | None = None) -> None:
        self._allow_private = allow_private
        self._trusted = None if trusted is None else trusted[1:]
        """Host and port of the trusted origin, whose connections may reach loopback and private addresses."""
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        address = await self.vetted_address(host, port)
        return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def vetted_address(self, host: str, port: int) -> str:
        try:
            infos = await anyio.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise RefError(f"Cannot resolve the host {host!r} of the image URL ({exc}).") from exc
        addresses = [str(info[4][0]) for info in infos]
        trusted = TRUSTED_HOP.get() and (host.strip("[]").lower(), port) == self._trusted
        for address in addresses:
            problem = address_problem(address)
            if problem is None or ((self._allow_private or trusted) and problem.allowable):
                continue
            hint = (
                "set MCP_IMAGES_ALLOW_PRIVATE_URLS=true to allow loopback and private ones"
                if problem.allowable
                else "this kind is never fetched"
            )
            raise BlockedAddressError(
                f"Refusing to fetch an image from {host}: it resolves to {address}, {problem.description}. "
                f"Only public addresses are fetched; {hint}."
            )
        return addresses[0]

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's transport with the guarded backend underneath (and no proxies from the environment)."""

    def __init__(self, *, allow_private: bool, trusted: Origin | None = None) -> None:
        context = tls_context()
        super().__init__(verify=context, trust_env=False)
        # httpx2 builds its pool without a backend hook; swap in one that owns the connect step.
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=context,
            network_backend=GuardedBackend(allow_private=allow_private, trusted=trusted),
        )
