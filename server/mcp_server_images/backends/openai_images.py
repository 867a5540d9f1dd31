"""The Images API on the wire: request bodies in, decoded image bytes out.

Image answers come as `b64_json` (always for GPT image models) or as a `url` that expires after an hour
(DALL·E's default); both end up as bytes here, so nothing above this layer cares which it was. A URL is
downloaded by the downloader the server passes in (its guarded URL fetcher), so an answer cannot point the
server at an address a user's URL could not reach.
"""

from __future__ import annotations

import binascii
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import anyio
import pybase64

from ..catalog.checks import ImageOptions
from ..catalog.spec import ModelSpec
from ..errors import ImageServerError
from .client import ApiResponse, FileField, UpstreamClient
from .errors import ConnectionBrokenError, UpstreamError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedImage:
    data: bytes
    revised_prompt: str | None


@dataclass(frozen=True)
class ImagesAnswer:
    images: list[ReceivedImage]
    usage: dict[str, Any] | None
    request_id: str | None
    skipped_partials: int = 0
    """Partial image events of a stream that were malformed (no valid base64) and were passed over."""
    partials: int = 0
    """Well-formed partial images the stream delivered (each may cost extra output tokens)."""


PartialHandler = Callable[[int, bytes], Awaitable[None]]
"""Called with (0-based partial index, image bytes) for each well-formed partial image a stream delivers."""
Downloader = Callable[[str], Awaitable[bytes]]
"""Fetches an image URL the API answered with (the server's guarded URL fetcher)."""


class StreamEndedEarlyError(UpstreamError):
    """The stream closed before any final image; `partial` is the last partial image received, if any."""

    def __init__(self, message: str, *, partial: bytes | None, request_id: str | None) -> None:
        super().__init__(message, request_id=request_id)
        self.partial = partial


@dataclass(frozen=True)
class Upload:
    """An input image as it goes up: bytes and the content type the API must see."""

    data: bytes
    mime_type: str


@dataclass(frozen=True)
class PartialStream:
    """The caller's wish to see partial images while the model works: how many, and who gets them."""

    count: int
    handler: PartialHandler


@dataclass(frozen=True)
class ImageRequest:
    """One upstream request for images, in the operation's terms; the wire form is built here."""

    model: str
    """As the provider spells it."""
    prompt: str | None
    options: ImageOptions
    spec: ModelSpec | None
    """The catalog entry, None for a model outside the catalog (sent as given, never streamed)."""
    inputs: Sequence[Upload] = ()
    mask: bytes | None = None
    stream: PartialStream | None = None

    @property
    def streamed(self) -> PartialStream | None:
        """The stream to ask for, when the caller wants one and the model can stream."""
        return self.stream if self.stream is not None and self.spec is not None and self.spec.streams else None

    @property
    def wants_b64(self) -> bool:
        """DALL·E models answer with a URL unless asked for b64_json; GPT image models reject the parameter."""
        return self.spec is not None and self.spec.accepts_response_format


GENERATION_PARAMETERS = (
    "size",
    "quality",
    "style",
    "background",
    "output_format",
    "output_compression",
    "moderation",
    "complexity",
)
EDIT_PARAMETERS = (
    "size",
    "quality",
    "background",
    "input_fidelity",
    "output_format",
    "output_compression",
    "complexity",
)
"""The ImageOptions fields each endpoint takes; only those the user set are sent."""


def generation_body(request: ImageRequest) -> dict[str, Any]:
    """The JSON body of POST /images/generations. Only parameters the user set are sent."""
    body: dict[str, Any] = {"model": request.model, "prompt": request.prompt, "n": request.options.n}
    body |= _set_options(request.options, GENERATION_PARAMETERS)
    if request.wants_b64:
        body["response_format"] = "b64_json"
    if request.streamed is not None:
        body |= {"stream": True, "partial_images": request.streamed.count}
    return body


