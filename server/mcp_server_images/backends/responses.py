"""The Responses API with the `image_generation` tool: a mainline model calls a GPT image model for us.

It costs one mainline-model call on top of the image, and buys a conversation: every answer has an id, and an edit
of an image made here continues from it with `previous_response_id`, so "now add a canoe" sees the whole
exchange. Other images go up as `input_image` parts; a mask goes as the tool's `input_image_mask`. Partial images
stream as `response.image_generation_call.partial_image`. The mainline model's usage and the image model's
(`tool_usage.image_gen`, where the provider reports it) are kept apart, each with its model.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import replace
from typing import Any

from ..catalog.spec import Api, ImageEndpoint, ModelSpec
from .base import (
    Capabilities,
    ImageRequest,
    ImagesAnswer,
    PartialHandler,
    StreamEndedEarlyError,
    Upload,
    UsagePart,
    b64_item,
    partial_bytes,
    partial_index,
    quoted,
    revised,
    stream_error,
    sum_usage,
)
from .client import UpstreamClient
from .errors import ConnectionBrokenError, UpstreamError

log = logging.getLogger(__name__)

PATH = "/responses"
UNKNOWN_CONVERSATION = "previous_response_not_found"
CAPABILITIES = Capabilities(
    via="the responses API",
    takes_masks=True,
    continues_conversations=True,
    unestimated="the mainline model's tokens (one call per request), which are not estimated",
)


def tool(request: ImageRequest) -> dict[str, Any]:
    """The image_generation tool with the image model and the user's options."""
    spec: dict[str, Any] = {"type": "image_generation", "model": request.model}
    spec |= request.options.sent(Api.RESPONSES)
    if request.streamed is not None:
        spec["partial_images"] = request.streamed.count
    if request.mask is not None:
        spec["input_image_mask"] = {"image_url": Upload(request.mask, "image/png").data_url()}
    return spec


def responses_body(request: ImageRequest, mainline: str, previous: str | None) -> dict[str, Any]:
    """The request: the prompt (with the images not already in the conversation), the tool, forced to be used."""
    uploads = request.inputs[1:] if previous is not None else request.inputs
    body: dict[str, Any] = {
        "model": mainline,
        "input": _input(request.prompt or "", uploads),
        "tools": [tool(request)],
        "tool_choice": {"type": "image_generation"},
    }
    if previous is not None:
        body["previous_response_id"] = previous
    if request.streamed is not None:
        body["stream"] = True
    return body


def _input(prompt: str, uploads: Sequence[Upload]) -> str | list[dict[str, Any]]:
    if not uploads:
        return prompt
    content: list[dict[str, Any]] = [{"type": "input_text", "text": prompt}]
    content += [{"type": "input_image", "image_url": upload.data_url(), "detail": "auto"} for upload in uploads]
    return [{"role": "user", "content": content}]


