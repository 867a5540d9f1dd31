"""The seam every image-making API sits behind: one request type, one answer type, one small Protocol.

The Images API, chat-completions image output and the Responses API's image_generation tool each implement
`ImageBackend`; operations pick one from the catalog (which API serves the model) and never see a wire body.
Adding an upstream API is one module implementing this Protocol, an `Api` value and catalog entries naming it.
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

import pybase64

from ..catalog.options import ImageOptions
from ..catalog.spec import Api, ImageEndpoint, ModelSpec
from ..errors import ImageServerError
from .errors import UpstreamError


@dataclass(frozen=True)
class ReceivedImage:
    data: bytes
    revised_prompt: str | None


@dataclass(frozen=True)
class UnusableItem:
    """An item of an answer that carries no image (no data, data that is not base64, a URL that would not
    download): named in the result, and never the cause of losing the answer's other images."""

    problem: str


AnswerItem = ReceivedImage | UnusableItem
"""One image of an answer as a backend read it: its bytes (checked as an image later), or why there are none."""


class UsagePart(NamedTuple):
    """The usage one model reported for its share of a call (Responses: the mainline model and the image model)."""

    model: str
    usage: dict[str, Any]


@dataclass(frozen=True)
class ImagesAnswer:
    items: list[AnswerItem]
    """Every image item of the answer, in order, each read on its own."""
    usage: dict[str, Any] | None
    request_id: str | None
    skipped_partials: int = 0
    """Partial image events of a stream that were malformed (no valid base64) and were passed over."""
    partials: int = 0
    """Well-formed partial images the stream delivered (each may cost extra output tokens)."""
    text: str | None = None
    """What the model said beside the image (chat and Responses answers), for the result."""
    response_id: str | None = None
    """The Responses API's id of this answer: an edit of its image continues the conversation from it."""
    usage_parts: tuple[UsagePart, ...] = ()
    """Usage per model when more than one model worked on the call; `usage` is then their sum."""
    notes: tuple[str, ...] = ()
    """What the backend did that the user should know (a size sent as words, a conversation restarted)."""
    cost: float | None = None
    """What the provider says the request cost in USD, where it says (OpenRouter's `usage.cost`), as it says it:
    pricing judges whether it can be right (operations/cost.py)."""


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
    response_id: str | None = None
    """The Responses API answer that made this image, when one did: an edit through Responses continues it."""

    def data_url(self) -> str:
        """The image as a `data:` URL, the form chat and Responses take inline images in."""
        return f"data:{self.mime_type};base64,{pybase64.b64encode_as_string(self.data)}"


@dataclass(frozen=True)
class PartialStream:
    """The caller's wish to see partial images while the model works: how many, and who gets them."""

    count: int
    handler: PartialHandler


class ArrivingImage(Protocol):
    """One image's bytes while its answer is still arriving: each piece as its base64 is decoded, then the end."""

    def more(self, data: bytes) -> bool:
        """Take the next bytes; False once the rest of this image is not wanted (it need not be decoded)."""

    def end(self, *, whole: bool) -> None:
        """No more bytes: `whole` when the image's value was read to its closing quote, not when the answer broke
        off or the value could not be decoded piecewise (the answer is then checked as a whole, as always)."""


class EarlyImages(Protocol):
    """Takes an answer's images while it arrives, so work on them can start before its last byte (the operations
    decode previews there). Only a hint: the answer is still read, parsed and checked whole."""

    def arriving(self) -> ArrivingImage:
        """A new image's bytes begin; every attempt at an answer, and every image in it, gets one."""


@dataclass(frozen=True)
class ImageRequest:
    """One upstream request for images, in the operation's terms; the wire form is built by the backend."""

    model: str
    """As the provider spells it."""
    prompt: str | None
    options: ImageOptions
    spec: ModelSpec | None
    """The catalog entry, None for a model outside the catalog (sent as given, never streamed)."""
    inputs: Sequence[Upload] = ()
    mask: bytes | None = None
    stream: PartialStream | None = None
    early: EarlyImages | None = None
    """Where the answer's images go while it is still arriving, when the backend can tell them apart that soon."""

    @property
    def streamed(self) -> PartialStream | None:
        """The stream to ask for, when the caller wants one and the model can stream."""
        return self.stream if self.stream is not None and self.spec is not None and self.spec.streams else None

    @property
    def wants_b64(self) -> bool:
        """DALL·E models answer with a URL unless asked for b64_json; GPT image models reject the parameter."""
        return self.spec is not None and self.spec.accepts_response_format


@dataclass(frozen=True)
class Capabilities:
    """What an upstream API can do and how it is named, declared by its backend so that use cases ask instead of
    testing which API it is."""

    via: str | None
    """How progress names the API a request went through ("the chat API"); None for the usual Images API."""
    takes_masks: bool
    """Whether an edit can say where to change the image (a mask); chat image models edit from words alone."""
    continues_conversations: bool
    """Whether an image it made can be refined in the conversation that made it (`previous_response_id`)."""
    unestimated: str | None = None
    """What an estimate of a call through this API leaves out (the Responses API's mainline model)."""
    edit_fallback: Api | None = None
    """The API that takes an edit this one refuses for its model (see `refuses_model`)."""
    makes_variations: bool = False
    """Whether it has the variations endpoint (`vary`); only the Images API has."""