def edit_fields(request: ImageRequest) -> dict[str, str]:
    """The text parts of POST /images/edits; numbers and booleans go as text, as multipart requires."""
    fields = {"model": request.model, "prompt": request.prompt or "", "n": str(request.options.n)}
    fields |= {name: str(value) for name, value in _set_options(request.options, EDIT_PARAMETERS).items()}
    if request.wants_b64:
        fields["response_format"] = "b64_json"
    if request.streamed is not None:
        fields |= {"stream": "true", "partial_images": str(request.streamed.count)}
    return fields


def variation_fields(request: ImageRequest) -> dict[str, str]:
    """The text parts of POST /images/variations (dall-e-2 only, so b64_json is always asked for)."""
    fields = {"model": request.model, "n": str(request.options.n), "response_format": "b64_json"}
    if request.options.size is not None:
        fields["size"] = request.options.size
    return fields


def _set_options(options: ImageOptions, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(options, name) for name in names if getattr(options, name) is not None}


def image_parts(images: Sequence[Upload], mask: bytes | None) -> list[FileField]:
    """File parts: one `image`, or repeated `image[]` for several; each with a filename and image content type."""
    name = "image" if len(images) == 1 else "image[]"
    parts: list[FileField] = [
        (name, (f"image-{index}.{image.mime_type.removeprefix('image/')}", image.data, image.mime_type))
        for index, image in enumerate(images, start=1)
    ]
    if mask is not None:
        parts.append(("mask", ("mask.png", mask, "image/png")))
    return parts


class ImagesAPI:
    """The OpenAI Images endpoints through the shared upstream client."""

    def __init__(self, client: UpstreamClient, download: Downloader) -> None:
        self._client = client
        self._download = download

    async def generate(self, request: ImageRequest) -> ImagesAnswer:
        """Generate; when streamed, each partial image goes to the request's handler as it arrives."""
        path, body = "/images/generations", generation_body(request)
        if request.streamed is None:
            return await self._decode(await self._client.post_json(path, body))
        return await self._collect(self._client.stream_json(path, body), request.streamed.handler)

    async def edit(self, request: ImageRequest) -> ImagesAnswer:
        path, fields, files = "/images/edits", edit_fields(request), image_parts(request.inputs, request.mask)
        if request.streamed is None:
            return await self._decode(await self._client.post_multipart(path, fields, files))
        return await self._collect(self._client.stream_multipart(path, fields, files), request.streamed.handler)

    async def vary(self, request: ImageRequest) -> ImagesAnswer:
        files = image_parts(request.inputs, None)
        return await self._decode(
            await self._client.post_multipart("/images/variations", variation_fields(request), files)
        )

    async def _collect(self, events: AsyncGenerator[dict[str, Any]], on_partial: PartialHandler) -> ImagesAnswer:
        """Read `*.partial_image` and `*.completed` events; an `error` event or a stream without a final image fails.

        A stream that ends early, or whose connection breaks, hands on its last partial image to be kept. A partial
        image is only a preview: a malformed one is passed over (and counted), never costing the answer.
        """
        stream = _Stream(on_partial)
        # Closed here, in this task, however the loop ends: a stream left to the garbage collector would be
        # closed from another task, outside the cancel scopes and the connection slot it holds.
        try:
            async with aclosing(events):
                async for event in events:
                    stream.request_id = event.get("request_id")
                    if event.get("error"):
                        raise _stream_error(event["error"], stream.request_id)
                    kind = str(event.get("type", ""))
                    if kind == "response":
                        return await self._decode(ApiResponse(event["response"], stream.request_id))
                    if kind.endswith(".partial_image"):
                        await stream.partial(event)
                    elif kind.endswith(".completed"):
                        await stream.completed(event)
        except ConnectionBrokenError as exc:
            if stream.images or stream.last_partial is None:
                raise
            raise StreamEndedEarlyError(exc.message, partial=stream.last_partial, request_id=stream.request_id) from exc
        return stream.answer()

    async def _decode(self, response: ApiResponse) -> ImagesAnswer:
        items = response.body.get("data")
        if not isinstance(items, list) or not items:
            raise UpstreamError("The image API answered without any image data.", request_id=response.request_id)
        images = [await self._image_bytes(item, response.request_id) for item in items]
        usage = response.body.get("usage")
        return ImagesAnswer(images, usage if isinstance(usage, dict) else None, response.request_id)

    async def _image_bytes(self, item: object, request_id: str | None) -> ReceivedImage:
        if not isinstance(item, dict):
            raise UpstreamError("The image API answered with a malformed data item.", request_id=request_id)
        if isinstance(item.get("b64_json"), str):
            return ReceivedImage(await _decoded(item["b64_json"], request_id), _revised(item))
        if isinstance(item.get("url"), str):
            try:
                data = await self._download(item["url"])
            except ImageServerError as exc:
                raise UpstreamError(
                    f"The image API answered with a URL, but the image was not downloaded: {exc}", request_id=request_id
                ) from exc
            return ReceivedImage(data, _revised(item))
        raise UpstreamError("The image API answered with neither b64_json nor url for an image.", request_id=request_id)


