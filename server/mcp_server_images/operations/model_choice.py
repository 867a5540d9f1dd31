"""Which model a call uses, decided before anything is paid, and what the provider serves (list_models).

The configured defaults are resolved against the provider's own model list; a shut-down model, or one the
provider does not serve, is refused with the models to use instead; a model with a shutdown date gets a warning
in the result. When the provider answers `model_not_found` anyway (its list was stale), the same explanation is
given and the model counts as gone for the rest of the process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ..backends.errors import UpstreamError
from ..catalog.catalog import Catalog, InForce
from ..catalog.discovery import DefaultChoice, ModelDirectory, ServedModels
from ..catalog.feed import FeedStatus
from ..catalog.spec import ImageEndpoint, ModelKind, ModelSpec, Prices, Status
from ..errors import ImageServerError, ParameterError
from ..providers import ProviderKind


@dataclass(frozen=True)
class Models:
    """The server's catalog, what the provider serves, and the configured defaults; one per server."""

    catalog: Catalog
    directory: ModelDirectory
    provider: ProviderKind
    default_image: str
    default_vision: str
    feed: FeedStatus = field(default_factory=FeedStatus)
    """What the catalog feed did last (list_models says which catalog is in force)."""
    notice_days: int = 0
    """A default shutting down within this many days gives way to its replacement (0: only once shut down)."""
    told: set[tuple[str, str]] = field(default_factory=set, compare=False)
    """(audience, subject) pairs already said: a default moved before its shutdown is said once per session."""

    def configured(self, kind: ModelKind) -> str:
        return self.default_image if kind is ModelKind.IMAGE else self.default_vision

    async def default(self, kind: ModelKind, endpoint: ImageEndpoint | None = None) -> DefaultChoice:
        """The model a call naming none uses (see ModelDirectory.resolve_default)."""
        return await self.directory.resolve_default(self.configured(kind), kind, endpoint, self.notice_days)

    def first_time(self, audience: str | None, subject: str) -> bool:
        """Whether `audience` has not been told about `subject` yet (and from now on has); None: a caller that
        cannot be told apart from others (stateless HTTP), who is told every time."""
        if audience is None:
            return True
        heard = (audience, subject) in self.told
        self.told.add((audience, subject))
        return not heard


@dataclass(frozen=True)
class Chosen:
    """The model a call goes to: its name, the provider's spelling, its catalog entry, and what to tell the user."""

    name: str
    wire: str
    spec: ModelSpec | None
    notes: tuple[str, ...] = ()


async def choose(
    models: Models,
    requested: str | None,
    kind: ModelKind,
    endpoint: ImageEndpoint | None = None,
    audience: str | None = None,
) -> Chosen:
    """The model for a call, checked against the provider before any request; raises ParameterError if unusable.

    The model the call names is the model sent: the default is resolved only when it names none. On OpenAI's own
    API its model list decides what exists; elsewhere the list is evidence (gateways list partially), so a named
    model it lacks is sent, and a `model_not_found` answer is explained with what the list offers. A default moved
    before its shutdown is said once to each `audience` (the client's session), since every later call would only
    repeat it.
    """
    notes: list[str] = []
    name = requested.strip() if requested else None
    if not name:
        default = await models.default(kind, endpoint)
        name = default.model
        if default.early and models.first_time(audience, default.model):
            notes.append(f"Default model: {default.reason}; name a model to choose another.")
        elif default.reason and not default.early:
            notes.append(f"Default model: {default.reason}.")
    problem = await models.directory.lifecycle_problem(name)
    if problem is not None:
        raise ParameterError("model", problem)
    if models.provider is ProviderKind.OPENAI and await models.directory.is_served(name) is False:
        raise ParameterError("model", await _not_served(models, name, kind, endpoint))
    warning = await _shutdown_warning(models, name)
    if warning:
        notes.append(warning)
    spec = models.catalog.lookup(name)
    wire = Catalog.wire_name(name, models.provider, *((spec.vendor,) if spec else ()))
    return Chosen(name, wire, spec, tuple(notes))


async def explain_refusal(
    models: Models, chosen: Chosen, error: ImageServerError, endpoint: ImageEndpoint | None = None
) -> ImageServerError:
    """A `model_not_found` answer becomes the explanation a refusal before the request would have given, with
    the models the provider's list offers for the task."""
    if not isinstance(error, UpstreamError) or error.code != "model_not_found":
        return error
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


async def list_models(models: Models) -> ModelList:
    """The image and vision models this provider serves (or, without its list, the catalog's current ones)."""
    served = await models.directory.served()
    defaults = {kind: await models.default(kind) for kind in ModelKind}
    default_names = {models.catalog.canonical_name(choice.model).lower() for choice in defaults.values()}
    notes = [f"Default {kind} model: {choice.reason}." for kind, choice in defaults.items() if choice.reason]
    listed: list[ListedModel] = []
    for spec in models.catalog:
        is_served = None if served is None else served.get(spec.name) is not None
        lifecycle = models.directory.lifecycle(spec.name) or spec.lifecycle
        shutdown = await models.directory.shutdown_date(spec.name)
        past = shutdown is not None and shutdown <= models.directory.today()
        status = Status.SHUT_DOWN if past else lifecycle.status
        if is_served is False or (is_served is None and status is Status.SHUT_DOWN):
            continue
        reported = lifecycle.reported_shutdown if shutdown is None else None
        listed.append(
            ListedModel(
                name=Catalog.wire_name(spec.name, models.provider, spec.vendor),
                kind=spec.kind,
                served=is_served,
                status=status,
                shutdown=shutdown,
                default=spec.name.lower() in default_names,
                spec=spec,
                reported_shutdown=reported,
            )
        )
    if served is not None:
        others = [model_id for model_id in served.ids() if models.catalog.lookup(model_id) is None]
        if others:
            notes.append(
                f"The provider also lists {len(others)} models the catalog does not describe (text, audio or a "
                "gateway's own); any of them can be named as model, and is sent as given."
            )
    today = models.directory.today()
    return ModelList(listed, served is not None, notes, models.catalog.in_force, models.feed, today)
