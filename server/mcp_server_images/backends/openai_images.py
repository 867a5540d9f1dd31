"""The Images API on the wire: request bodies in, decoded image bytes out.

Image answers come as `b64_json` (always for GPT image models) or as a `url` that expires after an hour
(DALL·E's default); both end up as bytes here, so nothing above this layer cares which it was. A URL is
downloaded by the downloader the server passes in (its guarded URL fetcher), so an answer cannot point the
server at an address a user's URL could not reach.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..catalog.models import ImageOptions
from ..errors import ImageServerError
from .client import ApiResponse, FileField, UpstreamClient
from .errors import UpstreamError

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


PartialHandler = Callable[[int, bytes], Awaitable[None]]
"""Called with (0-based partial index, image bytes) for each well-formed partial image a stream delivers."""
Downloader = Callable[[str], Awaitable[bytes]]
"""Fetches an image URL the API answered with (the server's guarded URL fetcher)."""


class StreamEndedEarlyError(UpstreamError):
    """The stream closed before any final image; `partial` is the last partial image received, if any."""

    def __init__(self, message: str, *, partial: bytes | None, request_id: str | None) -> None:
        super().__init__(message, request_id=request_id)
        self.partial = partial


def generation_body(*, model: str, prompt: str, n: int, options: ImageOptions, ask_for_b64: bool) -> dict[str, Any]:
    """The JSON body of POST /images/generations. Only parameters the user set are sent."""
    body: dict[str, Any] = {"model": model, "prompt": prompt, "n": n}
    for name in ("size", "quality", "style", "background", "output_format", "output_compression", "moderation"):
        value = getattr(options, name)
        if value is not None:
            body[name] = value
    if ask_for_b64:
        body["response_format"] = "b64_json"
    return body


def edit_fields(*, model: str, prompt: str, n: int, options: ImageOptions, ask_for_b64: bool) -> dict[str, str]:
    """The text parts of POST /images/edits; numbers and booleans go as text, as multipart requires."""
    fields = {"model": model, "prompt": prompt, "n": str(n)}
    for name in ("size", "quality", "background", "input_fidelity", "output_format", "output_compression"):
        value = getattr(options, name)
        if value is not None:
            fields[name] = str(value)
    if ask_for_b64:
        fields["response_format"] = "b64_json"
    return fields


def variation_fields(*, model: str, n: int, size: str | None) -> dict[str, str]:
    """The text parts of POST /images/variations (dall-e-2 only, so b64_json is always asked for)."""
    fields = {"model": model, "n": str(n), "response_format": "b64_json"}
    if size is not None:
        fields["size"] = size
    return fields


def image_parts(images: Sequence[tuple[bytes, str]], mask: bytes | None) -> list[FileField]:
    """File parts: one `image`, or repeated `image[]` for several; each with a filename and image content type."""
    name = "image" if len(images) == 1 else "image[]"
    parts: list[FileField] = [
        (name, (f"image-{index}.{mime.removeprefix('image/')}", data, mime))
        for index, (data, mime) in enumerate(images, start=1)
    ]
    if mask is not None:
        parts.append(("mask", ("mask.png", mask, "image/png")))
    return parts


class ImagesAPI:
    """Calls on the Images endpoints through the shared upstream client."""

    def __init__(self, client: UpstreamClient, download: Downloader) -> None:
        self._client = client
        self._download = download

    async def generate(self, body: dict[str, Any], stream: PartialHandler | None = None) -> ImagesAnswer:
        """Generate; with `stream` the answer arrives as events and each partial image goes to the handler."""
        if stream is None:
            return await self._decode(await self._client.post_json("/images/generations", body))
        return await self._collect(self._client.stream_json("/images/generations", body), stream)

    async def edit(
        self, fields: dict[str, str], files: list[FileField], stream: PartialHandler | None = None
    ) -> ImagesAnswer:
        if stream is None:
            return await self._decode(await self._client.post_multipart("/images/edits", fields, files))
        return await self._collect(self._client.stream_multipart("/images/edits", fields, files), stream)

    async def variations(self, fields: dict[str, str], files: list[FileField]) -> ImagesAnswer:
        return await self._decode(await self._client.post_multipart("/images/variations", fields, files))

    async def _collect(self, events: AsyncIterator[dict[str, Any]], on_partial: PartialHandler) -> ImagesAnswer:
        """Read `*.partial_image` and `*.completed` events; an `error` event or a stream without a final image fails.

        A partial image is only a preview: a malformed one is passed over (and counted), never costing the answer.
        """
        images: list[ReceivedImage] = []
        usage: dict[str, Any] | None = None
        request_id: str | None = None
        last_partial: bytes | None = None
        received = skipped = 0
        async for event in events:
            request_id = event.get("request_id")
            kind = str(event.get("type", ""))
            error = event.get("error")
            if error:
                raise _stream_error(error, request_id)
            if kind == "response":
                return await self._decode(ApiResponse(event["response"], request_id))
            if kind.endswith(".partial_image"):
                partial = _partial_bytes(event.get("b64_json"))
                if partial is None:
                    skipped += 1
                    log.warning("skipped a malformed partial image in the stream (request id %s)", request_id)
                    continue
                last_partial = partial
                await on_partial(_partial_index(event.get("partial_image_index"), received), partial)
                received += 1
            elif kind.endswith(".completed"):
                images.append(ReceivedImage(_b64(event.get("b64_json"), request_id), _revised(event)))
                if isinstance(event.get("usage"), dict):
                    usage = event["usage"]
        if not images:
            raise StreamEndedEarlyError(
                "The image stream ended before the final image arrived.", partial=last_partial, request_id=request_id
            )
        return ImagesAnswer(images, usage, request_id, skipped_partials=skipped)

    async def _decode(self, response: ApiResponse) -> ImagesAnswer:
        items = response.body.get("data")
        if not isinstance(items, list) or not items:
            raise UpstreamError(
                "The image API answered without any image data.", status=200, request_id=response.request_id
            )
        images = [await self._image_bytes(item, response.request_id) for item in items]
        usage = response.body.get("usage")
        return ImagesAnswer(images, usage if isinstance(usage, dict) else None, response.request_id)

    async def _image_bytes(self, item: object, request_id: str | None) -> ReceivedImage:
        if not isinstance(item, dict):
            raise UpstreamError("The image API answered with a malformed data item.", request_id=request_id)
        if isinstance(item.get("b64_json"), str):
            return ReceivedImage(_b64(item["b64_json"], request_id), _revised(item))
        if isinstance(item.get("url"), str):
            try:
                data = await self._download(item["url"])
            except ImageServerError as exc:
                raise UpstreamError(
                    f"The image API answered with a URL, but the image was not downloaded: {exc}", request_id=request_id
                ) from exc
            return ReceivedImage(data, _revised(item))
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
