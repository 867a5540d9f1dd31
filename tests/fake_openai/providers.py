"""The providers the emulator plays besides OpenAI, each under a prefix of its own and with its documented wire
shape (shared/reference/world-2026-12.md, "Providers a user may point the server at"):

- azure (`/azure`, the resource endpoint): `/openai/deployments/{deployment}/images/generations?api-version=...`,
  edits and chat likewise, and the newer `/openai/v1/...` paths with the deployment as model; the key in an
  `api-key` header, or an Entra ID token as `Authorization: Bearer` (docs.openclaw.ai providers/openai/azure and
  microsoft-foundry; learn.microsoft.com Foundry docs). A deployment stands for a model (`azure_deployments`).
- gemini (`/gemini/v1beta/openai`): Chat Completions with image output and vision, and the model list, with a
  Bearer key; its image answers are JPEG whatever output_format says (Gemini API changelog).
- xai (`/xai/v1`): `/images/generations` (JSON) and `/images/edits` (multipart, at most 3 references, no mask) with
  `aspect_ratio` and `resolution` instead of `size`, `quality` low or medium, temporary URLs unless asked for
  `b64_json` (docs.x.ai image generation; docs.comfy.org GrokImageEditNodeV2).
- openrouter (`/openrouter/api/v1`): Chat Completions with image output, its Image API `POST /images` (JSON, images
  to edit as `input_references`) and `GET /images/models` (capabilities per model); answers state their cost
  (openrouter.ai docs; the fields as the typed SDK realmorrisliu/openrouter-rs src/api/images.rs reads them).
- ollama, vllm-omni, localai (`/ollama/v1`, ...): no key; Ollama makes one image per request and no edits,
  vLLM-Omni takes `seed` and `num_inference_steps` and edits, LocalAI takes `step` and `negative_prompt` and answers
  with URLs on its own host (Ollama OpenAI compatibility docs; docs.vllm.ai vllm-omni; localai.io).

Each checks its key its own way and its requests against its own contract schema (the overlay's copies of
OpenAI's with what the provider adds), so a provider's field sent to another provider breaks the contract.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from typing import Any, Protocol

from .pictures import describe, item_base64, item_bytes, picture
from .rules import ApiError, model_missing


@dataclass(frozen=True)
class Played:
    """One provider the emulator plays."""

    name: str
    base: str
    """The base URL's path on the emulator (what a server is configured with, after the origin)."""
    key: str | None
    """The key it expects; None: a local server that takes none."""
    served: tuple[str, ...]
    """The models it serves and lists (for azure: the deployments, each named like the model it serves)."""
    operations: dict[str, str | None]
    """Operation -> the contract schema its requests are checked against (None: a GET)."""
    url_answers: bool = False
    """Images API answers are URLs on its own host unless asked for b64_json."""


PLAYED = {
    played.name: played
    for played in (
        Played(
            "azure",
            "/azure",
            "azure-test-key-5f0c2b7d9e1a",
            ("gpt-image-2.6-flare", "gpt-image-1.5", "gpt-6-luna"),
            {
                "images/generations": "CreateImageRequest",
                "images/edits": "CreateImageEditRequest",
                "chat/completions": "CreateChatCompletionRequest",
                "responses": "CreateResponse",
                "models": None,
            },
        ),
        Played(
            "gemini",
            "/gemini/v1beta/openai",
            "gemini-test-key-8c3e1f0a",
            ("gemini-nano-banana-2.1", "gemini-3-pro-image", "gemini-3-flash"),
            {"chat/completions": "CreateChatCompletionRequest", "models": None},
        ),
        Played(
            "xai",
            "/xai/v1",
            "xai-test-key-2d7b9c4e",
            ("grok-imagine-image-2.0", "grok-4"),
            {
                "images/generations": "XaiImageRequest",
                "images/edits": "XaiImageEditRequest",
                "chat/completions": "CreateChatCompletionRequest",
                "models": None,
            },
            url_answers=True,
        ),
        Played(
            "openrouter",
            "/openrouter/api/v1",
            "sk-or-test-key-6a1d3e9f",
            (
                "openai/gpt-image-2.6-flare",
                "google/gemini-nano-banana-2.1",
                "microsoft/mai-image-2.7",
                "bytedance-seed/seedream-4.5",
                "openai/gpt-6-luna",
            ),
            {
                "images": "OpenRouterImageRequest",
                "images/models": None,
                "chat/completions": "CreateChatCompletionRequest",
                "models": None,
            },
        ),
        Played(
            "ollama",
            "/ollama/v1",
            None,
            ("x/z-image-turbo", "llava"),
            {
                "images/generations": "LocalImageRequest",
                "chat/completions": "CreateChatCompletionRequest",
                "models": None,
            },
        ),
        Played(
            "vllm-omni",
            "/vllm-omni/v1",
            None,
            ("Qwen/Qwen-Image",),
            {
                "images/generations": "LocalImageRequest",
                "images/edits": "LocalImageEditRequest",
                "chat/completions": "CreateChatCompletionRequest",
                "models": None,
            },
        ),
        Played(
            "localai",
            "/localai/v1",
            None,
            ("stablediffusion", "llava"),
            {
                "images/generations": "LocalImageRequest",
                "chat/completions": "CreateChatCompletionRequest",
                "models": None,
            },
            url_answers=True,
        ),
    )
}
VERSION_PATHS = {"xai": "v1/", "gemini": "v1beta/openai/", "openrouter": "api/v1/"}
"""What comes between a provider's prefix and the operation (local servers: v1/)."""
IMAGE_MODEL_PARAMETERS = {
    "openai/gpt-image-2.6-flare": ("size", "quality", "background", "output_format", "output_compression", "n"),
    "google/gemini-nano-banana-2.1": ("aspect_ratio", "resolution", "n"),
    "microsoft/mai-image-2.7": ("size", "seed"),
    "bytedance-seed/seedream-4.5": ("size", "seed"),
}
"""OpenRouter's Image API models and the parameters each takes (its `GET /images/models`)."""


