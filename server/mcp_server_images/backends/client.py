"""The only code that speaks HTTP to the API: one pooled httpx2 client for the server's life.

It owns authentication (the key goes into a header of API requests and nowhere else, in the provider's way; a key
from a file or a command is renewed once when the provider answers 401), where each request goes (the provider's
dialect: Azure's deployment paths, OpenRouter's image route), the cap on concurrent requests, retries, and the
limits on each answer: a total deadline (a server that trickles one byte at a time
cannot hold a call forever) and a size cap (a huge answer cannot exhaust memory). Callers get parsed JSON plus
the request id, or an `UpstreamError` whose message is safe to show: everything the upstream says passes
through the redactor first, so no secret it echoes gets any further.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx2
from pydantic_core import from_json

from ..errors import ConfigurationError
from ..providers import Endpoint
from ..telemetry import Telemetry
from .base import EarlyImages
from .credentials import Credential
from .dialects import Dialect, dialect_of, url_of
from .errors import ConnectionBrokenError, UpstreamError
from .lifted import LiftedStream, parse_lifting
from .redact import Redactor
from .retry import RetryPolicy

log = logging.getLogger(__name__)

FileField = tuple[str, tuple[str, bytes, str]]
"""A multipart file part: (field name, (filename, bytes, content type))."""

T = TypeVar("T")
Build = Callable[[dict[str, str]], httpx2.Request]
"""Builds one attempt's request with the auth headers of that moment (a renewed key goes into the next one)."""

WIRE_LOGGERS = ("httpcore2",)
"""Libraries whose debug traces print the upstream's response headers as received; they log at INFO at most."""
CONNECT_TIMEOUT = 15.0
WRITE_TIMEOUT = 120.0


@dataclass(frozen=True)
class ApiResponse:
    body: dict[str, Any]
    request_id: str | None


@dataclass(frozen=True)
class _Refused:
    """A 401 for a key that may be renewed: the error to raise should renewing bring no other key."""

    error: UpstreamError


@dataclass(frozen=True)
class _Watched:
    """Whose string values to hand to `early` while an answer arrives; each attempt follows them anew."""

    key: str
    early: EarlyImages


