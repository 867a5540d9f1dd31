"""`GET /models` on the wire: which models the provider serves, and when each shuts down.

OpenAI's list carries an optional `shutdown_date` ("YYYY-MM-DD" or null) per model; gateways list their own
names (`openai/gpt-image-2` on Dedalus) and may leave the date out. Entries that are not objects with a string
`id` are skipped rather than failing the whole list, and a date that does not parse counts as absent.
OpenRouter lists its image models apart (`GET /images/models`), each with the parameters it takes; they are added
to the list with those parameters, and a provider without that listing (or an error in it) keeps the plain list.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date

from ..catalog.spec import ServedModel
from .client import UpstreamClient
from .errors import UpstreamError

log = logging.getLogger(__name__)

RESOURCE_PREFIX = "models/"


class DeclaredModels:
    """The models a providers file says a provider serves, standing in for its own list."""

    def __init__(self, models: Sequence[str]) -> None:
        self._models = [ServedModel(id=model) for model in models]

    async def list(self) -> list[ServedModel]:
        return list(self._models)


class ModelsAPI:
    """The provider's model list through the shared upstream client (same auth, retries and errors)."""

    def __init__(self, client: UpstreamClient) -> None:
        self._client = client

    async def list(self) -> list[ServedModel]:
        """Every model the provider lists; raises UpstreamError when there is no usable list."""
        response = await self._client.get_json("/models")
        data = response.body.get("data")
        if not isinstance(data, list):
            raise UpstreamError(
                "The provider answered GET /models without a `data` list of models.",
                status=200,
                request_id=response.request_id,
            )
        listed = [_served(item) for item in data if isinstance(item, dict) and isinstance(item.get("id"), str)]
        if self._client.dialect.image_route is None:
            return listed
        images = await self._image_models()
        return [model for model in listed if model.id not in images] + list(images.values())

    async def _image_models(self) -> dict[str, ServedModel]:
        """OpenRouter's image models with the parameters each takes; {} when the listing is not to be had."""
        try:
            response = await self._client.get_json(f"{self._client.dialect.image_route}/models")
        except UpstreamError as exc:
            log.info("the provider's image model listing is not available (%s); using its model list alone", exc)
            return {}
        data = response.body.get("data")
        entries = [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []
        return {
            str(item["id"]): ServedModel(id=str(item["id"]), parameters=frozenset(_parameters(item)))
            for item in entries
            if isinstance(item.get("id"), str)
        }


def _served(item: dict[str, object]) -> ServedModel:
    """One entry; Gemini's OpenAI-compatible list names its models `models/NAME`, which calls name as NAME."""
    return ServedModel(id=str(item["id"]).removeprefix(RESOURCE_PREFIX), shutdown_date=_date(item.get("shutdown_date")))


def _parameters(item: dict[str, object]) -> list[str]:
    supported = item.get("supported_parameters")
    return [str(name) for name in supported] if isinstance(supported, dict) else []


def _date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
