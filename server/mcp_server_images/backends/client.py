"""The only code that speaks HTTP to the API: one pooled httpx2 client for the server's life.

It owns authentication (the key goes into a header of API requests and nowhere else), the cap on concurrent
requests, timeouts sized for image generation, and retries. Callers get parsed JSON plus the request id, or an
`UpstreamError` whose message is safe to show (the key is redacted from anything the upstream echoes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2

from ..errors import ConfigurationError
from ..settings import Endpoint
from .errors import UpstreamError
from .retry import RetryPolicy

log = logging.getLogger(__name__)

FileField = tuple[str, tuple[str, bytes, str]]
"""A multipart file part: (field name, (filename, bytes, content type))."""

CONNECT_TIMEOUT = 15.0
WRITE_TIMEOUT = 120.0
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ApiResponse:
    body: dict[str, Any]
    request_id: str | None


class UpstreamClient:
    """One `httpx2.AsyncClient` shared by every tool call; `aclose()` it when the server stops."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        timeout: float,
        max_concurrency: int,
        retry: RetryPolicy,
    ) -> None:
        self.endpoint = endpoint
        self._retry = retry
        self._slots = anyio.Semaphore(max_concurrency)
        self._http = httpx2.AsyncClient(
            timeout=httpx2.Timeout(timeout, connect=CONNECT_TIMEOUT, write=WRITE_TIMEOUT),
            limits=httpx2.Limits(max_connections=max_concurrency * 2, max_keepalive_connections=max_concurrency),
            follow_redirects=False,
            headers={"user-agent": "mcp-server-images"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post_json(self, path: str, body: Mapping[str, Any]) -> ApiResponse:
        """POST a JSON body to `<base_url><path>`."""
        return await self._read(
            path,
            lambda: self._http.build_request("POST", self._url(path), json=dict(body), headers=self._auth_headers()),
        )

    async def get_json(self, path: str) -> ApiResponse:
        """GET `<base_url><path>` (with the key, like every API request) and parse the JSON answer."""
        return await self._read(
            path, lambda: self._http.build_request("GET", self._url(path), headers=self._auth_headers())
        )

    async def post_multipart(self, path: str, fields: Mapping[str, str], files: Sequence[FileField]) -> ApiResponse:
        """POST multipart/form-data; every file part carries a filename and content type."""
        return await self._read(path, self._multipart(path, fields, files))

    def stream_json(self, path: str, body: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """POST a JSON body that asks for server-sent events; yield each event's data object."""
        return self._events(
            path,
            lambda: self._http.build_request("POST", self._url(path), json=dict(body), headers=self._auth_headers()),
        )

    def stream_multipart(
        self, path: str, fields: Mapping[str, str], files: Sequence[FileField]
    ) -> AsyncIterator[dict[str, Any]]:
        """POST multipart/form-data that asks for server-sent events; yield each event's data object."""
        return self._events(path, self._multipart(path, fields, files))

    async def download(self, url: str) -> bytes:
        """Fetch an image the API answered with by URL. No credentials go to that host."""
        async with self._slots:
            try:
                async with self._http.stream("GET", url, follow_redirects=True) as response:
                    if response.status_code != 200:
                        raise UpstreamError(
                            f"The image API answered with a URL, but downloading it failed with HTTP "
                            f"{response.status_code}: {url}"
                        )
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > MAX_DOWNLOAD_BYTES:
                            raise UpstreamError(f"The image at {url} is larger than {MAX_DOWNLOAD_BYTES} bytes.")
                        chunks.append(chunk)
                    return b"".join(chunks)
            except httpx2.TransportError as exc:
                raise UpstreamError(f"Could not download the image the API answered with ({url}): {exc!r}") from exc

    def _url(self, path: str) -> str:
        return f"{self.endpoint.base_url}{path}"

    def _multipart(
        self, path: str, fields: Mapping[str, str], files: Sequence[FileField]
    ) -> Callable[[], httpx2.Request]:
        return lambda: self._http.build_request(
            "POST", self._url(path), data=dict(fields), files=list(files), headers=self._auth_headers()
        )

    def _auth_headers(self) -> dict[str, str]:
        key = self.endpoint.api_key
        if key is None or not key.get_secret_value():
            variables = " or ".join(self.endpoint.key_variables)
            raise ConfigurationError(
                f"No API key is configured. Set {variables} in the environment of the MCP server "
                f"(for example in the 'env' block of your client's MCP configuration) and restart it."
            )
        return {"authorization": f"Bearer {key.get_secret_value()}"}

    async def _read(self, path: str, build: Callable[[], httpx2.Request]) -> ApiResponse:
        async with self._exchange(path, build, read_body=True) as response:
            return ApiResponse(self._parse(response, path), response.headers.get("x-request-id"))

    async def _events(self, path: str, build: Callable[[], httpx2.Request]) -> AsyncIterator[dict[str, Any]]:
        async with self._exchange(path, build) as response:
            request_id = response.headers.get("x-request-id")
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                # A provider that ignores `stream` answers with the whole result at once; take it as one event.
                await response.aread()
                yield {"type": "response", "response": self._parse(response, path), "request_id": request_id}
                return
            try:
                async for event in httpx2.EventSource(response, max_event_size=None):
                    try:
                        data = event.json()
                    except ValueError:
                        continue
                    if isinstance(data, dict):
                        yield data | {"request_id": request_id}
            except httpx2.TransportError as exc:
                raise self._broken(path, exc) from exc

    def _broken(self, path: str, exc: Exception) -> UpstreamError:
        # Not retried: the upstream may still be generating, and a second request would be paid twice.
        if isinstance(exc, httpx2.ReadTimeout):
            return UpstreamError(
                f"The image API did not answer {path} within {self._http.timeout.read:g} s. "
                "Try again, pick a lower quality, or raise MCP_IMAGES_UPSTREAM_TIMEOUT."
            )
        return UpstreamError(f"The connection to the image API broke while answering {path} ({type(exc).__name__}).")

    @asynccontextmanager
    async def _exchange(
        self, path: str, build: Callable[[], httpx2.Request], *, read_body: bool = False
    ) -> AsyncIterator[httpx2.Response]:
        """Send with retries; yield the first successful response, holding a concurrency slot.

        With `read_body` the whole body is read inside the retry loop, so a connection that drops mid-answer is
        retried like one that never connected; streams are yielded unread and are not retried once they start.
        """
        attempts = self._retry.max_retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            async with self._slots:
                started = time.monotonic()
                request = build()
                try:
                    response = await self._http.send(request, stream=True)
                    if read_body:
                        await _read_or_close(response)
                except httpx2.ReadTimeout as exc:
                    raise self._broken(path, exc) from exc
                except httpx2.TransportError as exc:
                    log.warning(
                        "%s %s failed (%s), attempt %d of %d",
                        request.method,
                        path,
                        type(exc).__name__,
                        attempt + 1,
                        attempts,
                    )
                    if last:
                        raise UpstreamError(
                            f"Could not reach the image API at {self.endpoint.base_url} after {attempts} attempts "
                            f"({type(exc).__name__}: {exc}). Check the network and the base URL."
                        ) from exc
                    wait = self._retry.delay(attempt)
                else:
                    request_id = response.headers.get("x-request-id")
                    elapsed = time.monotonic() - started
                    log.info(
                        "%s %s -> %d in %.1f s (request id %s)",
                        request.method,
                        path,
                        response.status_code,
                        elapsed,
                        request_id,
                    )
                    if response.is_success:
                        try:
                            yield response
                        finally:
                            await response.aclose()
                        return
                    try:
                        await response.aread()
                    finally:
                        await response.aclose()
                    if last or not self._retry.should_retry(response):
                        raise self._error(response, request_id)
                    wait = self._retry.delay(attempt, response)
                    log.warning(
                        "%s %s answered %d; retrying in %.1f s", request.method, path, response.status_code, wait
                    )
            await anyio.sleep(wait)

    def _parse(self, response: httpx2.Response, path: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise UpstreamError(
                f"The image API answered {path} with something that is not a JSON object "
                f"(content type {response.headers.get('content-type', 'none')}).",
                status=response.status_code,
                request_id=response.headers.get("x-request-id"),
            )
        return body

    def _error(self, response: httpx2.Response, request_id: str | None) -> UpstreamError:
        content = response.content
        key = self.endpoint.api_key
        if key is not None and key.get_secret_value():
            content = content.replace(key.get_secret_value().encode(), b"[redacted]")
        return UpstreamError.from_body(response.status_code, content, request_id)


async def _read_or_close(response: httpx2.Response) -> None:
    try:
        await response.aread()
    except BaseException:
        await response.aclose()
        raise
