"""Which API a call goes through: the catalog says which APIs can serve a model, the call and the settings choose.

A catalogued model lists its APIs (`api` first). A model outside the catalog goes to the provider's default API,
the Images API, except where its name says it is another vendor's multimodal model: on Dedalus any vendor prefix
other than `openai/` (its create-image page sends multimodal models to /v1/chat/completions), and on every provider
`google/` (Gemini's image models are served through Chat Completions by every gateway we know). `acme/imagine-9`
on a custom gateway stays on the Images API, as before. A call may ask for any API for an unknown model, since
nothing is known against it; a gateway's own model is routed for good by an entry in the models file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..backends import ImageBackend, ImageRequest
from ..catalog.load import PROVIDER_PREFIX
from ..catalog.spec import Api, ImageEndpoint, ModelSpec
from ..errors import ParameterError
from ..settings import ProviderKind
from .budget import Quote
from .common import ImageDeps, streamed_count
from .cost import Ask, estimate
from .models import Chosen


@dataclass(frozen=True)
class Route:
    """The API a call goes through and the backend that speaks it."""

    api: Api
    backend: ImageBackend

    def sent_to(self, model: str) -> str:
        """The progress message when the request goes out (the Images API, the usual case, goes unnamed)."""
        return f"request sent to {model}" + ("" if self.api is Api.IMAGES else f" through the {self.api} API")

    def endpoint(self, images_endpoint: str) -> str:
        """Where the requests go, as dry runs and confirmations name it."""
        return images_endpoint if self.api is Api.IMAGES else API_ENDPOINTS[self.api]

    @property
    def unestimated(self) -> str | None:
        """What an estimate of an image call through this API leaves out."""
        if self.api is Api.RESPONSES:
            return "the mainline model's tokens (one call per request), which are not estimated"
        return None


API_ENDPOINTS = {Api.CHAT: "chat/completions", Api.RESPONSES: "responses"}


def quote(
    road: Route,
    operation: str,
    endpoint: ImageEndpoint,
    model: str,
    upstream: Sequence[ImageRequest],
    parameters: dict[str, Any],
) -> Quote:
    """What sending `upstream` (the batches of one call) through `road` would do, and its estimate from the
    catalog entry of `model` (input images are not estimated); `endpoint` is the Images API's, named when the
    route is that API."""
    first = upstream[0]
    ask = Ask(
        model,
        first.spec,
        replace(first.options, n=sum(one.options.n for one in upstream)),
        prompt=first.prompt,
        requests=len(upstream),
        partial_images=streamed_count(first),
        input_images=len(first.inputs),
        leaves_out=road.unestimated,
    )
    where = road.endpoint(f"images/{endpoint.value}")
    return Quote(operation, first.model, where, parameters, len(upstream), estimate(ask))


CHAT_VENDORS = ("google/",)
"""Vendor prefixes whose unknown models go to Chat Completions on any provider."""


def usable_apis(spec: ModelSpec | None, name: str, provider: ProviderKind) -> tuple[Api, ...]:
    """The APIs a model can be used through, the one a call without a wish uses first."""
    if spec is not None:
        return spec.usable_apis
    default = Api.CHAT if _multimodal_vendor(name, provider) else Api.IMAGES
    return (default, *(api for api in Api if api is not default))


def choose_api(spec: ModelSpec | None, name: str, wish: Api | None, preferred: Api, provider: ProviderKind) -> Api:
    """The call's wish when the model can take it; else the preferred API (setting) when the model offers it; else
    the model's default."""
    apis = usable_apis(spec, name, provider)
    if wish is not None:
        if wish not in apis:
            listed = ", ".join(api.value for api in apis)
            raise ParameterError("api", f"{name} cannot be used through the {wish} API; it can through: {listed}.")
        return wish
    return preferred if spec is not None and preferred in apis else apis[0]


def route(deps: ImageDeps, chosen: Chosen, wish: Api | None) -> Route:
    api = choose_api(chosen.spec, chosen.name, wish, deps.preferred_api, deps.models.provider)
    return Route(api, deps.backends[api])


def offers(deps: ImageDeps, chosen: Chosen, api: Api) -> bool:
    """Whether the chosen model can be used through `api`."""
    return api in usable_apis(chosen.spec, chosen.name, deps.models.provider)


def _multimodal_vendor(name: str, provider: ProviderKind) -> bool:
    """`google/gemini-...` anywhere; on Dedalus any `vendor/model` spelling that is not OpenAI's."""
    lowered = name.strip().lower()
    if lowered.startswith(CHAT_VENDORS):
        return True
    return provider is ProviderKind.DEDALUS and "/" in lowered and not lowered.startswith(PROVIDER_PREFIX)
