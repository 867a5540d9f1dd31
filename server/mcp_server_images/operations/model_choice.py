"""Which model a call uses, on which provider, decided before anything is paid; and what the providers serve
(list_models).

The call's model is routed to the provider that serves it (`upstreams.py`); the configured defaults are resolved
against the providers' own model lists; a shut-down model, or one the provider does not serve, is refused with the
models to use instead; a model with a shutdown date gets a warning in the result. When the provider answers
`model_not_found` anyway (its list was stale), the same explanation is given and the model counts as gone for the
rest of the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..backends.errors import UpstreamError
from ..catalog.catalog import Catalog, InForce
from ..catalog.discovery import ServedModels
from ..catalog.feed import FeedStatus
from ..catalog.options import OPTIONS, ImageOptions
from ..catalog.spec import Api, ImageEndpoint, ModelKind, ModelSpec, Prices, Status
from ..errors import ImageServerError, ParameterError
from ..providers import PROFILES, ProviderKind
from .upstreams import Models, Upstream, Upstreams


@dataclass(frozen=True)
class Chosen:
    """The model a call goes to: its name, the provider's spelling, its catalog entry, the provider that serves it,
    and what to tell the user."""

    name: str
    wire: str
    spec: ModelSpec | None
    upstream: Upstream
    notes: tuple[str, ...] = ()


async def choose(
    upstreams: Upstreams,
    requested: str | None,
    kind: ModelKind,
    endpoint: ImageEndpoint | None = None,
    audience: str | None = None,
) -> Chosen:
    """The model for a call and its provider, checked against the provider before any request; raises
    ParameterError if unusable.

    The model the call names is the model sent: the default is resolved only when it names none. On OpenAI's own
    API its model list decides what exists; elsewhere the list is evidence (gateways list partially), so a named
    model it lacks is sent, and a `model_not_found` answer is explained with what the list offers. A default moved
    before its shutdown is said once to each `audience` (the client's session), since every later call would only
    repeat it.
    """
    notes: list[str] = []
    if requested and requested.strip():
        name, named = upstreams.split(requested)
        upstream = named or await upstreams.route(name, kind)
    else:
        upstream, default = await upstreams.default(kind, endpoint)
        name = default.model
        if default.early and upstreams.first_time(audience, default.model):
            notes.append(f"Default model: {default.reason}; name a model to choose another.")
        elif default.reason and not default.early:
            notes.append(f"Default model: {default.reason}.")
    models = upstream.models
    problem = await models.directory.lifecycle_problem(name)
    if problem is not None:
        raise ParameterError("model", problem)
    if PROFILES[models.provider].decides and await models.directory.is_served(name) is False:
        raise ParameterError("model", await _not_served(models, name, kind, endpoint))
    warning = await _shutdown_warning(models, name)
    if warning:
        notes.append(warning)
    spec = models.catalog.lookup(name)
    if not upstreams.single:
        notes.append(f"Sent to the provider {upstream.endpoint.label}.")
    return Chosen(name, wire_name(name, spec, models.provider), spec, upstream, tuple(notes))


async def check_listed(chosen: Chosen, options: ImageOptions, api: Api) -> None:
    """For a model outside the catalog whose provider lists the parameters it takes (OpenRouter's image models), an
    option it does not take is refused before anything is sent, naming those it does."""
    if chosen.spec is not None:
        return
    served = await chosen.upstream.models.directory.served()
    listed = served.get(chosen.name) if served is not None else None
    if listed is None or listed.parameters is None:
        return
    for row in OPTIONS:
        if options.get(row.name) is not None and api in row.apis and row.sent_as not in listed.parameters:
            takes = ", ".join(sorted(listed.parameters)) or "no options"
            raise ParameterError(
                row.name,
                f"{row.name} is not taken by {chosen.name}: the provider {chosen.upstream.endpoint.label} lists what "
                f"it takes ({takes}); leave it out.",
            )


def wire_name(name: str, spec: ModelSpec | None, provider: ProviderKind) -> str:
    """The provider's spelling of a model: its Azure deployment where the catalog maps one, else the kind's."""
    if provider is ProviderKind.AZURE and spec is not None and spec.deployment:
        return spec.deployment
    return Catalog.wire_name(name, provider, *((spec.vendor,) if spec else ()))


async def explain_refusal(
    chosen: Chosen, error: ImageServerError, endpoint: ImageEndpoint | None = None
) -> ImageServerError:
    """A `model_not_found` answer becomes the explanation a refusal before the request would have given, with
    the models the provider's list offers for the task."""
    if not isinstance(error, UpstreamError) or error.code != "model_not_found":
        return error
    models = chosen.upstream.models
    models.directory.mark_shut_down(chosen.name)
    problem = await models.directory.lifecycle_problem(chosen.name)
    kind = chosen.spec.kind if chosen.spec is not None else ModelKind.IMAGE
    offered = await _served_hint(models, kind, endpoint)
    message = f"{problem} (The provider answered model_not_found: {error.message}){offered}"
    return UpstreamError(message, code=error.code, request_id=error.request_id)


async def _not_served(models: Models, name: str, kind: ModelKind, endpoint: ImageEndpoint | None) -> str:
    hint = await _served_hint(models, kind, endpoint)
    return f"{name} is not served by this provider.{hint} Call list_models to see what it serves."


async def _served_hint(models: Models, kind: ModelKind, endpoint: ImageEndpoint | None) -> str:
    """ " Served image models that do edits: a, b." from the provider's list, or "" when it names none."""
    served = await models.directory.served()
    fitting = [spec.name for spec in _catalogued_and_served(models, served, kind) if _offers(spec, endpoint)]
    what = f"{kind} models" + (f" that do {endpoint}" if endpoint else "")
    return f" Served {what}: {', '.join(fitting)}." if fitting else ""


def _catalogued_and_served(models: Models, served: ServedModels | None, kind: ModelKind) -> list[ModelSpec]:
    return [spec for spec in models.catalog.of_kind(kind) if served is not None and served.get(spec.name)]


def _offers(spec: ModelSpec, endpoint: ImageEndpoint | None) -> bool:
    return endpoint is None or endpoint in spec.endpoints


async def _shutdown_warning(models: Models, name: str) -> str | None:
    shutdown = await models.directory.shutdown_date(name)
    if shutdown is None:
        return None
    lifecycle = models.directory.lifecycle(name)
    advice = await models.directory.advice(name)
    instead = f"; {advice}" if advice else ""
    if shutdown <= models.directory.today():
        owner = lifecycle.owner if lifecycle is not None else "OpenAI"
        return f"Warning: {name} was shut down by {owner} on {shutdown}; this provider still serves it{instead}."
    return f"Warning: {name} shuts down on {shutdown}{instead}."


@dataclass(frozen=True)
class ListedModel:
    """One model as list_models shows it: what it accepts, where it stands, what it costs."""

    name: str
    kind: ModelKind
    served: bool | None
    """From the provider's list; None when the provider has no usable list."""
    status: Status
    shutdown: date | None
    default: bool
    spec: ModelSpec
    reported_shutdown: date | None = None
    """A date one source gives that neither the catalog nor the provider confirms."""
    provider: str = ""
    """The name of the provider that serves it (model@provider names it explicitly)."""

    @property
    def prices(self) -> Prices | None:
        return self.spec.prices


@dataclass(frozen=True)
class ModelList:
    models: list[ListedModel]
    provider_listed: bool
    """Whether the provider's own list was available (else: the catalog's view, unconfirmed)."""
    notes: list[str]
    catalog: InForce
    """The catalog in force (shipped, or a feed's copy)."""
    feed: FeedStatus
    today: date


async def list_models(upstreams: Upstreams) -> ModelList:
    """The image and vision models each provider serves (or, without its list, the catalog's current ones of the
    vendors it serves), with the defaults per task."""
    tasks: list[tuple[ModelKind, ImageEndpoint | None, str]] = [
        (ModelKind.IMAGE, None, "image model"),
        (ModelKind.VISION, None, "vision model"),
    ]
    if "edit" in upstreams.defaults:
        tasks.insert(1, (ModelKind.IMAGE, ImageEndpoint.EDITS, "image model for edits"))
    defaults: set[tuple[str, str]] = set()
    notes: list[str] = []
    for kind, endpoint, what in tasks:
        try:
            upstream, choice = await upstreams.default(kind, endpoint)
        except ParameterError as exc:
            notes.append(f"No default {what}: {exc}")
            continue
        defaults.add((upstream.name, upstreams.catalog.canonical_name(choice.model).lower()))
        if choice.reason:
            notes.append(f"Default {what}: {choice.reason}.")
    listed: list[ListedModel] = []
    lists_known = True
    for upstream in upstreams.all:
        found, known, said = await _provider_models(upstream, defaults, single=upstreams.single)
        listed += found
        notes += said
        lists_known = lists_known and known
    today = upstreams.all[0].models.directory.today()
    return ModelList(listed, lists_known, notes, upstreams.catalog.in_force, upstreams.feed, today)


async def _provider_models(
    upstream: Upstream, defaults: set[tuple[str, str]], *, single: bool
) -> tuple[list[ListedModel], bool, list[str]]:
    """One provider's catalogued models, whether its own list said so, and notes on what else it serves."""
    models = upstream.models
    served = await models.directory.served()
    vendors = upstream.endpoint.profile.vendors
    listed: list[ListedModel] = []
    for spec in models.catalog:
        is_served = None if served is None else served.get(spec.name) is not None
        if is_served is None and vendors is not None and spec.vendor not in vendors:
            continue
        lifecycle = models.directory.lifecycle(spec.name) or spec.lifecycle
        shutdown = await models.directory.shutdown_date(spec.name)
        past = shutdown is not None and shutdown <= models.directory.today()
        status = Status.SHUT_DOWN if past else lifecycle.status
        if is_served is False or (is_served is None and status is Status.SHUT_DOWN):
            continue
        reported = lifecycle.reported_shutdown if shutdown is None else None
        listed.append(
            ListedModel(
                name=wire_name(spec.name, spec, models.provider),
                kind=spec.kind,
                served=is_served,
                status=status,
                shutdown=shutdown,
                default=(upstream.name, spec.name.lower()) in defaults,
                spec=spec,
                reported_shutdown=reported,
                provider=upstream.name,
            )
        )
    notes = []
    entries = list(served.by_name.values()) if served is not None else []
    imaging = [entry for entry in entries if entry.parameters is not None and models.catalog.lookup(entry.id) is None]
    if imaging:
        described = "; ".join(
            f"{entry.id} ({', '.join(sorted(entry.parameters or ())) or 'no options'})" for entry in imaging
        )
        notes.append(
            f"{upstream.endpoint.label} lists image models the catalog does not describe, with the options each "
            f"takes: {described}."
        )
    others = [entry.id for entry in entries if models.catalog.lookup(entry.id) is None and entry not in imaging]
    if others and vendors == ():
        named = ", ".join(others)
        marked = " (default)" if any((upstream.name, name.lower()) in defaults for name in others) else ""
        notes.append(
            f"{upstream.endpoint.label} serves {named}{marked}: models the catalog does not describe, sent as given "
            "with generic checks only."
        )
    elif others:
        whose = "The provider" if single else f"The provider {upstream.endpoint.label}"
        notes.append(
            f"{whose} also lists {len(others)} models the catalog does not describe (text, audio or a "
            "gateway's own); any of them can be named as model, and is sent as given."
        )
    return listed, served is not None, notes
