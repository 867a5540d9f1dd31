"""`ModelDirectory`: what the provider serves, asked at run time and cached, combined with the catalog.

The provider's own model list (`GET /models`) has the last word on which models exist and when they shut down;
the catalog supplies what the list cannot say (replacements, parameters). The list is asked lazily, on the first
question, so start-up and tools/list never wait for it; concurrent questions share one request; the answer is
trusted for `refresh_after` seconds. A provider without a usable list (404, 401, not JSON, unreachable, or one
whose list does not name what calls name, as Azure's deployments) leaves the answer "unknown", which means "trust
the catalog": a call is never refused only because the list is missing. Each failure state is logged once, as one
WARNING line, not on every refresh. Lifecycles are the provider's where the catalog gives its own dates (Azure's),
else the vendor's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

import anyio

from ..clock import Clock
from ..errors import ConfigurationError, ImageServerError
from ..providers import PROFILES, ProviderKind
from .catalog import Catalog
from .spec import ImageEndpoint, Lifecycle, ModelKind, Replacement, ServedModel, Status

log = logging.getLogger(__name__)

ModelLister = Callable[[], Awaitable[Sequence[ServedModel]]]
"""Asks the provider for its model list (backends.ModelsAPI.list); raises ImageServerError when there is none."""

LIST_TIMEOUT = 15.0
"""Most seconds a call waits for the model list before going on without it."""


@dataclass(frozen=True)
class ServedModels:
    """One answer of the provider's model list, looked up by canonical name (`openai/x` and `x` alike)."""

    by_name: Mapping[str, ServedModel]

    @classmethod
    def of(cls, models: Iterable[ServedModel]) -> ServedModels:
        return cls({Catalog.canonical_name(model.id).lower(): model for model in models})

    def get(self, model: str) -> ServedModel | None:
        return self.by_name.get(Catalog.canonical_name(model).lower())

    def ids(self) -> list[str]:
        return [model.id for model in self.by_name.values()]


@dataclass(frozen=True)
class DefaultChoice:
    """The model a call without a model uses, and why it is not the configured one (None when it is)."""

    model: str
    reason: str | None = None
    early: bool = False
    """Moved before the configured model's shutdown (it still works): said once per session, not on every call."""


