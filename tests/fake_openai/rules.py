"""What the real API refuses, per model, with the error bodies it actually sends."""

from __future__ import annotations

from typing import Any

GPT = (
    "gpt-image-2",
    "gpt-image-2-2026-04-21",
    "gpt-image-1.5",
    "gpt-image-1",
    "gpt-image-1-mini",
    "chatgpt-image-latest",
)
DALL_E = ("dall-e-2", "dall-e-3")
CHAT = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini")
"""Chat models the emulator lists; its chat endpoint answers for any model name."""
GPT_SIZES = ("1024x1024", "1024x1536", "1536x1024", "auto")
SIZES = {"dall-e-2": ("256x256", "512x512", "1024x1024"), "dall-e-3": ("1024x1024", "1792x1024", "1024x1792")}
PROMPT_LIMITS = {"dall-e-2": 1000, "dall-e-3": 4000}


class ApiError(Exception):
    """An answer the real API would give instead of images."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def model_name(raw: Any, default: str) -> str:
    name = str(raw or default)
    return name.removeprefix("openai/")


def _quote_list(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def _invalid(param: str, value: Any, allowed: tuple[str, ...]) -> ApiError:
    return ApiError(
        400,
        f"Invalid value: '{value}'. Supported values are: {_quote_list(allowed)}.",
        param=param,
        code="invalid_value",
    )


def _free_size_ok(size: str) -> bool:
    try:
        width, height = (int(part) for part in size.split("x"))
    except ValueError:
        return False
    return (
        width % 16 == 0
        and height % 16 == 0
        and max(width, height) <= 3 * min(width, height)
        and max(width, height) <= 3840
        and width * height <= 3840 * 2160
    )


def check_image_request(body: dict[str, Any], *, endpoint: str) -> str:
    """Raise ApiError for what the model refuses; return the model's canonical name."""
    model = model_name(body.get("model"), "dall-e-2")
    if model not in GPT + DALL_E:
        raise ApiError(
            400,
            f"Invalid value: '{model}'. Value must be one of the supported image models.",
            param="model",
            code="invalid_value",
        )
    if endpoint == "edits" and model == "dall-e-3":
        raise ApiError(400, "Image edits are not supported for dall-e-3.", param="model", code="invalid_value")
    prompt = str(body.get("prompt", ""))
    limit = PROMPT_LIMITS.get(model, 32000)
    if len(prompt) > limit:
        raise ApiError(
            400,
            f"Invalid 'prompt': string too long. Expected a string with maximum length {limit}, "
            f"but got a string with length {len(prompt)} instead.",
            param="prompt",
            code="string_above_max_length",
        )
    n = int(body.get("n") or 1)
    if model == "dall-e-3" and n != 1:
        raise ApiError(
            400,
            f"Invalid 'n': integer above maximum value. Expected a value <= 1, but got {n} instead.",
            param="n",
            code="integer_above_max_value",
        )
    size = body.get("size")
    if model in GPT:
        if body.get("response_format") is not None:
            raise ApiError(
                400, "Unknown parameter: 'response_format'.", param="response_format", code="unknown_parameter"
            )
        if size is not None and size not in GPT_SIZES and not (model.startswith("gpt-image-2") and _free_size_ok(size)):
            raise _invalid("size", size, GPT_SIZES)
        for param, allowed in (
            ("quality", ("low", "medium", "high", "auto")),
            ("output_format", ("png", "jpeg", "webp")),
            ("background", ("transparent", "opaque", "auto")),
            ("moderation", ("low", "auto")),
        ):
            if body.get(param) is not None and body[param] not in allowed:
                raise _invalid(param, body[param], allowed)
        if body.get("input_fidelity") is not None and model == "gpt-image-1-mini":
            raise ApiError(
                400,
                "input_fidelity is not supported for gpt-image-1-mini.",
                param="input_fidelity",
                code="unsupported_parameter",
            )
        if body.get("background") == "transparent" and body.get("output_format") == "jpeg":
            raise ApiError(
                400,
                "Transparent background is not supported for jpeg output format.",
                param="background",
                code="invalid_value",
            )
    else:
        if size is not None and size not in SIZES[model]:
            raise _invalid("size", size, SIZES[model])
        for param in ("output_format", "output_compression", "background", "moderation", "input_fidelity"):
            if body.get(param) is not None:
                raise ApiError(400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")
        if body.get("style") is not None and (model != "dall-e-3" or body["style"] not in ("vivid", "natural")):
            raise _invalid("style", body["style"], ("vivid", "natural"))
        qualities = ("standard", "hd") if model == "dall-e-3" else ("standard",)
        if body.get("quality") is not None and body["quality"] not in qualities:
            raise _invalid("quality", body["quality"], qualities)
    if "forbidden" in prompt.lower():
        if model in GPT:
            raise ApiError(
                400,
                "Your request was rejected by the safety system. If you believe this is an error, "
                "contact us at help.openai.com and include the request ID.",
                code="moderation_blocked",
                error_type="image_generation_user_error",
            )
        raise ApiError(
            400,
            "Your request was rejected as a result of our safety system. Your prompt may contain "
            "text that is not allowed by our safety system.",
            code="content_policy_violation",
        )
    return model


def output_size(body: dict[str, Any], model: str, first_input: tuple[int, int] | None = None) -> tuple[int, int]:
    size = body.get("size")
    if size in (None, "auto"):
        if first_input is not None and model in GPT:
            width, height = first_input
            return (1536, 1024) if width > height * 1.2 else (1024, 1536) if height > width * 1.2 else (1024, 1024)
        return (1024, 1024)
    width, height = (int(part) for part in str(size).split("x"))
    return width, height
