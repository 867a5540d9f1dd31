"""The two other APIs that make images: chat-completions image output (as gateways answer it) and the Responses API
with the image_generation tool (with its conversations), computed like the Images API's answers (pictures.py).

Chat image output answers in the shape a test picks (`chat_image_shape`): OpenRouter's `message.images` (the
default), plain `image_url` content parts, a data URL inside the text, or text only. Responses keeps every answer
in memory, so `previous_response_id` continues a conversation (an unknown id answers the real 400); each image's
revised prompt carries the instructions of the whole chain, which is how a test sees that the history was used.
"""

from __future__ import annotations

import base64
import io
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image
from starlette.responses import JSONResponse, Response, StreamingResponse

from .pictures import describe, item_base64, picture
from .rules import ApiError, check_image_request, model_missing, output_size
from .served import VISION_MODELS
from .wire import request_id, split_event

CHAT_IMAGE_MODELS = (
    "gemini-nano-banana-2.1",
    "gemini-3-pro-image",
    "gemini-3.1-flash-lite-image",
    "gemini-3.1-flash-image",
    "gemini-2.5-flash-image",
)
"""Chat models that answer with images; any other model whose name ends in `-image` (a gateway's own,
vLLM-Omni's Qwen/Qwen-Image) does too."""
TIERS = {"1K": 1024, "2K": 2048, "4K": 4096}
VENDORS = ("openai/", "google/", "microsoft/")
TOOL_OPTIONS = ("size", "quality", "background", "output_format", "output_compression", "moderation", "complexity")


class ImageApiState(Protocol):
    photo_like: bool
    item_faults: list[str | None] | None
    chat_image_shape: str
    responses_text_only: bool
    stream_error: bool
    stream_end_early: bool
    conversations: dict[str, Conversation]

    async def pass_holds(self, path: str, partials_sent: int | None = None) -> None: ...

    def remember_sent(self, data: bytes) -> None: ...


@dataclass
class Conversation:
    """One Responses answer: its predecessor, the instruction of its turn, and the image it made."""

    previous: str | None
    instruction: str
    size: tuple[int, int] | None
    instructions: list[str] = field(default_factory=list)
    """Every instruction of the chain up to and including this turn, oldest first."""


def _bare(model: object) -> str:
    name = str(model or "")
    for prefix in VENDORS:
        name = name.removeprefix(prefix)
    return name


def _data_url_bytes(url: object, param: str) -> bytes:
    if not isinstance(url, str) or not url.startswith("data:image/") or ";base64," not in url:
        raise ApiError(
            400, f"Invalid '{param}': expected a base64-encoded data URL.", param=param, code="invalid_value"
        )
    try:
        return base64.b64decode(url.split(",", 1)[1], validate=True)
    except ValueError as exc:
        raise ApiError(400, "Invalid base64 image data.", param=param, code="invalid_image_format") from exc


def _size_of(data: bytes, param: str) -> tuple[int, int]:
    try:
        width, height, _, _ = describe(data)
    except Exception as exc:
        raise ApiError(
            400,
            "The image data you provided does not represent a valid image.",
            param=param,
            code="invalid_image_format",
        ) from exc
    return width, height


# --- chat completions with image output ---------------------------------------------------------------------------


def wants_images(body: dict[str, Any]) -> bool:
    return "image" in (body.get("modalities") or [])


def _config_size(config: dict[str, Any]) -> tuple[int, int]:
    ratio = str(config.get("aspect_ratio") or "1:1")
    across, down = (int(part) for part in ratio.split(":"))
    long_side = TIERS[str(config.get("image_size") or "1K")]
    scale = long_side / max(across, down)
    return round(across * scale / 8) * 8, round(down * scale / 8) * 8


def _chat_prompt(body: dict[str, Any]) -> tuple[str, list[bytes]]:
    text: list[str] = []
    images: list[bytes] = []
    for message in body.get("messages", []):
        content = message.get("content")
        parts: list[dict[str, Any]] = (
            content if isinstance(content, list) else [{"type": "text", "text": str(content or "")}]
        )
        for part in parts:
            if part.get("type") == "text":
                text.append(str(part.get("text", "")))
            elif part.get("type") == "image_url":
                images.append(_data_url_bytes(part["image_url"].get("url"), "messages"))
    return "\n".join(text), images


