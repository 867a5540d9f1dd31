"""Which models the emulated provider serves: `GET /v1/models`, and the refusals of models it does not serve.

By default it is OpenAI in late November 2026 (the suite's frozen date), with the dates announced by December
(world-2026-12.md): dall-e-2, dall-e-3 and gpt-image-1 are shut down and answer
`model_not_found` ("has been deprecated"), and the list carries each model's `shutdown_date`. Switches make it a
gateway that still serves the retired models (`serves_retired`), give it an explicit list (`served_models`, ids
or whole model objects, e.g. Dedalus' `openai/...` names), serve models its list leaves out (`also_serves`, as
gateways that list partially do), or break the list (`models_answer`: "404", "401",
"html") the way providers without a usable `/models` do.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .rules import MODELS, model_gone, model_missing, model_name

VISION_MODELS: dict[str, str | None] = {
    "gpt-6-luna": None,
    "gpt-6.1-sol": None,
    "gpt-6.1-terra": None,
    "gpt-5": "2026-12-11",
    "gpt-5-mini": "2026-12-11",
    "gpt-5-nano": "2026-12-11",
    "gpt-4.1": "2027-01-14",
    "gpt-4.1-mini": "2027-01-14",
    "gpt-4o": "2027-01-14",
    "gpt-4o-mini": "2027-01-14",
}
"""Chat models with image input, and their shutdown dates on OpenAI (gpt-4o and gpt-4.1: notice of 2026-10-14;
gpt-5: 2026-12-11, shared/reference/world-2026-12.md)."""
OTHER_MODELS = ("text-embedding-3-small", "whisper-1")
"""Listed like on the real API, so that readers of the list meet models that are neither image nor vision."""
CREATED = 1_760_000_000


class ServingState(Protocol):
    api_key: str
    serves_retired: bool
    served_models: list[str | dict[str, Any]] | None
    also_serves: list[str]
    models_answer: str


def listing(state: ServingState) -> list[dict[str, Any]]:
    """The model objects `GET /v1/models` answers with, in the contract's `Model` shape."""
    if state.served_models is not None:
        return [item if isinstance(item, dict) else _model(item, None) for item in state.served_models]
    images = [
        _model(name, spec.shutdown)
        for name, spec in MODELS.items()
        if spec.on_openai and (state.serves_retired or not spec.retired)
    ]
    vision = [_model(name, shutdown) for name, shutdown in VISION_MODELS.items()]
    return images + vision + [_model(name, None) for name in OTHER_MODELS]


def _model(model_id: str, shutdown: str | None) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": CREATED, "owned_by": "system", "shutdown_date": shutdown}


def check_served(state: ServingState, raw_model: Any) -> None:
    """Refuse a model this provider does not serve, as the real API does, before looking at anything else."""
    model = model_name(raw_model, "dall-e-2")
    if model in state.also_serves:
        return
    if state.served_models is not None:
        served = {model_name(item if isinstance(item, str) else item["id"], "") for item in state.served_models}
        if model not in served:
            spec = MODELS.get(model)
            raise model_gone(model) if spec is not None and spec.retired else model_missing(model)
        return
    spec = MODELS.get(model)
    if spec is not None and spec.retired and not state.serves_retired:
        raise model_gone(model)
    if spec is not None and not spec.on_openai:
        raise model_missing(model)


async def models_endpoint(state: ServingState, request: Request) -> Response:
    """`GET /v1/models`, or the broken answers of providers without a usable list."""
    headers = {"x-request-id": f"req_models_{time.monotonic_ns()}"}
    presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if state.models_answer == "401" or state.api_key not in (presented, request.headers.get("x-api-key")):
        return JSONResponse(_error("Incorrect API key provided.", "invalid_api_key"), status_code=401, headers=headers)
    if state.models_answer == "404":
        return JSONResponse(_error("Invalid URL (GET /v1/models)", None), status_code=404, headers=headers)
    if state.models_answer == "html":
        return Response("<html><body>Gateway dashboard</body></html>", media_type="text/html", headers=headers)
    return JSONResponse({"object": "list", "data": listing(state)}, headers=headers)


def _error(message: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
