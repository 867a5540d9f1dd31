"""Which API a call goes through: the catalog says which APIs can serve a model, the provider which it has, the
call and the settings choose.

A catalogued model lists its APIs (`api` first). A model outside the catalog goes to the provider's default API
(the Images API; Chat Completions on Gemini), except where its name says it is another vendor's multimodal model:
on Dedalus any vendor prefix other than `openai/` (its create-image page sends multimodal models to
/v1/chat/completions), and on every provider `google/` (Gemini's image models are served through Chat Completions
by every gateway we know). `acme/imagine-9` on a custom gateway stays on the Images API, as before. A call may ask
for any API the provider has for an unknown model, since nothing is known against it; a gateway's own model is
routed for good by an entry in the models file. An API the provider does not have (the Responses API on xAI) is
never chosen, and refused when asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..backends.base import ImageBackend, ImageRequest
from ..catalog.load import PROVIDER_PREFIX
from ..catalog.spec import Api, ImageEndpoint, ModelSpec
from ..errors import ParameterError
from ..providers import PROFILES, ProviderKind
from .cost import Ask, estimate, image_pixels
from .deps import ImageDeps
from .ledger import Quote
from .model_choice import Chosen


@dataclass(frozen=True)
class Route:
    """The API a call goes through and the backend that speaks it."""

    api: Api
    backend: ImageBackend

    def sent_to(self, model: str) -> str:
        """The progress message when the request goes out (the Images API, the usual case, goes unnamed)."""
        via = self.backend.capabilities.via
        return f"request sent to {model}" + (f" through {via}" if via else "")

    def endpoint(self, images_endpoint: ImageEndpoint) -> str:
        """Where the requests go, as dry runs and confirmations name it."""
        return self.backend.endpoint(images_endpoint)


def quote(
    route: Route,
    operation: str,
    endpoint: ImageEndpoint,
    chosen: Chosen,
    upstream: Sequence[ImageRequest],
    parameters: dict[str, Any],
    partial_images: int = 0,
) -> Quote:
    """What sending `upstream` (the batches of one call) through `route` would do, and its estimate from the
    catalog entry of the chosen model (input images are not estimated); `endpoint` is the Images API's, named when
    the route is that API; each request streams `partial_images`. The quote names the provider, as the ledger
    keeps spend per provider."""
    first = upstream[0]
    ask = Ask(
        chosen.name,
        first.spec,
        options=replace(first.options, n=sum(one.options.n for one in upstream)),
        prompt=first.prompt,
        requests=len(upstream),
        partial_images=partial_images,
        input_images=len(first.inputs),
        leaves_out=route.backend.capabilities.unestimated,
    )
    return Quote(
        operation,
        first.model,
        route.endpoint(endpoint),
        parameters,
        len(upstream),
        estimate(ask),
        images=ask.options.n,
        pixels=image_pixels(ask),
        provider=chosen.upstream.name,
    )


CHAT_VENDORS = ("google/",)
"""Vendor prefixes whose unknown models go to Chat Completions on any provider."""


def usable_apis(spec: ModelSpec | None, name: str, provider: ProviderKind) -> tuple[Api, ...]:
    """The APIs a model can be used through on the provider, the one a call without a wish uses first."""
    has = PROFILES[provider].apis
    if spec is not None:
        offered = tuple(api for api in spec.usable_apis if api in has)
        return offered or spec.usable_apis[:1]
    default = Api.CHAT if _multimodal_vendor(name, provider) else PROFILES[provider].unknown_api
    return (default, *(api for api in has if api is not default)) if default in has else has


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


def route_for(deps: ImageDeps, chosen: Chosen, wish: Api | None) -> Route:
    """The API the call goes through on the chosen model's provider, and its backend there."""
    api = choose_api(chosen.spec, chosen.name, wish, deps.preferred_api, chosen.upstream.kind)
    backend = chosen.upstream.backends.get(api)
    if backend is None:
        provider = chosen.upstream.endpoint.label
        raise ParameterError(
            "model", f"{chosen.name} needs the {api} API, which the provider {provider} does not have."
        )
    return Route(api, backend)


def offers(chosen: Chosen, api: Api) -> bool:
    """Whether the chosen model can be used through `api` on its provider."""
    return api in usable_apis(chosen.spec, chosen.name, chosen.upstream.kind) and api in chosen.upstream.backends


def conversation_route(chosen: Chosen) -> Route | None:
    """The route through an API that continues the conversation an image was made in, when the model offers one."""
    backends = chosen.upstream.backends
    for api in usable_apis(chosen.spec, chosen.name, chosen.upstream.kind):
        if api in backends and backends[api].capabilities.continues_conversations:
            return Route(api, backends[api])
    return None


def fallback_route(chosen: Chosen, route: Route) -> Route | None:
    """Where an edit goes when the route's API refuses the model itself, if the model offers that API."""
    api = route.backend.capabilities.edit_fallback
    return Route(api, chosen.upstream.backends[api]) if api is not None and offers(chosen, api) else None


def _multimodal_vendor(name: str, provider: ProviderKind) -> bool:
    """`google/gemini-...` anywhere; on Dedalus any `vendor/model` spelling that is not OpenAI's."""
    lowered = name.strip().lower()
    if lowered.startswith(CHAT_VENDORS):
        return True
    return provider is ProviderKind.DEDALUS and "/" in lowered and not lowered.startswith(PROVIDER_PREFIX)
