"""What the real API refuses, per model, with the error bodies it actually sends (as of November 2026).

The table is the emulator's own reading of the API (shared/reference/openai-images-api.md and models-2026-11.md),
written independently of the server's catalog so that the two can disagree and a test notices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GPT_SIZES = ("1024x1024", "1024x1536", "1536x1024", "auto")
GPT_QUALITIES = ("low", "medium", "high", "auto")
NEW_QUALITIES = (*GPT_QUALITIES, "xhigh", "max")
RASTER = ("png", "jpeg", "webp")
ALL_BACKGROUNDS = ("transparent", "opaque", "auto")


@dataclass(frozen=True)
class ImageModel:
    """What one image model takes on the Images API, and its shutdown date on OpenAI if one is announced."""

    gpt: bool = True
    sizes: tuple[str, ...] = GPT_SIZES
    free_size: bool = False
    qualities: tuple[str, ...] = GPT_QUALITIES
    formats: tuple[str, ...] = RASTER
    edit_formats: tuple[str, ...] = RASTER
    backgrounds: tuple[str, ...] = ALL_BACKGROUNDS
    complexity: bool = False
    seed: bool = False
    extras: tuple[str, ...] = ()
    """Fields beyond OpenAI's a local server's model takes (`num_inference_steps`, `step`, `negative_prompt`)."""
    input_fidelity: bool = True
    edits: bool = True
    prompt_limit: int = 32000
    max_n: int = 10
    shutdown: str | None = None
    retired: bool = False
    """Shut down on OpenAI: answers model_not_found unless the emulator plays a gateway that still serves it."""
    on_openai: bool = True
    """Served by OpenAI (and in its model list); False: a local server's model, served when a test lists it."""


_GPT_IMAGE_2 = ImageModel(free_size=True, backgrounds=("opaque", "auto"))
_GPT_IMAGE_25 = ImageModel(free_size=True, qualities=NEW_QUALITIES)
_GPT_IMAGE_26 = ImageModel(
    free_size=True, qualities=NEW_QUALITIES, complexity=True, formats=(*RASTER, "gif", "svg"), edit_formats=RASTER
)
_GPT_IMAGE_1X = ImageModel(shutdown="2026-12-01")

MODELS: dict[str, ImageModel] = {
    "gpt-image-2.6-flare": _GPT_IMAGE_26,
    "gpt-image-2.6-sunburst": _GPT_IMAGE_26,
    "gpt-image-2.5-flare": _GPT_IMAGE_25,
    "gpt-image-2.5-flare-2026-09-08": _GPT_IMAGE_25,
    "gpt-image-2.5-sunburst": _GPT_IMAGE_25,
    "gpt-image-2.5-sunburst-2026-09-08": _GPT_IMAGE_25,
    "gpt-image-2": _GPT_IMAGE_2,
    "gpt-image-2-2026-04-21": _GPT_IMAGE_2,
    "gpt-image-1.5": _GPT_IMAGE_1X,
    "gpt-image-1.5-2025-12-16": _GPT_IMAGE_1X,
    "gpt-image-1-mini": ImageModel(shutdown="2026-12-01", input_fidelity=False),
    "chatgpt-image-latest": _GPT_IMAGE_1X,
    "gpt-image-1": ImageModel(shutdown="2026-10-23", retired=True),
    "dall-e-3": ImageModel(
        gpt=False,
        sizes=("1024x1024", "1792x1024", "1024x1792"),
        qualities=("standard", "hd"),
        formats=(),
        edit_formats=(),
        backgrounds=(),
        input_fidelity=False,
        edits=False,
        prompt_limit=4000,
        max_n=1,
        shutdown="2026-05-12",
        retired=True,
    ),
    "dall-e-2": ImageModel(
        gpt=False,
        sizes=("256x256", "512x512", "1024x1024"),
        qualities=("standard",),
        formats=(),
        edit_formats=(),
        backgrounds=(),
        input_fidelity=False,
        prompt_limit=1000,
        shutdown="2026-05-12",
        retired=True,
    ),
    # A local server's diffusion model on its Images API (vLLM-Omni takes `seed` there; world-2026-12.md, "Providers
    # a user may point the server at"): answers b64_json like the GPT image models, takes no OpenAI choices.
    "local-diffusion": ImageModel(
        sizes=("512x512", "1024x1024"),
        qualities=(),
        formats=("png",),
        edit_formats=("png",),
        backgrounds=(),
        seed=True,
        input_fidelity=False,
        on_openai=False,
    ),
    # The local servers' models the emulator serves (world-2026-12.md, "Providers a user may point the server at"):
    # Ollama's experimental image generation (one image per request, no edits), vLLM-Omni's (seed,
    # num_inference_steps), LocalAI's stable-diffusion backend (step, negative_prompt).
    "x/z-image-turbo": ImageModel(
        sizes=("512x512", "1024x1024", "1024x768", "768x1024"),
        qualities=(),
        formats=("png",),
        backgrounds=(),
        input_fidelity=False,
        edits=False,
        max_n=1,
        on_openai=False,
    ),
    "Qwen/Qwen-Image": ImageModel(
        sizes=("512x512", "1024x1024", "1536x1024", "1024x1536"),
        qualities=(),
        formats=("png",),
        edit_formats=("png",),
        backgrounds=(),
        seed=True,
        extras=("num_inference_steps",),
        input_fidelity=False,
        on_openai=False,
    ),
    "stablediffusion": ImageModel(
        sizes=("256x256", "512x512", "768x768"),
        qualities=(),
        formats=("png",),
        backgrounds=(),
        seed=True,
        extras=("step", "negative_prompt"),
        input_fidelity=False,
        edits=False,
        on_openai=False,
    ),
}
GPT = tuple(name for name, spec in MODELS.items() if spec.gpt)
LOCAL_EXTRAS = ("num_inference_steps", "step", "negative_prompt")


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