@dataclass(frozen=True)
class Operation:
    name: str
    schema: str | None
    deployment: str | None = None
    """Azure: the deployment the path names (None on the v1 paths, where it is the body's model)."""


def operation(played: Played, method: str, rest: str, query: dict[str, str]) -> Operation:
    """What a request to `/{prefix}/{rest}` asks for; ApiError for what the provider has no endpoint for."""
    if played.name == "azure":
        return _azure_operation(played, rest, query)
    prefix = VERSION_PATHS.get(played.name, "v1/")
    name = rest.removeprefix(prefix) if rest.startswith(prefix) else None
    if name is None or name not in played.operations or (method == "GET") != (played.operations[name] is None):
        raise ApiError(404, f"Invalid URL ({method} /{played.name}/{rest})", code="not_found")
    return Operation(name, played.operations[name])


def _azure_operation(played: Played, rest: str, query: dict[str, str]) -> Operation:
    """The v1 paths, or the deployment-scoped ones with their api-version (without it Azure answers 404)."""
    if rest.startswith("openai/v1/") and rest.removeprefix("openai/v1/") in played.operations:
        name = rest.removeprefix("openai/v1/")
        return Operation(name, played.operations[name])
    if "api-version" not in query:
        raise ApiError(404, "Resource not found", code="404")
    parts = rest.split("/")
    if len(parts) >= 4 and parts[:2] == ["openai", "deployments"]:
        name = "/".join(parts[3:])
        if name in played.operations and name not in ("responses", "models"):
            return Operation(name, played.operations[name], deployment=parts[2])
    if rest.removeprefix("openai/") in ("responses", "models"):
        name = rest.removeprefix("openai/")
        return Operation(name, played.operations[name])
    raise ApiError(404, "Resource not found", code="404")


def presented_key(played: Played, headers: dict[str, str]) -> str | None:
    """The key a request carries the provider's way (Azure: `api-key`, or an Entra ID token as Bearer)."""
    bearer = headers.get("authorization", "").removeprefix("Bearer ").strip() or None
    return (headers.get("api-key") or bearer) if played.name == "azure" else bearer


class ProviderState(Protocol):
    origin: str
    photo_like: bool
    files: dict[str, tuple[bytes, str]]
    item_faults: list[str | None] | None

    def remember_sent(self, data: bytes) -> None: ...


def listing(played: Played, served: tuple[str, ...]) -> dict[str, Any]:
    """`GET /models` as the provider answers it (Gemini names its models `models/...`)."""
    prefix = "models/" if played.name == "gemini" else ""
    data = [
        {"id": f"{prefix}{model}", "object": "model", "created": 1_760_000_000, "owned_by": played.name}
        for model in served
    ]
    return {"object": "list", "data": data}


def image_models(served: tuple[str, ...]) -> dict[str, Any]:
    """OpenRouter's `GET /images/models`: each image model with the parameters it takes."""
    data = [
        {
            "id": model,
            "name": model,
            "description": f"{model} through OpenRouter's Image API",
            "created": 1_760_000_000,
            "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["image"]},
            "supported_parameters": {name: {"type": "string"} for name in IMAGE_MODEL_PARAMETERS[model]},
            "supports_streaming": False,
            "endpoints": f"/api/v1/images/models/{model}/endpoints",
        }
        for model in served
        if model in IMAGE_MODEL_PARAMETERS
    ]
    return {"data": data}


# --- xAI ------------------------------------------------------------------------------------------------------------

XAI_RATIOS = {"1:1": 1.0, "16:9": 16 / 9, "9:16": 9 / 16, "4:3": 4 / 3, "3:4": 3 / 4, "3:2": 1.5, "2:3": 2 / 3}
XAI_RATIOS |= {"2:1": 2.0, "1:2": 0.5, "20:9": 20 / 9, "9:19.5": 9 / 19.5}
XAI_TIERS = {"1k": 1024, "2k": 2048}


