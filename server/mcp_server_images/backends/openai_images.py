"""The Images API on the wire: request bodies in, decoded image bytes out.

Image answers come as `b64_json` (always for GPT image models) or as a `url` that expires after an hour
(DALL·E's default); both end up as bytes here, so nothing above this layer cares which it was. A URL is
downloaded by the downloader the server passes in (its guarded URL fetcher), so an answer cannot point the
server at an address a user's URL could not reach.

The provider's dialect (`dialects.py`) adjusts the bodies: xAI gets `aspect_ratio` and `resolution` for a size and
is asked for `b64_json`; OpenRouter's Image API takes generations and edits as JSON at one route, the images to
edit as `input_references`. A generation never carries input images, so none is sent where a provider would drop
it and bill it anyway (xAI).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import Any

from ..catalog.options import ImageOptions
from ..catalog.spec import Api, ImageEndpoint, ModelSpec
from .base import (
    AnswerItem,
    Capabilities,
    Downloader,
    ImageRequest,
    ImagesAnswer,
    PartialHandler,
    StreamEndedEarlyError,
    UnusableItem,
    Upload,
    b64_item,
    download_item,
    partial_bytes,
    partial_index,
    reported_cost,
    revised,
    stream_error,
)
from .client import ApiResponse, FileField, UpstreamClient
from .errors import ConnectionBrokenError, UpstreamError

log = logging.getLogger(__name__)


IMAGE_KEY = "b64_json"
"""Where an answer's image is; its megabytes of base64 are decoded straight from the answer's bytes."""


def generation_body(request: ImageRequest) -> dict[str, Any]:
    """The JSON body of POST /images/generations. Only parameters the user set are sent."""
    body: dict[str, Any] = {"model": request.model, "prompt": request.prompt, "n": request.options.n}
    body |= request.options.sent(Api.IMAGES, ImageEndpoint.GENERATIONS)
    if request.wants_b64:
        body["response_format"] = "b64_json"
    if request.streamed is not None:
        body |= {"stream": True, "partial_images": request.streamed.count}
    return body


def edit_fields(request: ImageRequest) -> dict[str, str]:
    """The text parts of POST /images/edits; numbers and booleans go as text, as multipart requires."""
    fields = {"model": request.model, "prompt": request.prompt or "", "n": str(request.options.n)}
    fields |= _text_parts(request.options, ImageEndpoint.EDITS)
    if request.wants_b64:
        fields["response_format"] = "b64_json"
    if request.streamed is not None:
        fields |= {"stream": "true", "partial_images": str(request.streamed.count)}
    return fields


def variation_fields(request: ImageRequest) -> dict[str, str]:
    """The text parts of POST /images/variations (dall-e-2 only, so b64_json is always asked for)."""
    fields = {"model": request.model, "n": str(request.options.n), "response_format": "b64_json"}
    return fields | _text_parts(request.options, ImageEndpoint.VARIATIONS)


def _text_parts(options: ImageOptions, endpoint: ImageEndpoint) -> dict[str, str]:
    """The options the endpoint takes that the user set, as multipart text."""
    return {name: str(value) for name, value in options.sent(Api.IMAGES, endpoint).items()}


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


def reference_parts(images: Sequence[Upload]) -> list[dict[str, Any]]:
    """The images of an edit as OpenRouter's Image API takes them: `image_url` references with data URLs."""
    return [{"type": "image_url", "image_url": {"url": image.data_url()}} for image in images]


