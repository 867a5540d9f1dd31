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


def vision_body(
    *,
    model: str,
    prompt: str,
    image_urls: Sequence[str],
    detail: str,
    max_tokens: int | None,
    response_format: dict[str, Any] | None,
) -> dict[str, Any]:
    """The request: a text part, then one `image_url` part per image in the order given."""
    content: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
    content += [{"type": "image_url", "image_url": {"url": url, "detail": detail}} for url in image_urls]
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}]}
    if max_tokens is not None:
        body["max_completion_tokens"] = max_tokens
    if response_format is not None:
        body["response_format"] = response_format
    return body


class ChatAPI:
    def __init__(self, client: UpstreamClient) -> None:
        self._client = client

    async def complete(self, body: dict[str, Any]) -> ChatAnswer:
        response = await self._client.post_json("/chat/completions", body)
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
            model=str(response.body.get("model") or body["model"]),
            usage=usage if isinstance(usage, dict) else None,
            request_id=response.request_id,
        )
