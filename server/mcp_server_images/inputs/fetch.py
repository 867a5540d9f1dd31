"""Fetching images from http(s) URLs without becoming a way into the user's network.

The host of every connection, redirects included, is resolved here and refused when any of its addresses is
loopback, private, link-local (169.254/16, cloud metadata), multicast, reserved or otherwise not global. The
private-URL setting lets loopback and private (LAN) addresses through for local image servers; link-local and
the other special ranges stay refused, because cloud metadata endpoints live there. The connection then goes to
the address that was checked, so a DNS answer cannot change between the check and the connect. Bodies are
limited in bytes and time, and must say they are images.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

import anyio
import httpcore2
import httpx2

from .refs import RefError

MAX_REDIRECTS = 5
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})


class BlockedAddressError(RefError):
    """A URL whose host is (or resolves to) an address the server must not connect to."""


ALLOWABLE = frozenset({"loopback", "private"})
"""What MCP_IMAGES_ALLOW_PRIVATE_URLS lets through."""


def address_problem(address: str) -> str | None:
    """Why an IP address is off limits (its kind), or None when it is a public address."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # Private comes last: Python counts 0.0.0.0, 240/4 and 255.255.255.255 as private too, and those must stay
    # refused when the private-URL setting lets LAN addresses through.
    for label, flag in (
        ("link-local", ip.is_link_local),
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if flag:
            return label
    return None if ip.is_global else "non-global"


class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """Resolves, checks and pins every TCP connection httpcore opens."""

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
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
        for address in addresses:
            problem = address_problem(address)
            if problem is None or (self._allow_private and problem in ALLOWABLE):
                continue
            hint = (
                "set MCP_IMAGES_ALLOW_PRIVATE_URLS=true to allow loopback and private ones"
                if problem in ALLOWABLE
                else "this kind is never fetched"
            )
            raise BlockedAddressError(
                f"Refusing to fetch an image from {host}: it resolves to {address}, a {problem} address. "
                f"Only public addresses are fetched; {hint}."
            )
        return addresses[0]

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's transport with the guarded backend underneath (and no proxies from the environment)."""

    def __init__(self, *, allow_private: bool) -> None:
        super().__init__(trust_env=False)
        # httpx2 builds its pool without a backend hook; swap in one that owns the connect step.
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            network_backend=GuardedBackend(allow_private=allow_private),
        )


class UrlFetcher:
    """One pooled client for image URLs, for the server's life."""

    def __init__(self, *, allow_private: bool, timeout: float, max_bytes: int) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._http = httpx2.AsyncClient(
            transport=GuardedTransport(allow_private=allow_private),
            timeout=httpx2.Timeout(timeout),
            follow_redirects=False,
            headers={"user-agent": "mcp-server-images", "accept": "image/*"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fetch(self, url: str) -> bytes:
        """The body of an image URL, following up to 5 redirects, each checked like the first."""
        try:
            with anyio.fail_after(self._timeout):
                return await self._follow(url)
        except TimeoutError as exc:
            raise RefError(f"Fetching {url} took longer than {self._timeout:.0f} s.") from exc
        except httpx2.HTTPError as exc:
            raise RefError(f"Could not fetch {url}: {type(exc).__name__}: {exc}") from exc

    async def _follow(self, url: str) -> bytes:
        current = httpx2.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            if current.scheme not in ("http", "https"):
                raise RefError(f"Refusing to follow {url} to {current}: only http and https URLs are fetched.")
            async with self._http.stream("GET", current) as response:
                if response.status_code in REDIRECT_CODES and "location" in response.headers:
                    current = current.join(response.headers["location"])
                    continue
                return await self._body(response, url)
        raise RefError(f"{url} redirected more than {MAX_REDIRECTS} times.")

    async def _body(self, response: httpx2.Response, url: str) -> bytes:
        if response.status_code != 200:
            raise RefError(f"{url} answered HTTP {response.status_code}, not an image.")
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not content_type.startswith("image/"):
            raise RefError(f"{url} answered with content type {content_type or 'none'!r}, not an image.")
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            raise RefError(f"{url} is {int(declared):,} bytes; the largest image fetched is {self._max_bytes:,} bytes.")
        chunks: list[bytes] = []
        received = 0
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            if received > self._max_bytes:
                raise RefError(f"{url} sent more than {self._max_bytes:,} bytes; the largest image fetched is that.")
            chunks.append(chunk)
        return b"".join(chunks)