def xai_images(
    state: ProviderState, endpoint: str, body: dict[str, Any], inputs: list[bytes], mask: bool
) -> dict[str, Any]:
    """xAI's image answer: aspect_ratio and resolution decide the pixels; `size` and a mask are refused, as is a
    fourth reference; URLs unless b64_json is asked for."""
    if body.get("model") != "grok-imagine-image-2.0":
        raise model_missing(str(body.get("model")))
    for refused in ("size", "style", "background", "output_format", "moderation") + (("mask",) if mask else ()):
        if refused == "mask" or body.get(refused) is not None:
            raise ApiError(400, f"Argument not supported: {refused}", param=refused, code="invalid_argument")
    if endpoint == "edits" and not 1 <= len(inputs) <= 3:
        raise ApiError(400, "Image edits take 1 to 3 images.", param="image", code="invalid_argument")
    if body.get("quality") not in (None, "low", "medium"):
        raise ApiError(400, "quality must be low or medium.", param="quality", code="invalid_argument")
    n = int(body.get("n") or 1)
    if not 1 <= n <= 10:
        raise ApiError(400, "n must be between 1 and 10.", param="n", code="invalid_argument")
    width, height = _xai_size(str(body.get("aspect_ratio") or "auto"), str(body.get("resolution") or "1k"), inputs)
    as_b64 = body.get("response_format") == "b64_json"
    data = [_item(state, picture(width, height), as_b64, _fault(state, index)) for index in range(n)]
    return {"created": int(time.time()), "data": data}


def _xai_size(ratio: str, resolution: str, inputs: list[bytes]) -> tuple[int, int]:
    if resolution not in XAI_TIERS:
        raise ApiError(400, "resolution must be 1k or 2k.", param="resolution", code="invalid_argument")
    if ratio == "auto":
        width, height = describe(inputs[0])[:2] if inputs else (1, 1)
        value = width / height
    elif ratio in XAI_RATIOS:
        value = XAI_RATIOS[ratio]
    else:
        raise ApiError(400, f"Unsupported aspect_ratio {ratio}.", param="aspect_ratio", code="invalid_argument")
    long_side = XAI_TIERS[resolution]
    if value >= 1:
        return long_side, round(long_side / value)
    return round(long_side * value), long_side


def _item(state: ProviderState, data: bytes, as_b64: bool, fault: str | None) -> dict[str, Any]:
    """A data item: base64, or a temporary URL on the emulator's host; bad in the way `fault` says (item_faults)."""
    state.remember_sent(data)
    if fault == "missing":
        return {}
    if as_b64:
        return {"b64_json": item_base64(fault, data)}
    name = f"{secrets.token_hex(6)}.png"
    if fault != "url_fails":
        state.files[name] = (item_bytes(fault, data), "image/png")
    return {"url": f"{state.origin}/files/{name}"}


def _fault(state: ProviderState, index: int) -> str | None:
    """How the answer's item at `index` is bad (item_faults), or None."""
    return state.item_faults[index] if state.item_faults and index < len(state.item_faults) else None


# --- OpenRouter's Image API -----------------------------------------------------------------------------------------

OPENROUTER_IMAGE_COST = 0.04
"""What the emulated Image API says each image cost, in USD."""


def openrouter_images(state: ProviderState, body: dict[str, Any], served: tuple[str, ...]) -> dict[str, Any]:
    """`POST /images`: generations, or edits with `input_references`; b64_json with its media type, and the cost."""
    model = str(body.get("model"))
    if model not in served or model not in IMAGE_MODEL_PARAMETERS:
        raise model_missing(model)
    unsupported = [
        name
        for name in ("size", "quality", "background", "output_format", "output_compression", "seed", "aspect_ratio")
        if body.get(name) is not None and name not in IMAGE_MODEL_PARAMETERS[model]
    ]
    if unsupported:
        raise ApiError(400, f"{model} does not support {unsupported[0]}.", param=unsupported[0], code="invalid_value")
    references = [_reference(item) for item in body.get("input_references") or []]
    if isinstance(body.get("size"), str) and "x" in body["size"]:
        width, height = (int(side) for side in body["size"].split("x"))
    else:
        width, height = describe(references[0])[:2] if references else (1024, 1024)
    n = int(body.get("n") or 1)
    data = []
    for index in range(n):
        image = picture(width, height, photo=state.photo_like, seed=body.get("seed"))
        state.remember_sent(image)
        encoded = item_base64(_fault(state, index), image)
        data.append({"media_type": "image/png"} | ({"b64_json": encoded} if encoded is not None else {}))
    usage = {"prompt_tokens": 12, "completion_tokens": 1290 * n, "total_tokens": 12 + 1290 * n}
    return {"created": int(time.time()), "data": data, "usage": usage | {"cost": OPENROUTER_IMAGE_COST * n}}


def _reference(item: dict[str, Any]) -> bytes:
    url = str(item.get("image_url", {}).get("url", ""))
    if not url.startswith("data:image/") or ";base64," not in url:
        raise ApiError(400, "input_references take data URLs here.", param="input_references", code="invalid_value")
    return base64.b64decode(url.split(",", 1)[1])
