"""Chat Completions on the wire, for vision: one user message with text and image parts in, text out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .client import UpstreamClient
from .errors import UpstreamError


@dataclass(frozen=True)
class ChatAnswer:
    text: str
    model: str
    usage: dict[str, Any] | None
    request_id: str | None


@dataclass(frozen=True)
class VisionRequest:
    """A question about images, in the operation's terms; the wire form is built here."""

    model: str
    prompt: str
    image_urls: Sequence[str]
    """http(s) URLs or data URLs, in the order the prompt refers to them."""
    detail: str
    max_tokens: int | None = None
    schema: dict[str, Any] | None = None
    """A JSON Schema for structured output."""
    strict: bool = False
    """Whether the schema qualifies for strict structured outputs."""


SCHEMA_NAME = "response"


def vision_body(request: VisionRequest) -> dict[str, Any]:
    """The request: a text part, then one `image_url` part per image in the order given."""
    content: list[dict[str, Any]] = [{"type": "text", "text": request.prompt}]
    content += [
        {"type": "image_url", "image_url": {"url": url, "detail": request.detail}} for url in request.image_urls
    ]
    body: dict[str, Any] = {"model": request.model, "messages": [{"role": "user", "content": content}]}
    if request.max_tokens is not None:
        body["max_completion_tokens"] = request.max_tokens
    if request.schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "schema": request.schema, "strict": request.strict},
        }
    return body


class ChatAPI:
    def __init__(self, client: UpstreamClient) -> None:
        self._client = client

    async def describe(self, request: VisionRequest) -> ChatAnswer:
        response = await self._client.post_json("/chat/completions", vision_body(request))
        choices = response.body.get("choices")
        message = (
            choices[0].get("message")
            if isinstance(choices, list) and choices and isinstance(choices[0], dict)
            else None
        )
        if not isinstance(message, dict):
            raise UpstreamError("The chat API answered without a message.", request_id=response.request_id)
        if message.get("refusal"):
            raise UpstreamError(f"The model refused: {message['refusal']}", request_id=response.request_id)
        text = message.get("content")
        if not isinstance(text, str):
            raise UpstreamError("The chat API answered with an empty message.", request_id=response.request_id)
        usage = response.body.get("usage")
        return ChatAnswer(
            text=text,
            model=str(response.body.get("model") or request.model),
            usage=usage if isinstance(usage, dict) else None,
            request_id=response.request_id,
        )
