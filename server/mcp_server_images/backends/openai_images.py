"""The Images API on the wire: request bodies in, decoded image bytes out.

Image answers come as `b64_json` (always for GPT image models) or as a `url` that expires after an hour
(DALL·E's default); both end up as bytes here, so nothing above this layer cares which it was.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..catalog.checks import ImageOptions
from ..catalog.spec import ModelSpec
from .client import ApiResponse, FileField, UpstreamClient
from .errors import ConnectionBrokenError, UpstreamError


@dataclass(frozen=True)
class ReceivedImage:
    data: bytes
    revised_prompt: str | None


@dataclass(frozen=True)
class ImagesAnswer:
    images: list[ReceivedImage]
    usage: dict[str, Any] | None
    request_id: str | None


PartialHandler = Callable[[int, bytes], Awaitable[None]]
"""Called with (0-based partial index, image bytes) for each partial image a stream delivers."""


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

    def __init__(self, client: UpstreamClient) -> None:
        self._client = client

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

    async def _collect(self, events: AsyncIterator[dict[str, Any]], on_partial: PartialHandler) -> ImagesAnswer:
        """Read `*.partial_image` and `*.completed` events; an `error` event or a stream without a final image fails.

        A stream that ends early, or whose connection breaks, hands on its last partial image to be kept.
        """
        images: list[ReceivedImage] = []
        usage: dict[str, Any] | None = None
        request_id: str | None = None
        last_partial: bytes | None = None
        try:
            async for event in events:
                request_id = event.get("request_id")
                kind = str(event.get("type", ""))
                error = event.get("error")
                if error:
                    raise _stream_error(error, request_id)
                if kind == "response":
                    return await self._decode(ApiResponse(event["response"], request_id))
                if kind.endswith(".partial_image"):
                    last_partial = _b64(event.get("b64_json"), request_id)
                    await on_partial(int(event.get("partial_image_index", 0)), last_partial)
                elif kind.endswith(".completed"):
                    images.append(ReceivedImage(_b64(event.get("b64_json"), request_id), _revised(event)))
                    if isinstance(event.get("usage"), dict):
                        usage = event["usage"]
        except ConnectionBrokenError as exc:
            if images or last_partial is None:
                raise
            raise StreamEndedEarlyError(exc.message, partial=last_partial, request_id=request_id) from exc
        if not images:
            raise StreamEndedEarlyError(
                "The image stream ended before the final image arrived.", partial=last_partial, request_id=request_id
            )
        return ImagesAnswer(images, usage, request_id)

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
            return ReceivedImage(_b64(item["b64_json"], request_id), _revised(item))
        if isinstance(item.get("url"), str):
            return ReceivedImage(await self._client.download(item["url"]), _revised(item))
        raise UpstreamError("The image API answered with neither b64_json nor url for an image.", request_id=request_id)


def _b64(value: object, request_id: str | None) -> bytes:
    try:
        if not isinstance(value, str):
            raise ValueError("missing")
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UpstreamError(
            "The image API answered with image data that is not valid base64.", request_id=request_id
        ) from exc


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