def chat_image(
    state: ImageApiState, body: dict[str, Any], *, image_format: str = "png", cost: float | None = None
) -> Response:
    """A chat completion with an image, in the shape the test chose; streamed as chunks when asked. `image_format`
    is what the provider answers whatever was asked (Gemini: JPEG), `cost` the USD its usage states (OpenRouter)."""
    model = _bare(body.get("model"))
    if model not in CHAT_IMAGE_MODELS and not model.lower().endswith("-image"):
        raise ApiError(400, f"Model {model} does not support image output.", param="modalities", code="invalid_value")
    prompt, inputs = _chat_prompt(body)
    if isinstance(body.get("image_config"), dict):
        width, height = _config_size(body["image_config"])
    else:
        width, height = _size_of(inputs[0], "messages") if inputs else (1024, 1024)
    data = picture(width, height, output_format=image_format, photo=state.photo_like, seed=body.get("seed"))
    state.remember_sent(data)
    said = f"Here is the picture: {prompt.splitlines()[0][:60] if prompt else 'as asked'}."
    if state.item_faults is None:
        url = f"data:image/{image_format};base64,{item_base64(None, data)}"
        message = _chat_message(state.chat_image_shape, said, url)
    else:  # several images in one answer, some of them bad, in OpenRouter's `images` shape
        parts = [_image_part(fault, data) for fault in state.item_faults]
        message = {"role": "assistant", "content": said, "images": parts}
    usage: dict[str, Any] = {
        "prompt_tokens": 20 + 258 * len(inputs),
        "completion_tokens": 1290,
        "total_tokens": 1310 + 258 * len(inputs),
    }
    if cost is not None:
        usage["cost"] = cost
    headers = {"x-request-id": request_id()}
    if body.get("stream") is True:
        return StreamingResponse(
            _chat_chunks(state, body, message, usage), media_type="text/event-stream", headers=headers
        )
    completion = {
        "id": f"chatcmpl-{secrets.token_hex(8)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        "usage": usage,
    }
    return JSONResponse(completion, headers=headers)


def _image_part(fault: str | None, data: bytes) -> dict[str, Any]:
    encoded = item_base64(fault, data)
    return {"type": "image_url", "image_url": {} if encoded is None else {"url": f"data:image/png;base64,{encoded}"}}


def _chat_message(shape: str, said: str, url: str) -> dict[str, Any]:
    image_part = {"type": "image_url", "image_url": {"url": url}}
    if shape == "content":
        return {"role": "assistant", "content": [{"type": "text", "text": said}, image_part]}
    if shape == "text":
        return {"role": "assistant", "content": f"{said}\n![picture]({url})"}
    if shape == "text_only":
        return {"role": "assistant", "content": "I cannot draw pictures, but I can describe one: a calm lake at dawn."}
    return {"role": "assistant", "content": said, "images": [image_part]}


async def _chat_chunks(
    state: ImageApiState, body: dict[str, Any], message: dict[str, Any], usage: dict[str, Any]
) -> AsyncIterator[bytes]:
    """OpenRouter's stream: text deltas, then `delta.images`, then the usage and `[DONE]`."""
    base = {
        "id": f"chatcmpl-{secrets.token_hex(8)}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model"),
    }
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    content = message.get("content")
    if isinstance(content, str):
        deltas.append({"content": content})
    await state.pass_holds("/chat/completions", 0)
    if message.get("images"):
        deltas.append({"images": message["images"]})
    for delta in deltas:
        chunk = base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        async for piece in split_event(None, chunk):
            yield piece
    final = base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}
    async for piece in split_event(None, final):
        yield piece
    async for piece in split_event(None, "[DONE]"):
        yield piece


# --- the Responses API with the image_generation tool ---------------------------------------------------------------


def _tool(body: dict[str, Any]) -> dict[str, Any] | None:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") == "image_generation"]
    return tools[0] if tools else None


def _responses_input(body: dict[str, Any]) -> tuple[str, list[bytes]]:
    raw = body.get("input")
    if isinstance(raw, str):
        return raw, []
    text, images = [], []
    for message in raw if isinstance(raw, list) else []:
        content = message.get("content")
        for part in content if isinstance(content, list) else [{"type": "input_text", "text": str(content or "")}]:
            if part.get("type") == "input_text":
                text.append(str(part.get("text", "")))
            elif part.get("type") == "input_image":
                images.append(_data_url_bytes(part.get("image_url"), "input"))
    return "\n".join(text), images


