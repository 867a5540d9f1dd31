"""Chat Completions with image output (gateways such as Dedalus and OpenRouter): one user message in, images out.

The request asks for `modalities: ["image", "text"]`, with `image_config` {aspect_ratio, image_size} where the
catalog says the model takes it; otherwise a size wish is written into the instruction. Gateways put the image in
different places, so the answer is read defensively: `message.images[]` (OpenRouter's documented shape), content
parts of type `image_url`, or `data:` URLs inside the text. A stream delivers them as `delta.images`, each of which
is shown as progress. What the model writes beside the image is kept for the result; an answer with text only is
an error that quotes it, and nothing is stored.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from ..catalog.sizes import nearest_ratio, parse_size
from ..catalog.spec import Api, ImageEndpoint, ModelSpec
from .base import (
    AnswerItem,
    Capabilities,
    Downloader,
    ImageRequest,
    ImagesAnswer,
    PartialHandler,
    ReceivedImage,
    UnusableItem,
    b64_item,
    download_item,
    quoted,
    reported_cost,
    stream_error,
)
from .client import UpstreamClient
from .errors import UpstreamError

PATH = "/chat/completions"
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
"""The aspect ratios gateways document for image_config (OpenRouter); a catalogued model may list its own."""
CAPABILITIES = Capabilities(via="the chat API", takes_masks=False, continues_conversations=False)
"""Chat image models edit from the instruction alone: a mask would be silently ignored."""
_DATA_URL = re.compile(r"data:image/[a-zA-Z0-9.+-]+;base64,[A-Za-z0-9+/=]+")


def image_config(width: int, height: int, ratios: Sequence[str] = ASPECT_RATIOS) -> dict[str, str]:
    """The nearest of the aspect ratios, and the resolution tier that covers the long side."""
    ratio = nearest_ratio(width, height, ratios)
    long_side = max(width, height)
    tier = "1K" if long_side <= 1024 else "2K" if long_side <= 2048 else "4K"
    return {"aspect_ratio": ratio, "image_size": tier}


def chat_image_body(request: ImageRequest) -> tuple[dict[str, Any], list[str]]:
    """The request body, and notes on what the user should know about how the size was passed.

    The options the table sends through Chat Completions go as top-level fields; a size goes its own way.
    """
    text, notes = request.prompt or "", []
    body: dict[str, Any] = {"model": request.model, "modalities": ["image", "text"]}
    body |= request.options.sent(Api.CHAT)
    dims = parse_size(request.options.size) if request.options.size else None
    if dims is not None and request.spec is not None and request.spec.image_config:
        body["image_config"] = config = image_config(*dims, request.spec.aspect_ratios or ASPECT_RATIOS)
        ratio, tier = config["aspect_ratio"], config["image_size"]
        notes.append(f"size {request.options.size} was sent as aspect ratio {ratio} at {tier}.")
    elif dims is not None:
        text += f"\n\nMake the image {dims[0]}x{dims[1]} pixels."
        notes.append(
            f"{request.model} takes no size parameter, so size {request.options.size} was asked for in the "
            "instruction; the image may come out at another size."
        )
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    content += [{"type": "image_url", "image_url": {"url": upload.data_url()}} for upload in request.inputs]
    body["messages"] = [{"role": "user", "content": content}]
    if request.streamed is not None:
        body["stream"] = True
    return body, notes


@dataclass
class _Found:
    """Image URLs and text read from a message (or from the deltas of a stream)."""

    urls: list[str | None] = field(default_factory=list)
    """One per image item, in order; None for an item that names no URL."""
    text: list[str] = field(default_factory=list)

    def read(self, message: dict[str, Any]) -> list[str | None]:
        """Take the images and text of one message or delta; return the image URLs it added (None for an image
        item without one, which the result names)."""
        added = [_image_url(item) for item in _list(message.get("images"))]
        content = message.get("content")
        if isinstance(content, str):
            added += [match.group(0) for match in _DATA_URL.finditer(content)]
            self.text.append(_DATA_URL.sub("", content))
        for part in _list(content):
            if isinstance(part, dict) and part.get("type") == "image_url":
                added.append(_image_url(part))
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                self.text.append(part["text"])
        self.urls += added
        return added

    @property
    def said(self) -> str | None:
        text = "".join(self.text).strip()
        return text or None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _image_url(item: object) -> str | None:
    if not isinstance(item, dict):
        return None
    inner = item.get("image_url")
    url = inner.get("url") if isinstance(inner, dict) else inner if isinstance(inner, str) else item.get("url")
    return url if isinstance(url, str) and url else None


class ChatImagesAPI:
    """Image output through /chat/completions; one image per request (n > 1 is sent concurrently)."""

    def __init__(self, client: UpstreamClient, download: Downloader) -> None:
        self._client = client
        self._download = download

    @property
    def api(self) -> Api:
        return Api.CHAT

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    def per_request(self, spec: ModelSpec | None, n: int) -> int:
        return 1

    def endpoint(self, images_endpoint: ImageEndpoint) -> str:
        return PATH.lstrip("/")

    def refuses_model(self, error: UpstreamError, model: str) -> bool:
        return False

    async def generate(self, request: ImageRequest) -> ImagesAnswer:
        body, notes = chat_image_body(request)
        if request.streamed is None:
            response = await self._client.post_json(PATH, body)
            return await self._answer(request, response.body, response.request_id, notes)
        return await self._collect(request, self._client.stream_json(PATH, body), request.streamed.handler, notes)

    async def edit(self, request: ImageRequest) -> ImagesAnswer:
        """The instruction with the input images as `image_url` parts; the same request as a generation."""
        return await self.generate(request)

    async def _answer(
        self, request: ImageRequest, body: dict[str, Any], request_id: str | None, notes: list[str]
    ) -> ImagesAnswer:
        choices = _list(body.get("choices"))
        message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
        if not isinstance(message, dict):
            raise UpstreamError("The chat API answered without a message.", request_id=request_id)
        if message.get("refusal"):
            raise UpstreamError(f"The model refused: {message['refusal']}", request_id=request_id)
        found = _Found()
        found.read(message)
        items = [await self._item(url) for url in found.urls]
        return self._images_answer(request, items, found.said, body, request_id, notes)

    async def _collect(
        self,
        request: ImageRequest,
        events: AsyncGenerator[dict[str, Any]],
        on_partial: PartialHandler,
        notes: list[str],
    ) -> ImagesAnswer:
        """Read the chunks of a stream: text pieces and `delta.images`; each image is progress as it arrives."""
        found, items, request_id = _Found(), list[AnswerItem](), None
        last: dict[str, Any] = {}
        async with aclosing(events):
            async for event in events:
                request_id = event.get("request_id")
                if event.get("error"):
                    raise stream_error(event["error"], request_id)
                if event.get("type") == "response":
                    return await self._answer(request, event["response"], request_id, notes)
                last = event if event.get("usage") else last
                for choice in _list(event.get("choices")):
                    delta = choice.get("delta") if isinstance(choice, dict) else None
                    for url in found.read(delta) if isinstance(delta, dict) else []:
                        items.append(item := await self._item(url))
                        if isinstance(item, ReceivedImage):
                            await on_partial(len(items) - 1, item.data)
        return self._images_answer(request, items, found.said, last, request_id, notes)

    def _images_answer(
        self,
        request: ImageRequest,
        items: list[AnswerItem],
        said: str | None,
        body: dict[str, Any],
        request_id: str | None,
        notes: list[str],
    ) -> ImagesAnswer:
        if not items:
            what = f'only text: "{quoted(said)}"' if said else "neither an image nor text"
            raise UpstreamError(
                f"{request.model} answered with {what}. Nothing was stored; ask for a picture explicitly, or try "
                "another model.",
                request_id=request_id,
            )
        usage = body.get("usage")
        usage = usage if isinstance(usage, dict) else None
        cost = reported_cost(usage) if self._client.dialect.reports_cost else None
        return ImagesAnswer(items, usage, request_id, text=said, notes=tuple(notes), cost=cost)

    async def _item(self, url: str | None) -> AnswerItem:
        """One image of the answer on its own: a data URL decoded, another URL downloaded at once."""
        if url is None:
            return UnusableItem("no image URL")
        if url.startswith("data:"):
            return b64_item(url.partition(",")[2])
        return await download_item(self._download, url)