class ImagesAPI:
    """The Images endpoints of one provider, through its upstream client (whose dialect says what differs)."""

    def __init__(self, client: UpstreamClient, download: Downloader) -> None:
        self._client = client
        self._download = download
        self._dialect = client.dialect
        # /images/edits refused gpt-image-2 at launch (a peer routes its edits through the Responses API for that
        # reason; shared/reference/models-2026-11.md): the Responses API's image tool edits with any GPT image
        # model, where the provider has that API.
        self._capabilities = Capabilities(
            via=None,
            takes_masks=self._dialect.takes_masks,
            continues_conversations=False,
            edit_fallback=Api.RESPONSES if Api.RESPONSES in client.endpoint.profile.apis else None,
            makes_variations=self._dialect.variations,
        )

    @property
    def api(self) -> Api:
        return Api.IMAGES

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def per_request(self, spec: ModelSpec | None, n: int) -> int:
        """The catalog's figure (dall-e-3 takes n=1); a model outside the catalog gets all n in one request; a
        provider that makes one image per request (Ollama) gets n requests."""
        most = spec.n_per_request if spec is not None else n
        return min(most, self._dialect.per_request or most)

    def endpoint(self, images_endpoint: ImageEndpoint) -> str:
        return f"images/{images_endpoint.value}"

    def refuses_model(self, error: UpstreamError, model: str) -> bool:
        """Whether /images/edits refused the model itself. The refusal comes in more than one wording ("Image edits
        are not supported for gpt-image-2", "Invalid value: 'gpt-image-2'. Value must be 'dall-e-2'."): a 400 about
        the `model` parameter, or one whose message names the model, is one; one about another parameter (a size,
        a mask) is not, as the fallback would refuse it as well."""
        if error.status != 400 or error.code in ("moderation_blocked", "content_policy_violation"):
            return False
        if error.param not in (None, "model"):
            return False
        text = error.message.lower()
        names = {model.lower(), model.lower().rsplit("/", 1)[-1]}
        return error.param == "model" or any(name in text for name in names)

    async def generate(self, request: ImageRequest) -> ImagesAnswer:
        """Generate; when streamed, each partial image goes to the request's handler as it arrives."""
        request = self._streamable(request)
        path, body = "/images/generations", generation_body(request)
        notes = self._dialect.adapt(body, request.spec)
        if request.streamed is None:
            return await self._decode(
                await self._client.post_json(path, body, lift=IMAGE_KEY, early=request.early), notes
            )
        return await self._collect(self._client.stream_json(path, body), request.streamed.handler)

    async def edit(self, request: ImageRequest) -> ImagesAnswer:
        request = self._streamable(request)
        if self._dialect.image_route is not None:
            body = generation_body(request) | {"input_references": reference_parts(request.inputs)}
            notes = self._dialect.adapt(body, request.spec)
            return await self._decode(
                await self._client.post_json("/images/edits", body, lift=IMAGE_KEY, early=request.early), notes
            )
        path, fields, files = "/images/edits", edit_fields(request), image_parts(request.inputs, request.mask)
        notes = self._dialect.adapt(fields, request.spec)
        if request.streamed is None:
            return await self._decode(
                await self._client.post_multipart(path, fields, files, lift=IMAGE_KEY, early=request.early), notes
            )
        return await self._collect(self._client.stream_multipart(path, fields, files), request.streamed.handler)

    def _streamable(self, request: ImageRequest) -> ImageRequest:
        """The request without a stream where the provider's Images API does not stream OpenAI's way."""
        return request if self._dialect.streams else replace(request, stream=None)

    async def vary(self, request: ImageRequest) -> ImagesAnswer:
        files = image_parts(request.inputs, None)
        return await self._decode(
            await self._client.post_multipart(
                "/images/variations", variation_fields(request), files, lift=IMAGE_KEY, early=request.early
            )
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
                        raise stream_error(event["error"], stream.request_id)
                    kind = str(event.get("type", ""))
                    if kind == "response":
                        return await self._decode(ApiResponse(event["response"], stream.request_id))
                    if kind.endswith(".partial_image"):
                        await stream.partial(event)
                    elif kind.endswith(".completed"):
                        await stream.completed(event)
        except ConnectionBrokenError as exc:
            if stream.items or stream.last_partial is None:
                raise
            raise StreamEndedEarlyError(exc.message, partial=stream.last_partial, request_id=stream.request_id) from exc
        return stream.answer()

    async def _decode(self, response: ApiResponse, notes: Sequence[str] = ()) -> ImagesAnswer:
        data = response.body.get("data")
        if not isinstance(data, list) or not data:
            raise UpstreamError("The image API answered without any image data.", request_id=response.request_id)
        items = [await self._item(item) for item in data]
        usage = response.body.get("usage")
        usage = usage if isinstance(usage, dict) else None
        cost = reported_cost(usage) if self._dialect.reports_cost else None
        return ImagesAnswer(items, usage, response.request_id, notes=tuple(notes), cost=cost)

    async def _item(self, item: object) -> AnswerItem:
        """One `data` item on its own: its base64, or its URL downloaded at once (URLs expire)."""
        if not isinstance(item, dict):
            return UnusableItem("not an object")
        if item.get(IMAGE_KEY) is not None or not isinstance(item.get("url"), str):
            return b64_item(item.get(IMAGE_KEY), revised(item))
        return await download_item(self._download, item["url"], revised(item))


@dataclass
class _Stream:
    """What a stream of image events has delivered so far."""

    on_partial: PartialHandler
    items: list[AnswerItem] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    request_id: str | None = None
    last_partial: bytes | None = None
    received: int = 0
    skipped: int = 0

    async def partial(self, event: dict[str, Any]) -> None:
        data = partial_bytes(event.get("b64_json"))
        if data is None:
            self.skipped += 1
            log.warning("skipped a malformed partial image in the stream (request id %s)", self.request_id)
            return
        self.last_partial = data
        await self.on_partial(partial_index(event.get("partial_image_index"), self.received), data)
        self.received += 1

    async def completed(self, event: dict[str, Any]) -> None:
        self.items.append(b64_item(event.get("b64_json"), revised(event)))
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]

    def answer(self) -> ImagesAnswer:
        if not self.items:
            raise StreamEndedEarlyError(
                "The image stream ended before the final image arrived.",
                partial=self.last_partial,
                request_id=self.request_id,
            )
        return ImagesAnswer(
            self.items, self.usage, self.request_id, skipped_partials=self.skipped, partials=self.received
        )
