"""Fetching images from http(s) URLs without becoming a way into the user's network.

The host of every connection, redirects included, is resolved here and refused when any of its addresses is
loopback, private, link-local (169.254/16, cloud metadata), multicast, unspecified, broadcast, reserved,
benchmarking, Teredo, a 6to4 or NAT64 address carrying a refused IPv4 one, or otherwise not global. The
private-URL setting lets loopback and private (LAN) addresses through for local image servers; link-local and
the other special ranges stay refused, because cloud metadata endpoints live there. The connection then goes to
the address that was checked, so a DNS answer cannot change between the check and the connect. Bodies are
limited in bytes and time, and must say they are images. Image URLs the image API answers with are fetched
here too, under the same rules, by a fetcher of their own that also trusts the configured provider's origin:
a local server (LocalAI, vLLM-Omni, Ollama) answers with URLs on localhost. Only URLs on exactly that scheme,
host and port are let through to a loopback or private address; a redirect elsewhere is checked like any URL.
What a fetcher takes is its `Wanted`: the catalog feed (catalog/feed.py) is fetched the same way as any
document (what makes a feed acceptable is its signature), trusting the configured feed's own origin (a team's feed
on its intranet); the sign-in's keys (the issuer's metadata and JWKS) as JSON, trusting the issuer's origin and
following no redirect off the host asked.
"""

from __future__ import annotations

import ipaddress
from contextvars import ContextVar
from dataclasses import dataclass

import anyio
import httpx2

from .refs import RefError

MAX_REDIRECTS = 5
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})


class BlockedAddressError(RefError):
    """A URL whose host is (or resolves to) an address the server must not connect to."""


ALLOWABLE = frozenset({"loopback", "private"})
"""The kinds MCP_IMAGES_ALLOW_PRIVATE_URLS lets through."""
LAN_NETWORKS = tuple(
    ipaddress.ip_network(network) for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
"""Private in the sense the setting means: local networks (RFC 1918, IPv6 unique local), nothing else."""
BENCHMARKING = ipaddress.ip_network("198.18.0.0/15")
BROADCAST = ipaddress.ip_address("255.255.255.255")
TEREDO = ipaddress.ip_network("2001::/32")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
MASK32 = 0xFFFFFFFF
DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]
"""(scheme, host, port) of a URL, the port filled in for the scheme's default."""


@dataclass(frozen=True)
class Wanted:
    """What a fetcher fetches: the content types it takes, how messages name them, where redirects may lead."""

    what: str
    """For messages: "an image"."""
    noun: str
    """For messages: "image"."""
    types: tuple[str, ...]
    """Content types taken, by prefix ("image/")."""
    accept: str
    """The Accept header."""
    same_host: bool = False
    """Follow a redirect only when it stays on the scheme, host and port asked."""


IMAGES = Wanted("an image", "image", ("image/",), "image/*")
JSON = Wanted(
    "JSON", "JSON document", ("application/json", "application/jwk-set+json"), "application/json", same_host=True
)
DOCUMENTS = Wanted("a document", "document", ("",), "*/*")
"""Any content type: what makes a catalog feed acceptable is its signature, not how it is served."""

TRUSTED_HOP: ContextVar[bool] = ContextVar("trusted_hop", default=False)
"""Set while a fetcher connects for a URL on its trusted origin (the provider's own answers)."""


def origin_of(url: httpx2.URL | str) -> Origin:
    parsed = httpx2.URL(url)
    scheme = parsed.scheme.lower()
    return scheme, parsed.host.lower(), parsed.port or DEFAULT_PORTS.get(scheme, 0)


@dataclass(frozen=True)
class AddressProblem:
    description: str
    """What the address is, for messages: "a loopback address", "a 6to4 address carrying 169.254.169.254, ..."."""
    allowable: bool
    """Loopback or private (LAN): what MCP_IMAGES_ALLOW_PRIVATE_URLS lets through."""