@dataclass(frozen=True)
class _Reply:
    """A successful answer inside its exchange: the body when it was read, and when the answer must be done."""

    response: httpx2.Response
    body: bytes | bytearray | None
    deadline: float
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
        max_answer_bytes: int,
        redactor: Redactor,
        telemetry: Telemetry,
    ) -> None:
        self.endpoint = endpoint
        self.dialect: Dialect = dialect_of(endpoint.provider)
        self._credential = Credential(endpoint.key, redactor)
        self._telemetry = telemetry
        self._timeout = timeout
        self._max_bytes = max_answer_bytes
        self._redactor = redactor
        for name in WIRE_LOGGERS:
            wire = logging.getLogger(name)
            wire.setLevel(max(wire.level, logging.INFO))
        self._retry = retry
        self._slots = anyio.Semaphore(max_concurrency)
        self._max_concurrency = max_concurrency
        self._opened: httpx2.AsyncClient | None = None

    @property
    def _http(self) -> httpx2.AsyncClient:
        """The pooled client, opened at the first request: a session that makes no call never loads the connection
        stack or the trusted certificates."""
        if self._opened is None:
            self._opened = httpx2.AsyncClient(
                timeout=httpx2.Timeout(self._timeout, connect=CONNECT_TIMEOUT, write=WRITE_TIMEOUT),
                limits=httpx2.Limits(
                    max_connections=self._max_concurrency * 2, max_keepalive_connections=self._max_concurrency
                ),
                follow_redirects=False,
                headers={"user-agent": "mcp-server-images"},
            )
        return self._opened

    async def aclose(self) -> None:
        if self._opened is not None:
            await self._opened.aclose()

    async def get_json(self, path: str) -> ApiResponse:
        """GET `<base_url><path>` (the model list), with the same retries and error handling as every call."""
        url = self._url(path, None)
        return await self._read(path, lambda headers: self._http.build_request("GET", url, headers=headers))

    async def post_json(
        self, path: str, body: Mapping[str, Any], *, lift: str | None = None, early: EarlyImages | None = None
    ) -> ApiResponse:
        """POST a JSON body to the provider's place for `path`; the answer's string values of `lift` come as views
        of its bytes (see `lifted`), not as strings, and go decoded to `early` while the answer arrives."""
        return await self._read(path, self._json(path, body), lift, early)

    async def post_multipart(
        self,
        path: str,
        fields: Mapping[str, str],
        files: Sequence[FileField],
        *,
        lift: str | None = None,
        early: EarlyImages | None = None,
    ) -> ApiResponse:
        """POST multipart/form-data; every file part carries a filename and content type. `lift` and `early` as
        for `post_json`."""
        return await self._read(path, self._multipart(path, fields, files), lift, early)

    def stream_json(self, path: str, body: Mapping[str, Any]) -> AsyncGenerator[dict[str, Any]]:
        """POST a JSON body that asks for server-sent events; yield each event's data object."""
        return self._events(path, self._json(path, body))

    def stream_multipart(
        self, path: str, fields: Mapping[str, str], files: Sequence[FileField]
    ) -> AsyncGenerator[dict[str, Any]]:
        """POST multipart/form-data that asks for server-sent events; yield each event's data object."""
        return self._events(path, self._multipart(path, fields, files))

    def _url(self, path: str, model: object) -> str:
        """The provider's URL for `path`; Azure's deployment paths take the request's model as the deployment."""
        return url_of(self.endpoint, path, model if isinstance(model, str) else None)

    def _json(self, path: str, body: Mapping[str, Any]) -> Build:
        url = self._url(path, body.get("model"))
        return lambda headers: self._http.build_request("POST", url, json=dict(body), headers=headers)

    def _multipart(self, path: str, fields: Mapping[str, str], files: Sequence[FileField]) -> Build:
        url = self._url(path, fields.get("model"))
        return lambda headers: self._http.build_request(
            "POST", url, data=dict(fields), files=list(files), headers=headers
        )

    async def _auth(self) -> tuple[dict[str, str], str | None]:
        """The auth headers for the next attempt, and the key in them (None: none is sent, as to local servers)."""
        key = await self._credential.current()
        if key is None and self.endpoint.profile.needs_key:
            variables = " or ".join(self.endpoint.key_variables) or "MCP_IMAGES_API_KEY"
            raise ConfigurationError(
                f"No API key is configured. Set {variables} in the environment of the MCP server "
                f"(for example in the 'env' block of your client's MCP configuration) and restart it."
            )
        return self.dialect.headers(key, self.endpoint.key_header), key

    async def _read(
        self, path: str, build: Build, lift: str | None = None, early: EarlyImages | None = None
    ) -> ApiResponse:
        watched = _Watched(lift, early) if lift is not None and early is not None else None
        async with self._exchange(path, build, read_body=True, watched=watched) as reply:
            assert reply.body is not None  # read_body=True
            # Answers carry megabytes of base64: parse them off the event loop, which other calls share.
            parsed = await anyio.to_thread.run_sync(self._parse, reply.body, reply.response, path, lift)
            return ApiResponse(parsed, reply.request_id)

    async def _events(self, path: str, build: Build) -> AsyncGenerator[dict[str, Any]]:
        async with self._exchange(path, build) as reply:
            response, request_id = reply.response, reply.request_id
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                # A provider that ignores `stream` answers with the whole result at once; take it as one event.
                body = await self._within(reply.deadline, path, self._body(response, path))
                yield {"type": "response", "response": self._parse(body, response, path), "request_id": request_id}
                return
            events = httpx2.EventSource(response, max_event_size=self._max_bytes).__aiter__()
            while True:
                try:
                    event = await self._within(reply.deadline, path, events.__anext__())
                except StopAsyncIteration:
                    return
                except httpx2.SSEError as exc:
                    raise self._too_large(path, "one event of its stream") from exc
                except httpx2.TransportError as exc:
                    raise self._broken(path, exc) from exc
                try:
                    data = from_json(event.data)
                except ValueError:
                    continue
                if isinstance(data, dict):
                    yield self._redactor.json(data) | {"request_id": request_id}

    async def _within(self, deadline: float, path: str, step: Awaitable[T]) -> T:
        """Await `step` before the answer's deadline; past it, the answer is too slow."""
        try:
            with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                return await step
        except TimeoutError as exc:
            raise self._too_slow(path) from exc

    def _too_slow(self, path: str) -> ConnectionBrokenError:
        """Past the deadline of one answer; like a broken connection, not retried (it may already be paid)."""
        return ConnectionBrokenError(
            f"The image API did not answer {path} within {self._timeout:g} s. "
            "Try again, pick a lower quality, or raise MCP_IMAGES_UPSTREAM_TIMEOUT."
        )

    def _too_large(self, path: str, what: str) -> UpstreamError:
        return UpstreamError(
            f"The image API's answer to {path} was refused: {what} is larger than {self._max_bytes:,} bytes, the "
            "most the server accepts (MCP_IMAGES_MAX_UPSTREAM_BYTES)."
        )

    def _broken(self, path: str, exc: Exception) -> ConnectionBrokenError:
        # Not retried: the upstream may still be generating, and a second request would be paid twice.
        if isinstance(exc, httpx2.ReadTimeout):
            return self._too_slow(path)
        return ConnectionBrokenError(
            f"The connection to the image API broke while answering {path} ({type(exc).__name__})."
        )

    async def _body(self, response: httpx2.Response, path: str, watch: LiftedStream | None = None) -> bytes | bytearray:
        """The whole (decoded) body, refused as soon as it exceeds the size cap; the response is closed on failure.

        A body of declared length is read into one buffer of that size: a list of chunks joined at the end would
        hold the answer twice. `watch` sees the body after each piece (images decoded while the rest arrives).
        """
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_bytes:
                raise self._too_large(path, f"its body ({int(declared):,} bytes)")
            exact = declared.isdigit() and "content-encoding" not in response.headers
            body = bytearray(int(declared)) if exact else bytearray()
            size = 0
            async for chunk in response.aiter_bytes():
                if size + len(chunk) > self._max_bytes:
                    raise self._too_large(path, "its body")
                body[size : size + len(chunk)] = chunk
                size += len(chunk)
                if watch is not None:
                    watch.arrived(body, size)
            del body[size:]
            return body
        except BaseException:
            await response.aclose()
            raise
        finally:
            if watch is not None:
                watch.finish()

    @asynccontextmanager
    async def _exchange(
        self, path: str, build: Build, *, read_body: bool = False, watched: _Watched | None = None
    ) -> AsyncIterator[_Reply]:
        """Send with retries; yield the first successful answer, holding a concurrency slot.

        Each attempt has one deadline for the whole answer, body included. With `read_body` the body is read
        inside the retry loop, so a connection that drops mid-answer is retried like one that never connected;
        streams are yielded unread (with their deadline) and are not retried once they start. A 401 for a key
        from a file or a command renews the key and sends once more (not counted as a retry).
        """
        attempts = self._retry.max_retries + 1
        attempt, renewed = 0, not self._credential.renewable
        while True:
            headers, key = await self._auth()
            async with self._slots:
                tried = await self._attempt(
                    path,
                    build(headers),
                    read_body=read_body,
                    attempt=attempt,
                    attempts=attempts,
                    renew=not renewed,
                    watched=watched,
                )
                if isinstance(tried, _Reply):
                    try:
                        yield tried
                    finally:
                        await tried.response.aclose()
                    return
            if isinstance(tried, _Refused):
                renewed = True
                if await self._credential.renew(key) is None:
                    raise tried.error
                continue
            await anyio.sleep(tried)
            attempt += 1

    async def _attempt(
        self,
        path: str,
        request: httpx2.Request,
        *,
        read_body: bool,
        attempt: int,
        attempts: int,
        renew: bool,
        watched: _Watched | None,
    ) -> _Reply | _Refused | float:
        """One attempt: the successful answer, a 401 to renew the key for (when `renew`), or the seconds to wait
        before the next; raises when this answer is final (not retryable, or the last attempt)."""
        last = attempt == attempts - 1
        started = time.monotonic()
        deadline = anyio.current_time() + self._timeout
        try:
            response, body = await self._within(
                deadline, path, self._send(request, path, read_body=read_body, watched=watched)
            )
        except httpx2.ReadTimeout as exc:
            self._telemetry.upstream_failed("timeout", retried=False)
            raise self._too_slow(path) from exc
        except httpx2.TransportError as exc:
            log.warning(
                "%s %s failed (%s), attempt %d of %d", request.method, path, type(exc).__name__, attempt + 1, attempts
            )
            self._telemetry.upstream_failed("connection", retried=not last)
            if last:
                raise UpstreamError(
                    f"Could not reach the image API at {self.endpoint.base_url} after {attempts} attempts "
                    f"({type(exc).__name__}: {self._redactor.text(str(exc))}). Check the network and the base URL."
                ) from exc
            return self._retry.delay(attempt)
        request_id = self._redactor.optional(response.headers.get("x-request-id"))
        elapsed = time.monotonic() - started
        log.info(
            "%s %s -> %d in %.1f s (request id %s)", request.method, path, response.status_code, elapsed, request_id
        )
        if response.is_success:
            return _Reply(response, body, deadline, request_id)
        await response.aclose()
        if renew and response.status_code == 401:
            self._telemetry.upstream_failed("401", retried=True)  # sent once more with the key read again
            return _Refused(self._error(response.status_code, body or b"", request_id, attempt + 1))
        final = last or not self._retry.should_retry(response)
        self._telemetry.upstream_failed(str(response.status_code), retried=not final)
        if final:
            raise self._error(response.status_code, body or b"", request_id, attempt + 1)
        wait = self._retry.delay(attempt, response)
        log.warning("%s %s answered %d; retrying in %.1f s", request.method, path, response.status_code, wait)
        return wait

    async def _send(
        self, request: httpx2.Request, path: str, *, read_body: bool, watched: _Watched | None
    ) -> tuple[httpx2.Response, bytes | bytearray | None]:
        """One attempt: the response, and its body when asked for or when it is an error answer (whose body no
        one watches)."""
        response = await self._http.send(request, stream=True)
        if not response.is_success:
            return response, await self._body(response, path)
        if read_body:
            watch = LiftedStream(watched.key, watched.early) if watched is not None else None
            return response, await self._body(response, path, watch)
        return response, None

    def _parse(
        self, body: bytes | bytearray, response: httpx2.Response, path: str, lift: str | None = None
    ) -> dict[str, Any]:
        try:
            # pydantic-core's parser reads megabytes of base64 in JSON 20x faster than the json module.
            parsed = from_json(body) if lift is None else parse_lifting(body, lift)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise UpstreamError(
                f"The image API answered {path} with something that is not a JSON object "
                f"(content type {self._redactor.text(response.headers.get('content-type', 'none'))}).",
                status=response.status_code,
                request_id=self._redactor.optional(response.headers.get("x-request-id")),
            )
        redacted: dict[str, Any] = self._redactor.json(parsed)
        return redacted

    def _error(self, status: int, body: bytes | bytearray, request_id: str | None, attempts: int) -> UpstreamError:
        text = self._redactor.text(body.decode("utf-8", "replace"))
        key_source = self.endpoint.key_source
        return UpstreamError.from_body(status, text.encode(), request_id, attempts=attempts, key_source=key_source)
