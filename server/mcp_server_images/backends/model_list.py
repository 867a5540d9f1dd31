"""`GET /models` on the wire: which models the provider serves, and when each shuts down.

OpenAI's list carries an optional `shutdown_date` ("YYYY-MM-DD" or null) per model; gateways list their own
names (`openai/gpt-image-2` on Dedalus) and may leave the date out. Entries that are not objects with a string
`id` are skipped rather than failing the whole list, and a date that does not parse counts as absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ..catalog.spec import ServedModel
from .client import UpstreamClient
from .errors import UpstreamError

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
        return [_served(item) for item in data if isinstance(item, dict) and isinstance(item.get("id"), str)]


def _served(item: dict[str, object]) -> ServedModel:
    """One entry; Gemini's OpenAI-compatible list names its models `models/NAME`, which calls name as NAME."""
    return ServedModel(id=str(item["id"]).removeprefix(RESOURCE_PREFIX), shutdown_date=_date(item.get("shutdown_date")))


def _date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