async def _decoded(value: object, request_id: str | None) -> bytes:
    """An image's base64 decoded in a worker thread: megabytes of it would stall every other call on the loop."""
    return await anyio.to_thread.run_sync(_b64, value, request_id)


def _b64(value: object, request_id: str | None) -> bytes:
    try:
        if not isinstance(value, str):
            raise ValueError("missing")
        # pybase64 validates as strictly as the standard library and decodes megabytes 20-40x faster (SIMD).
        return pybase64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UpstreamError(
            "The image API answered with image data that is not valid base64.", request_id=request_id
        ) from exc


@dataclass
class _Stream:
    """What a stream of image events has delivered so far."""

    on_partial: PartialHandler
    images: list[ReceivedImage] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    request_id: str | None = None
    last_partial: bytes | None = None
    received: int = 0
    skipped: int = 0

    async def partial(self, event: dict[str, Any]) -> None:
        data = await anyio.to_thread.run_sync(_partial_bytes, event.get("b64_json"))
        if data is None:
            self.skipped += 1
            log.warning("skipped a malformed partial image in the stream (request id %s)", self.request_id)
            return
        self.last_partial = data
        await self.on_partial(_partial_index(event.get("partial_image_index"), self.received), data)
        self.received += 1

    async def completed(self, event: dict[str, Any]) -> None:
        self.images.append(ReceivedImage(await _decoded(event.get("b64_json"), self.request_id), _revised(event)))
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]

    def answer(self) -> ImagesAnswer:
        if not self.images:
            raise StreamEndedEarlyError(
                "The image stream ended before the final image arrived.",
                partial=self.last_partial,
                request_id=self.request_id,
            )
        return ImagesAnswer(
            self.images, self.usage, self.request_id, skipped_partials=self.skipped, partials=self.received
        )


def _partial_bytes(value: object) -> bytes | None:
    """A partial image's bytes, or None when the event carries no valid base64."""
    try:
        return _b64(value, None)
    except UpstreamError:
        return None


def _partial_index(value: object, received: int) -> int:
    """The event's 0-based index; a missing or malformed one counts as the next after those received."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return received


def _revised(item: dict[str, Any]) -> str | None:
    revised = item.get("revised_prompt")
    return revised if isinstance(revised, str) and revised else None


def _stream_error(error: object, request_id: str | None) -> UpstreamError:
    if isinstance(error, dict):
        return UpstreamError(
            f"The image stream reported an error: {error.get('message') or error}",
            code=None if error.get("code") is None else str(error["code"]),
            request_id=request_id,
        )
    return UpstreamError(f"The image stream reported an error: {error}", request_id=request_id)