class ModelDirectory:
    """The provider's model list, cached, and the answers built on it and on the catalog.

    Build one per server (it holds the cache) with the server's `Catalog` and `ModelsAPI(client).list`.
    """

    def __init__(
        self,
        catalog: Catalog,
        lister: ModelLister | None,
        *,
        provider: ProviderKind,
        refresh_after: float,
        clock: Clock,
        monotonic: Callable[[], float] = time.monotonic,
        timeout: float = LIST_TIMEOUT,
    ) -> None:
        self._catalog = catalog
        self._lister = lister
        """None for a provider whose list says nothing about what calls name: the answer is always unknown."""
        self._provider = provider
        self._decides = PROFILES[provider].decides
        self._local = PROFILES[provider].vendors == ()
        self._refresh_after = refresh_after
        self._clock = clock
        self._monotonic = monotonic
        self._timeout = timeout
        self._served: ServedModels | None = None
        self._asked_at: float | None = None
        self._in_flight: anyio.Event | None = None
        self._failure: str | None = None
        self._gone: set[str] = set()
        """Models the provider answered model_not_found for, though its list (or the catalog) still had them."""

    async def served(self) -> ServedModels | None:
        """The provider's list (asked once, refreshed after `refresh_after` s), or None when it is unknown."""
        if self._asked_at is not None and self._monotonic() - self._asked_at < self._refresh_after:
            return self._served
        if self._in_flight is not None:
            await self._in_flight.wait()
            return self._served
        self._in_flight = anyio.Event()
        try:
            await self._ask()
        finally:
            self._in_flight.set()
            self._in_flight = None
        return self._served

    async def is_served(self, model: str) -> bool | None:
        """True or False from the provider's list; None when the provider has no usable list."""
        if self._key(model) in self._gone:
            return False
        served = await self.served()
        return None if served is None else served.get(model) is not None

    async def shutdown_date(self, model: str) -> date | None:
        """When the model shuts (or shut) down: the provider's date when it gives one, else the catalog's."""
        served = await self.served()
        listed = served.get(model) if served is not None else None
        if listed is not None and listed.shutdown_date is not None:
            return listed.shutdown_date
        lifecycle = self.lifecycle(model)
        return lifecycle.shutdown if lifecycle is not None else None

    def today(self) -> date:
        """The server clock's date, against which shutdown dates are past or to come."""
        return self._clock.today()

    def lifecycle(self, model: str) -> Lifecycle | None:
        """The catalog's lifecycle on this provider, as updated by what the provider answered during this process."""
        spec = self._catalog.lookup(model)
        if spec is None:
            return Lifecycle(Status.SHUT_DOWN) if self._key(model) in self._gone else None
        lifecycle = spec.lifecycle_at(self._provider.value)
        if self._key(spec.name) in self._gone:
            return replace(lifecycle, status=Status.SHUT_DOWN)
        return lifecycle

    def mark_shut_down(self, model: str) -> None:
        """Remember for the rest of the process that the provider answered model_not_found for this model."""
        spec = self._catalog.lookup(model)
        self._gone.add(self._key(spec.name if spec is not None else model))
        log.info("%s is not served by the provider (it answered model_not_found); it counts as shut down now", model)

    async def lifecycle_problem(self, model: str) -> str | None:
        """Why a call naming a shut-down model should be refused before any request, or None to let it go.

        It is refused when the model is shut down (catalog, or a model_not_found seen earlier) and the provider's
        list lacks it, or when the list is unknown and the provider is OpenAI itself. A gateway whose list still
        serves the model lets it through.
        """
        lifecycle = self.lifecycle(model)
        if lifecycle is None or not self._retired(lifecycle):
            return None
        served = await self.served()
        if self._key(model) not in self._gone:
            if served is not None and served.get(model) is not None:
                return None
            if served is None and not self._decides and not self._own_dates(model):
                return None
        name = self._catalog.canonical_name(model)
        advice = Lifecycle(replacements=self._served_replacements(model, lifecycle, served)).advice()
        return f"{self._retirement(name, lifecycle)}; {advice or 'pick another model'}."

    async def advice(self, model: str) -> str:
        """What to use instead of a model going away, naming only replacements this provider serves ("use A
        (fast) or B"); empty when it serves none of them."""
        lifecycle = self.lifecycle(model)
        if lifecycle is None:
            return ""
        served = await self.served()
        return Lifecycle(replacements=self._served_replacements(model, lifecycle, served)).advice()

    async def resolve_default(
        self, configured: str, kind: ModelKind, endpoint: ImageEndpoint | None = None, notice_days: int = 0
    ) -> DefaultChoice:
        """The model a call that names none uses: the configured default if served; else, among the models that do
        `endpoint`, its replacement chain, the catalog's defaults for the kind, then the best catalogued model the
        provider lists (active before deprecated, newest first). A default that still works but shuts down within
        `notice_days` gives way to the first of its replacements that is served and not going away as soon."""
        served = await self.served()
        if self._usable(configured, served):
            early = await self._moved_early(configured, endpoint, served, notice_days)
            return early or DefaultChoice(configured)
        chain = self._catalog.replacements(configured)
        why = self._unavailable(configured, served)
        candidates = [
            *((candidate, "its replacement") for candidate in chain),
            *self._fallbacks(kind, chain),
            *self._best_served(kind, endpoint, served),
            *self._only_served(served),
        ]
        for candidate, relation in candidates:
            if self._usable(candidate, served) and self._offers(candidate, endpoint):
                listed = served.get(candidate) if served is not None else None
                chosen = listed.id if listed is not None else candidate
                return DefaultChoice(chosen, f"{why}; using {chosen}, {relation}")
        return DefaultChoice(configured, f"{why}, and no catalogued alternative is served; trying it anyway")

    # --- internals ---

    async def _moved_early(
        self, configured: str, endpoint: ImageEndpoint | None, served: ServedModels | None, notice_days: int
    ) -> DefaultChoice | None:
        """The replacement a default shutting down within `notice_days` gives way to, or None to keep it."""
        shutdown = await self.shutdown_date(configured)
        days = (shutdown - self.today()).days if shutdown is not None else 0
        if shutdown is None or not 0 < days <= notice_days:
            return None
        for candidate in self._catalog.replacements(configured):
            if not (self._usable(candidate, served) and self._offers(candidate, endpoint)):
                continue
            later = await self.shutdown_date(candidate)
            if later is None or later > shutdown:
                listed = served.get(candidate) if served is not None else None
                chosen = listed.id if listed is not None else candidate
                name = self._catalog.canonical_name(configured)
                when = "tomorrow" if days == 1 else f"in {days} days"
                reason = f"{name} shuts down on {shutdown} ({when}), so its replacement {chosen} is used already"
                return DefaultChoice(chosen, reason, early=True)
        return None

    async def _ask(self) -> None:
        """Ask the provider once; on failure keep what was known (nothing, at first) and log a new state once."""
        if self._lister is None:
            self._asked_at = self._monotonic()
            return
        models, failure = await self._fetch()
        self._asked_at = self._monotonic()
        if models is None:
            state, detail = failure
            if state != self._failure:
                log.warning(
                    "The provider's model list is not available (%s): %s. Trusting the catalog until it is.",
                    state,
                    detail,
                )
            self._failure = state
            return
        self._served = ServedModels.of(models)
        if self._failure is not None:
            log.info("The provider's model list is available again.")
        self._failure = None
        log.info("The provider lists %d models.", len(self._served.by_name))

    async def _fetch(self) -> tuple[Sequence[ServedModel] | None, tuple[str, str]]:
        """The list, or None with (failure state, detail)."""
        assert self._lister is not None
        with anyio.move_on_after(self._timeout):
            try:
                return await self._lister(), ("", "")
            except ConfigurationError as exc:
                return None, ("no API key", str(exc))
            except ImageServerError as exc:
                return None, (_failure_state(exc), str(exc))
        return None, ("no answer", f"no answer within {self._timeout:g} s")

    def _key(self, model: str) -> str:
        return self._catalog.canonical_name(model).lower()

    def _own_dates(self, model: str) -> bool:
        """Whether the catalog gives this provider's own lifecycle for the model (then its dates decide)."""
        spec = self._catalog.lookup(model)
        return spec is not None and self._provider.value in spec.lifecycle_on

    def _retired(self, lifecycle: Lifecycle) -> bool:
        shut = lifecycle.status is Status.SHUT_DOWN
        return shut or (lifecycle.shutdown is not None and lifecycle.shutdown <= self._clock.today())

    def _usable(self, model: str, served: ServedModels | None) -> bool:
        """Served by this provider; with the list unknown, not seen gone and (on OpenAI) not shut down."""
        if self._key(model) in self._gone:
            return False
        if served is not None:
            return served.get(model) is not None
        lifecycle = self.lifecycle(model)
        authoritative = self._decides or self._own_dates(model)
        return not authoritative or lifecycle is None or not self._retired(lifecycle)

    def _fallbacks(self, kind: ModelKind, chain: list[str]) -> list[tuple[str, str]]:
        relation = f"the first of the catalog's {kind} models this provider serves"
        return [(name, relation) for name in self._catalog.defaults(kind) if name not in chain]

    def _best_served(
        self, kind: ModelKind, endpoint: ImageEndpoint | None, served: ServedModels | None
    ) -> list[tuple[str, str]]:
        """Every catalogued model of the kind the provider lists, the best first: what a provider that serves none
        of the catalog's defaults still offers."""
        if served is None:
            return []
        task = f" for {endpoint}" if endpoint is not None else ""
        relation = f"the best {kind} model this provider serves{task}"
        listed = [spec for spec in self._catalog.of_kind(kind) if served.get(spec.name) is not None]
        tiers = (Status.ACTIVE, Status.DEPRECATED, Status.SHUT_DOWN)
        ranked = sorted(listed, key=lambda spec: tiers.index(self._status(spec.lifecycle)))
        return [(spec.name, relation) for spec in ranked]

    def _only_served(self, served: ServedModels | None) -> list[tuple[str, str]]:
        """A local server that serves one model (vLLM-Omni serves one per server): that model."""
        if not self._local or served is None or len(served.by_name) != 1:
            return []
        return [(served.ids()[0], "the only model this server serves")]

    def _status(self, lifecycle: Lifecycle) -> Status:
        """The lifecycle's status as of today: a deprecated model whose date has passed is shut down."""
        return Status.SHUT_DOWN if self._retired(lifecycle) else lifecycle.status

    def _offers(self, model: str, endpoint: ImageEndpoint | None) -> bool:
        """Whether a catalogued model does `endpoint` (a model outside the catalog is taken on trust)."""
        spec = self._catalog.lookup(model)
        return endpoint is None or spec is None or endpoint in spec.endpoints

    def _served_replacements(
        self, model: str, lifecycle: Lifecycle, served: ServedModels | None
    ) -> tuple[Replacement, ...]:
        """The named replacements the provider serves; else the nearest served model of the chain."""
        named = tuple(r for r in lifecycle.replacements if self._usable(r.model, served))
        if named:
            return named
        spec = self._catalog.lookup(model)
        kind = spec.kind if spec is not None else ModelKind.IMAGE
        chain = self._catalog.replacements(model)
        for candidate in [*chain, *(name for name, _ in self._fallbacks(kind, chain))]:
            if self._usable(candidate, served):
                return (Replacement(candidate),)
        return ()

    def _retirement(self, name: str, lifecycle: Lifecycle) -> str:
        if self._key(name) in self._gone and (lifecycle.shutdown is None or lifecycle.shutdown > self._clock.today()):
            return f"{name} is not served by this provider any more (it answered model_not_found)"
        text = f"{name} was shut down by {lifecycle.owner} on {lifecycle.shutdown}"
        return text if self._decides else f"{text}, and this provider does not serve it"

    def _unavailable(self, model: str, served: ServedModels | None) -> str:
        """Why the configured default cannot be used: not in the list, or (list unknown) shut down by OpenAI."""
        name = self._catalog.canonical_name(model)
        lifecycle = self.lifecycle(model)
        shutdown = lifecycle.shutdown if lifecycle is not None and self._retired(lifecycle) else None
        if served is None and self._key(model) not in self._gone:
            return f"{name} was shut down by {lifecycle.owner if lifecycle else 'OpenAI'} on {shutdown}"
        why = f" (shut down {shutdown})" if shutdown is not None else ""
        return f"{name} is not served by this provider{why}"


def _failure_state(error: ImageServerError) -> str:
    """A short name for why the list is missing; the same name twice in a row is logged once."""
    status = getattr(error, "status", None)
    if status is None:
        return "unreachable"
    return "not a model list" if status == 200 else f"HTTP {status}"