def address_problem(address: str) -> AddressProblem | None:
    """Why an IP address is off limits, or None when it is a public address.

    Special ranges are decided before private ones, so the private-URL setting can never let through an
    address that merely counts as private to Python (0.0.0.0, 255.255.255.255, 198.18.0.0/15, Teredo). An IPv6
    address that carries an IPv4 one (mapped, 6to4, NAT64) is judged by the address it carries; a tunnel to a
    refused address is refused whatever the setting.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    elif isinstance(ip, ipaddress.IPv6Address) and (ip.sixtofour is not None or ip in NAT64):
        tunnel, embedded = (
            ("6to4", ip.sixtofour) if ip.sixtofour else ("NAT64", ipaddress.IPv4Address(int(ip) & MASK32))
        )
        inner = _kind(embedded)
        if inner is None:
            return None
        return AddressProblem(f"a {tunnel} address carrying {embedded}, {_a(inner)} address", allowable=False)
    kind = _kind(ip)
    return None if kind is None else AddressProblem(f"{_a(kind)} address", allowable=kind in ALLOWABLE)


def _kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """The kind of a non-public address; None for a public one. Only the last two kinds are allowable."""
    for kind, flag in (
        ("unspecified", ip.is_unspecified),
        ("broadcast", ip == BROADCAST),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("benchmarking", ip in BENCHMARKING),
        ("Teredo", ip in TEREDO),
        ("loopback", ip.is_loopback),
        ("reserved", ip.is_reserved),
        ("private", any(ip in network for network in LAN_NETWORKS)),
    ):
        if flag:
            return kind
    return None if ip.is_global else "non-global"


def _a(kind: str) -> str:
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


class UrlFetcher:
    """One pooled client for image URLs, for the server's life.

    With `trusted_origin` (the provider's base URL, for the URLs its answers carry) a URL on exactly that scheme,
    host and port may reach a loopback or private address. Its pool is its own: a connection opened for the
    trusted origin is never reused for a URL a user gave.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        timeout: float,
        max_bytes: int,
        trusted_origin: str | None = None,
        wanted: Wanted = IMAGES,
    ) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._trusted = None if trusted_origin is None else origin_of(trusted_origin)
        self._wanted = wanted
        self._allow_private = allow_private
        self._opened: httpx2.AsyncClient | None = None

    @property
    def _http(self) -> httpx2.AsyncClient:
        """The pooled client, opened at the first fetch: a session that never fetches a URL never loads the
        connection stack or the trusted certificates."""
        if self._opened is None:
            from .guarded import GuardedTransport

            self._opened = httpx2.AsyncClient(
                transport=GuardedTransport(allow_private=self._allow_private, trusted=self._trusted),
                timeout=httpx2.Timeout(self._timeout),
                follow_redirects=False,
                headers={"user-agent": "mcp-server-images", "accept": self._wanted.accept},
            )
        return self._opened

    async def aclose(self) -> None:
        if self._opened is not None:
            await self._opened.aclose()

    async def fetch(self, url: str) -> bytes:
        """The body of a URL (an image, unless the fetcher wants another kind), following up to 5 redirects, each
        checked like the first, within one deadline for the whole."""
        try:
            with anyio.fail_after(self._timeout):
                return await self._follow(url)
        except TimeoutError as exc:
            raise RefError(f"Fetching {url} took longer than {self._timeout:.0f} s.") from exc
        except httpx2.HTTPError as exc:
            raise RefError(f"Could not fetch {url}: {type(exc).__name__}: {exc}") from exc
        except httpx2.InvalidURL as exc:
            raise RefError(
                f"Could not fetch {url}: the URL is malformed ({exc}). Write a host as a name or as an IP address in "
                "its usual form (four decimal numbers without leading zeros, or IPv6 in brackets)."
            ) from exc

    async def _follow(self, url: str) -> bytes:
        current = httpx2.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            if current.scheme not in ("http", "https"):
                raise RefError(f"Refusing to follow {url} to {current}: only http and https URLs are fetched.")
            trusted = TRUSTED_HOP.set(self._trusted is not None and origin_of(current) == self._trusted)
            try:
                async with self._http.stream("GET", current) as response:
                    if response.status_code in REDIRECT_CODES and "location" in response.headers:
                        current = self._redirected(current, current.join(response.headers["location"]))
                        continue
                    return await self._body(response, url)
            finally:
                TRUSTED_HOP.reset(trusted)
        raise RefError(f"{url} redirected more than {MAX_REDIRECTS} times.")

    def _redirected(self, current: httpx2.URL, target: httpx2.URL) -> httpx2.URL:
        if self._wanted.same_host and origin_of(target) != origin_of(current):
            raise RefError(f"Refusing to follow {current} to {target}: it leads off the host asked.")
        return target

    async def _body(self, response: httpx2.Response, url: str) -> bytes:
        what, noun = self._wanted.what, self._wanted.noun
        if response.status_code != 200:
            raise RefError(f"{url} answered HTTP {response.status_code}, not {what}.")
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not content_type.startswith(self._wanted.types):
            raise RefError(f"{url} answered with content type {content_type or 'none'!r}, not {what}.")
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            raise RefError(
                f"{url} is {int(declared):,} bytes; the largest {noun} fetched is {self._max_bytes:,} bytes."
            )
        chunks: list[bytes] = []
        received = 0
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            if received > self._max_bytes:
                raise RefError(f"{url} sent more than {self._max_bytes:,} bytes; the largest {noun} fetched is that.")
            chunks.append(chunk)
        return b"".join(chunks)