def _previous(state: ImageApiState, body: dict[str, Any]) -> Conversation | None:
    previous = body.get("previous_response_id")
    if previous is None:
        return None
    if previous not in state.conversations:
        raise ApiError(
            400,
            f"Previous response with id '{previous}' not found.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    return state.conversations[previous]


def _check_mask(tool: dict[str, Any], first: tuple[int, int] | None) -> None:
    mask = tool.get("input_image_mask")
    if mask is None:
        return
    data = _data_url_bytes(mask.get("image_url"), "tools[0].input_image_mask")
    if first is None:
        raise ApiError(
            400, "input_image_mask needs an image to edit.", param="tools[0].input_image_mask", code="invalid_value"
        )
    with Image.open(io.BytesIO(data)) as image:
        if image.format != "PNG" or "A" not in image.getbands() or image.size != first:
            raise ApiError(
                400,
                "Invalid mask image: it must be a PNG with an alpha channel, the size of the image.",
                param="tools[0].input_image_mask",
                code="invalid_image",
            )


def respond(state: ImageApiState, body: dict[str, Any]) -> Response:
    """POST /v1/responses: the mainline model calls the image tool (unless `responses_text_only`)."""
    mainline = _bare(body.get("model"))
    if mainline not in VISION_MODELS:
        raise model_missing(mainline)
    previous = _previous(state, body)
    prompt, inputs = _responses_input(body)
    tool = _tool(body)
    first = _size_of(inputs[0], "input") if inputs else previous.size if previous else None
    instructions = [*(previous.instructions if previous else []), prompt]
    output: list[dict[str, Any]] = []
    image_usage = None
    size = None
    if tool is not None and not state.responses_text_only:
        image_model = check_image_request(
            {"model": tool.get("model"), "prompt": prompt} | {k: tool[k] for k in TOOL_OPTIONS if k in tool},
            endpoint="edits" if first else "generations",
        )
        _check_mask(tool, first)
        size = output_size({"size": tool.get("size")}, image_model, first)
        for fault in state.item_faults or [None]:
            output.append(_image_call(state, tool, image_model, size, instructions, fault))
        image_usage = _image_usage(prompt, len(inputs) + (1 if previous else 0))
    said = "Here is the image." if output else "I would rather describe it: a calm lake at dawn."
    output.append(
        {
            "type": "message",
            "id": f"msg_{secrets.token_hex(8)}",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": said, "annotations": []}],
        }
    )
    response_id = f"resp_{secrets.token_hex(12)}"
    state.conversations[response_id] = Conversation(body.get("previous_response_id"), prompt, size, instructions)
    response = {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": body.get("model"),
        "previous_response_id": body.get("previous_response_id"),
        "output": output,
        "usage": _mainline_usage(instructions),
    }
    if image_usage is not None:
        response["tool_usage"] = {"image_gen": image_usage}
    headers = {"x-request-id": request_id()}
    if body.get("stream") is True:
        partials = int(tool.get("partial_images") or 0) if tool else 0
        return StreamingResponse(
            _response_events(state, response, partials), media_type="text/event-stream", headers=headers
        )
    return JSONResponse(response, headers=headers)


def _image_call(
    state: ImageApiState,
    tool: dict[str, Any],
    model: str,
    size: tuple[int, int],
    instructions: list[str],
    fault: str | None,
) -> dict[str, Any]:
    output_format = str(tool.get("output_format") or "png")
    transparent = tool.get("background") == "transparent"
    data = picture(*size, output_format=output_format, transparent=transparent, photo=state.photo_like)
    state.remember_sent(data)
    result = item_base64(fault, data)
    return {
        "type": "image_generation_call",
        "id": f"ig_{secrets.token_hex(8)}",
        "status": "failed" if result is None else "completed",
        **({} if result is None else {"result": result}),
        "revised_prompt": "; then ".join(instructions),
        "size": f"{size[0]}x{size[1]}",
        "output_format": output_format,
        "quality": tool.get("quality") or "medium",
        "background": "transparent" if transparent else "opaque",
        "model": model,
    }


def _mainline_usage(instructions: list[str]) -> dict[str, Any]:
    """Grows with the conversation: every turn reads the whole history again."""
    input_tokens = 50 * len(instructions) + sum(len(text) // 4 for text in instructions)
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 40,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + 40,
    }


def _image_usage(prompt: str, image_count: int) -> dict[str, Any]:
    text_tokens, image_tokens = max(1, len(prompt) // 4), 323 * image_count
    return {
        "input_tokens": text_tokens + image_tokens,
        "output_tokens": 4160,
        "total_tokens": text_tokens + image_tokens + 4160,
        "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
    }


async def _response_events(state: ImageApiState, response: dict[str, Any], partials: int) -> AsyncIterator[bytes]:
    """response.created, partial images of the image call, then response.completed with the whole response."""
    sequence = iter(range(1_000_000))
    created = {
        "type": "response.created",
        "sequence_number": next(sequence),
        "response": response | {"status": "in_progress", "output": []},
    }
    async for piece in split_event("response.created", created):
        yield piece
    call = next((item for item in response["output"] if item["type"] == "image_generation_call"), None)
    if call is not None:
        width, height = (int(v) for v in call["size"].split("x"))
        for index in range(partials):
            await state.pass_holds("/responses", index)
            event = {
                "type": "response.image_generation_call.partial_image",
                "output_index": 0,
                "item_id": call["id"],
                "sequence_number": next(sequence),
                "partial_image_index": index,
                "partial_image_b64": base64.b64encode(picture(width, height)).decode(),
            }
            async for piece in split_event(event["type"], event):
                yield piece
    await state.pass_holds("/responses", partials)
    if state.stream_end_early:
        return
    if state.stream_error:
        error = {
            "type": "error",
            "sequence_number": next(sequence),
            "code": "server_error",
            "message": "Image generation failed midway.",
            "param": None,
        }
        async for piece in split_event("error", error):
            yield piece
        return
    done = {"type": "response.completed", "sequence_number": next(sequence), "response": response}
    async for piece in split_event("response.completed", done):
        yield piece