class ImageBackend(Protocol):
    """An upstream API that makes images."""

    @property
    def api(self) -> Api:
        """Which API this is, as the catalog names it."""
        ...

    @property
    def capabilities(self) -> Capabilities: ...

    def per_request(self, spec: ModelSpec | None, n: int) -> int:
        """Most images one upstream request may ask for; larger n is sent as concurrent requests."""
        ...

    def endpoint(self, images_endpoint: ImageEndpoint) -> str:
        """Where a request for `images_endpoint` goes, as dry runs and confirmations name it."""
        ...

    def refuses_model(self, error: UpstreamError, model: str) -> bool:
        """Whether an edit's error says this API refuses the model itself (then `edit_fallback` may take it)."""
        ...

    async def generate(self, request: ImageRequest) -> ImagesAnswer: ...

    async def edit(self, request: ImageRequest) -> ImagesAnswer: ...


@runtime_checkable
class Varies(Protocol):
    """A backend with the variations endpoint (`Capabilities.makes_variations`): only the Images API."""

    async def vary(self, request: ImageRequest) -> ImagesAnswer:
        """Variations of the request's one input image."""
        ...


NO_IMAGE_DATA = "no image data"
NOT_BASE64 = "not valid base64"


def b64_item(value: object, revised_prompt: str | None = None) -> AnswerItem:
    """One image of an answer from its base64 (a string, or a view of the answer's bytes), decoded on the event
    loop: pybase64 takes about 0.1 ms a megabyte, less than handing the work to a thread and back costs. A value
    that is missing or not base64 is named, not raised, so it cannot cost the other images of the answer."""
    if not isinstance(value, str | memoryview):
        return UnusableItem(NO_IMAGE_DATA)
    try:
        # pybase64 validates as strictly as the standard library and decodes megabytes 20-40x faster (SIMD).
        return ReceivedImage(pybase64.b64decode(value, validate=True), revised_prompt)
    except (binascii.Error, ValueError):
        return UnusableItem(NOT_BASE64)


async def download_item(download: Downloader, url: str, revised_prompt: str | None = None) -> AnswerItem:
    """One image of an answer given as a URL, fetched at once (such URLs expire); a URL that does not download is
    named, not raised."""
    try:
        return ReceivedImage(await download(url), revised_prompt)
    except ImageServerError as exc:
        return UnusableItem(f"its URL was not downloaded ({exc})")


def partial_bytes(value: object) -> bytes | None:
    """A partial image's bytes, or None when the event carries no valid base64."""
    item = b64_item(value)
    return item.data if isinstance(item, ReceivedImage) else None


def partial_index(value: object, received: int) -> int:
    """The event's 0-based index; a missing or malformed one counts as the next after those received."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return received


def reported_cost(usage: Mapping[str, Any] | None) -> float | None:
    """The USD cost a provider reports in its usage (OpenRouter's `usage.cost`) as it states it, or None when it
    states no number. Whether the figure can be right (finite, not negative, not absurd) is judged where the call is
    priced (operations/cost.py); an integer too large for a float is passed on as infinite."""
    cost = usage.get("cost") if usage is not None else None
    if not isinstance(cost, int | float) or isinstance(cost, bool):
        return None
    try:
        return float(cost)
    except OverflowError:
        return math.inf if cost > 0 else -math.inf


def revised(item: dict[str, Any]) -> str | None:
    text = item.get("revised_prompt")
    return text if isinstance(text, str) and text else None


def stream_error(error: object, request_id: str | None) -> UpstreamError:
    if isinstance(error, dict):
        return UpstreamError(
            f"The image stream reported an error: {error.get('message') or error}",
            code=None if error.get("code") is None else str(error["code"]),
            request_id=request_id,
        )
    return UpstreamError(f"The image stream reported an error: {error}", request_id=request_id)


def quoted(text: str, limit: int = 200) -> str:
    """A bit of what a model said, for an error that must show it without flooding the result."""
    flat = " ".join(text.split())
    return f"{flat[:limit]}..." if len(flat) > limit else flat


def sum_usage(usages: Iterable[Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """Add up token counts of several answers (fan-out) or models (Responses), keeping nested detail objects."""
    total: dict[str, Any] | None = None
    for usage in usages:
        if usage is None:
            continue
        total = dict(usage) if total is None else _add(total, usage)
    return total


def _add(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(left)
    for key, value in right.items():
        if isinstance(value, bool) or key not in merged:
            merged.setdefault(key, value)
        elif isinstance(value, int | float) and isinstance(merged[key], int | float):
            merged[key] = merged[key] + value
        elif isinstance(value, Mapping) and isinstance(merged[key], Mapping):
            merged[key] = _add(merged[key], value)
    return merged