class ResponsesAPI:
    """POST /responses with the image_generation tool, through `mainline` (a chat model, in the provider's
    spelling); one image per request."""

    def __init__(self, client: UpstreamClient, mainline: str) -> None:
        self._client = client
        self.mainline = mainline

    @property
    def api(self) -> Api:
        return Api.RESPONSES

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
        return await self._send(request, None)

    async def edit(self, request: ImageRequest) -> ImagesAnswer:
        """Continue the conversation of the first image when it has one; a conversation the provider no longer
        keeps is started afresh with the image sent again."""
        previous = request.inputs[0].response_id if request.inputs else None
        if previous is None:
            return await self._send(request, None)
        try:
            return await self._send(request, previous)
        except UpstreamError as exc:
            if exc.code != UNKNOWN_CONVERSATION and exc.param != "previous_response_id":
                raise
            log.info("conversation %s is gone (%s); sending the image again", previous, exc.message)
            answer = await self._send(request, None)
            note = f"The provider no longer keeps conversation {previous}, so the image was sent again without it."
            return replace(answer, notes=(*answer.notes, note))

    async def _send(self, request: ImageRequest, previous: str | None) -> ImagesAnswer:
        body = responses_body(request, self.mainline, previous)
        try:
            if request.streamed is None:
                response = await self._client.post_json(PATH, body)
                answer = await self._answer(request, response.body, response.request_id)
            else:
                answer = await self._collect(request, self._client.stream_json(PATH, body), request.streamed.handler)
        except UpstreamError as exc:
            missing = self._mainline_missing(exc)
            if missing is None:
                raise
            raise missing from exc
        conversation = f"continuing conversation {previous}" if previous else "a new conversation"
        note = f"Made through the Responses API: {self.mainline} called the image_generation tool ({conversation})."
        return replace(answer, notes=(note, *answer.notes))

    def _mainline_missing(self, error: UpstreamError) -> UpstreamError | None:
        """A model_not_found about the mainline model, told as such: it is not the image model that is gone."""
        bare = self.mainline.rsplit("/", 1)[-1]
        if error.code != "model_not_found" or bare not in error.message:
            return None
        return UpstreamError(
            f"The Responses API's mainline model {self.mainline} is not served here ({error.message}); set "
            "MCP_IMAGES_RESPONSES_MODEL (--responses-model) to a chat model this provider serves.",
            status=error.status,
            code="mainline_model_not_found",
            request_id=error.request_id,
        )

    async def _answer(self, request: ImageRequest, body: dict[str, Any], request_id: str | None) -> ImagesAnswer:
        """The image_generation_call items' images, the mainline model's text, and both models' usage."""
        error = body.get("error")
        if body.get("status") == "failed" or isinstance(error, dict):
            raise stream_error(error or "the response failed", request_id)
        output = [item for item in _list(body.get("output")) if isinstance(item, dict)]
        calls = [item for item in output if item.get("type") == "image_generation_call"]
        items = [b64_item(item.get("result"), revised(item)) for item in calls]
        said = _text(output)
        if not calls:
            what = f'the mainline model said: "{quoted(said)}"' if said else "and no text either"
            raise UpstreamError(
                f"The Responses API answered without an image ({what}). Nothing was stored; try again, or ask "
                "for the image more directly.",
                request_id=request_id,
            )
        parts = _usage_parts(body, self.mainline, request.model)
        response_id = body.get("id") if isinstance(body.get("id"), str) else None
        return ImagesAnswer(
            items,
            sum_usage(part.usage for part in parts),
            request_id,
            text=said,
            response_id=response_id,
            usage_parts=parts,
        )

    async def _collect(
        self, request: ImageRequest, events: AsyncGenerator[dict[str, Any]], on_partial: PartialHandler
    ) -> ImagesAnswer:
        """Partial images as progress until `response.completed` carries the whole response."""
        request_id, last_partial, received = None, None, 0
        try:
            async with aclosing(events):
                async for event in events:
                    request_id = event.get("request_id")
                    kind = str(event.get("type", ""))
                    if kind == "error" or event.get("error"):
                        raise stream_error(event.get("error") or event, request_id)
                    if kind in ("response", "response.completed", "response.failed"):
                        answer = await self._answer(request, event.get("response") or {}, request_id)
                        return replace(answer, partials=received)
                    if kind.endswith("image_generation_call.partial_image"):
                        data = partial_bytes(event.get("partial_image_b64"))
                        if data is None:
                            continue
                        last_partial = data
                        await on_partial(partial_index(event.get("partial_image_index"), received), data)
                        received += 1
        except ConnectionBrokenError as exc:
            if last_partial is None:
                raise
            raise StreamEndedEarlyError(exc.message, partial=last_partial, request_id=request_id) from exc
        raise StreamEndedEarlyError(
            "The Responses stream ended before the response was completed.", partial=last_partial, request_id=request_id
        )


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(output: list[dict[str, Any]]) -> str | None:
    """The mainline model's words beside the image (its `output_text` parts)."""
    pieces = [
        part["text"]
        for item in output
        if item.get("type") == "message"
        for part in _list(item.get("content"))
        if isinstance(part, dict) and part.get("type") == "output_text" and isinstance(part.get("text"), str)
    ]
    return "\n".join(pieces).strip() or None


def _usage_parts(body: dict[str, Any], mainline: str, image_model: str) -> tuple[UsagePart, ...]:
    """The mainline model's usage, and the image model's where the provider reports it apart."""
    parts = []
    usage = body.get("usage")
    if isinstance(usage, dict):
        parts.append(UsagePart(str(body.get("model") or mainline), usage))
    tool_usage = body.get("tool_usage")
    image = tool_usage.get("image_gen") if isinstance(tool_usage, dict) else None
    if isinstance(image, dict):
        parts.append(UsagePart(image_model, image))
    return tuple(parts)