def model_gone(model: str) -> ApiError:
    """How a shut-down model answers (format quoted by migration guides); there is no automatic fallback."""
    return ApiError(404, f"The model `{model}` has been deprecated", code="model_not_found")


def model_missing(model: str) -> ApiError:
    return ApiError(404, f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found")


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


def _unknown(param: str) -> ApiError:
    return ApiError(400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


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
        and 655_360 <= width * height <= 3840 * 2160
    )


def check_image_request(body: dict[str, Any], *, endpoint: str) -> str:
    """Raise ApiError for what the model refuses; return the model's canonical name."""
    model = model_name(body.get("model"), "dall-e-2")
    spec = MODELS.get(model)
    if spec is None:
        raise ApiError(
            400,
            f"Invalid value: '{model}'. Value must be one of the supported image models.",
            param="model",
            code="invalid_value",
        )
    if endpoint == "edits" and not spec.edits:
        raise ApiError(400, f"Image edits are not supported for {model}.", param="model", code="invalid_value")
    prompt = str(body.get("prompt", ""))
    if len(prompt) > spec.prompt_limit:
        raise ApiError(
            400,
            f"Invalid 'prompt': string too long. Expected a string with maximum length {spec.prompt_limit}, "
            f"but got a string with length {len(prompt)} instead.",
            param="prompt",
            code="string_above_max_length",
        )
    n = int(body.get("n") or 1)
    if n > spec.max_n:
        raise ApiError(
            400,
            f"Invalid 'n': integer above maximum value. Expected a value <= {spec.max_n}, but got {n} instead.",
            param="n",
            code="integer_above_max_value",
        )
    size = body.get("size")
    if size is not None and size not in spec.sizes and not (spec.free_size and _free_size_ok(size)):
        raise _invalid("size", size, spec.sizes)
    if spec.gpt:
        _check_gpt(body, spec, endpoint)
    else:
        _check_dall_e(body, model)
    _check_prompt(prompt, spec)
    return model


def _check_gpt(body: dict[str, Any], spec: ImageModel, endpoint: str) -> None:
    if body.get("response_format") is not None:
        raise _unknown("response_format")
    if body.get("complexity") is not None and not spec.complexity:
        raise _unknown("complexity")
    if body.get("seed") is not None and not spec.seed:
        raise _unknown("seed")
    for extra in LOCAL_EXTRAS:
        if body.get(extra) is not None and extra not in spec.extras:
            raise _unknown(extra)
    formats = spec.edit_formats if endpoint == "edits" else spec.formats
    for param, allowed in (
        ("quality", spec.qualities),
        ("output_format", formats),
        ("background", spec.backgrounds),
        ("moderation", ("low", "auto")),
        ("complexity", ("low", "medium", "high")),
    ):
        if body.get(param) is not None and body[param] not in allowed:
            raise _invalid(param, body[param], allowed)
    if body.get("input_fidelity") is not None and not spec.input_fidelity:
        raise ApiError(
            400,
            f"input_fidelity is not supported for {body.get('model')}.",
            param="input_fidelity",
            code="unsupported_parameter",
        )
    if body.get("background") == "transparent" and body.get("output_format") not in (None, "png", "webp"):
        raise ApiError(
            400,
            f"Transparent background is not supported for {body.get('output_format')} output format.",
            param="background",
            code="invalid_value",
        )


def _check_dall_e(body: dict[str, Any], model: str) -> None:
    for param in (
        *("output_format", "output_compression", "background", "moderation", "input_fidelity", "complexity"),
        *("seed", *LOCAL_EXTRAS),
    ):
        if body.get(param) is not None:
            raise _unknown(param)
    if body.get("style") is not None and (model != "dall-e-3" or body["style"] not in ("vivid", "natural")):
        raise _invalid("style", body["style"], ("vivid", "natural"))
    qualities = MODELS[model].qualities
    if body.get("quality") is not None and body["quality"] not in qualities:
        raise _invalid("quality", body["quality"], qualities)


def _check_prompt(prompt: str, spec: ImageModel) -> None:
    if "forbidden" not in prompt.lower():
        return
    if spec.gpt:
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


def output_size(body: dict[str, Any], model: str, first_input: tuple[int, int] | None = None) -> tuple[int, int]:
    size = body.get("size")
    if size in (None, "auto"):
        if first_input is not None and model in GPT:
            width, height = first_input
            return (1536, 1024) if width > height * 1.2 else (1024, 1536) if height > width * 1.2 else (1024, 1024)
        return (1024, 1024)
    width, height = (int(part) for part in str(size).split("x"))
    return width, height
