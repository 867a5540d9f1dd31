"""The providers a server speaks to, and which of them serves a call's model.

One provider is the simple case: every call goes to it, as before. With several (a providers file), a call's
model is routed before anything is paid:
1. `model@name` names the provider (the last `@` followed by a provider's name; otherwise `@` is part of the model);
2. else the provider that serves the model: by the `models` its entry in the providers file lists, else by its own
   model list (`GET /models`);
3. else a provider that gives no list may serve anything, so it is chosen when it is the only such candidate (for a
   catalogued model, only providers that serve its vendor count: xAI for grok, Google for gemini).
When more than one provider could serve the model the call is refused naming the choices (`model@a`, `model@b`);
when none can, it is refused naming the providers and what each serves.

The defaults per task (generate, edit, vision) come from the providers file's [defaults], else from the settings
(MCP_IMAGES_DEFAULT_MODEL, MCP_IMAGES_VISION_MODEL); each is routed the same way, and where no provider serves it,
the first provider (in the file's order) whose own replacements or catalog defaults it serves is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..backends.base import ImageBackend
from ..backends.chat import ChatAPI
from ..catalog.catalog import Catalog
from ..catalog.discovery import DefaultChoice, ModelDirectory
from ..catalog.feed import FeedStatus
from ..catalog.spec import Api, ImageEndpoint, ModelKind
from ..errors import ParameterError
from ..providers import Endpoint, ProviderKind


@dataclass(frozen=True)
class Models:
    """The server's catalog, what one provider serves, and the configured defaults."""

    catalog: Catalog
    directory: ModelDirectory
    provider: ProviderKind
    default_image: str
    default_vision: str

    def configured(self, kind: ModelKind) -> str:
        return self.default_image if kind is ModelKind.IMAGE else self.default_vision


@dataclass(frozen=True)
class Upstream:
    """One provider as the use cases meet it: its endpoint, its models, the image APIs it has, and Chat
    Completions for vision."""

    endpoint: Endpoint
    models: Models
    backends: Mapping[Api, ImageBackend]
    chat: ChatAPI

    @property
    def name(self) -> str:
        return self.endpoint.name

    @property
    def kind(self) -> ProviderKind:
        return self.endpoint.provider


def task_of(kind: ModelKind, endpoint: ImageEndpoint | None) -> str:
    """The providers file's task of a call: vision, edit (edits and variations) or generate."""
    if kind is ModelKind.VISION:
        return "vision"
    return "edit" if endpoint in (ImageEndpoint.EDITS, ImageEndpoint.VARIATIONS) else "generate"


@dataclass(frozen=True)
class Upstreams:
    """Every provider of the server, in the order they were configured, and the defaults per task."""

    catalog: Catalog
    all: tuple[Upstream, ...]
    defaults: Mapping[str, str]
    """Task (generate, edit, vision) -> model or model@provider, from the providers file."""
    feed: FeedStatus = field(default_factory=FeedStatus)
    """What the catalog feed did last (list_models says which catalog is in force)."""
    notice_days: int = 0
    """A default shutting down within this many days gives way to its replacement (0: only once shut down)."""
    told: set[tuple[str, str]] = field(default_factory=set, compare=False)
    """(audience, subject) pairs already said: a default moved before its shutdown is said once per session."""

    @property
    def single(self) -> bool:
        return len(self.all) == 1

    def first_time(self, audience: str | None, subject: str) -> bool:
        """Whether `audience` has not been told about `subject` yet (and from now on has); None: a caller that
        cannot be told apart from others (stateless HTTP), who is told every time."""
        if audience is None:
            return True
        heard = (audience, subject) in self.told
        self.told.add((audience, subject))
        return not heard

    def named(self, name: str) -> Upstream | None:
        return next((upstream for upstream in self.all if upstream.name == name), None)

    def split(self, requested: str) -> tuple[str, Upstream | None]:
        """`model@name` as the model and the named provider; any other string is a model alone."""
        model, at, name = requested.strip().rpartition("@")
        upstream = self.named(name) if at and model else None
        return (model, upstream) if upstream is not None else (requested.strip(), None)

    def configured(self, kind: ModelKind, endpoint: ImageEndpoint | None = None) -> str:
        """The model a call of this kind (and endpoint) uses when it names none, as configured."""
        task = task_of(kind, endpoint)
        fallback = self.defaults.get("generate") if task == "edit" else None
        return self.defaults.get(task) or fallback or self.all[0].models.configured(kind)

    async def route(self, model: str, kind: ModelKind) -> Upstream:
        """The provider that serves `model` (named without a provider); raises ParameterError when none or
        several could."""
        found = await self._candidates(model)
        if len(found) == 1:
            return found[0]
        if found:
            choices = " or ".join(f"{model}@{upstream.name}" for upstream in found)
            raise ParameterError(
                "model",
                f"{model} is served by more than one provider of this server ({', '.join(u.name for u in found)}); "
                f"say which: {choices}.",
            )
        raise ParameterError(
            "model",
            f"No provider of this server serves {model} ({await self._offered(kind)}). Name a model one of them "
            "serves (list_models shows them), or give the provider as model@NAME.",
        )

    async def default(self, kind: ModelKind, endpoint: ImageEndpoint | None) -> tuple[Upstream, DefaultChoice]:
        """The provider and model a call that names none uses; a local server that serves neither it nor anything
        the catalog knows refuses, naming what it serves (it would answer model_not_found)."""
        model, upstream = self.split(self.configured(kind, endpoint))
        upstream, choice = await self._default_on(upstream, model, kind, endpoint)
        served = await upstream.models.directory.served()
        if choice.reason and choice.model == model and upstream.endpoint.profile.vendors == () and served is not None:
            task = task_of(kind, endpoint)
            variable = "MCP_IMAGES_VISION_MODEL" if kind is ModelKind.VISION else "MCP_IMAGES_DEFAULT_MODEL"
            raise ParameterError(
                "model",
                f"No model was named, and the default {model} is not served by {upstream.endpoint.label}, which "
                f"serves {', '.join(served.ids()) or 'no model'}. Name one as model, or set {variable} (with several "
                f"providers, {task} in the [defaults] of the providers file).",
            )
        return upstream, choice

    async def _default_on(
        self, upstream: Upstream | None, model: str, kind: ModelKind, endpoint: ImageEndpoint | None
    ) -> tuple[Upstream, DefaultChoice]:
        if upstream is None and self.single:
            upstream = self.all[0]
        if upstream is None:
            found = await self._candidates(model)
            upstream = found[0] if len(found) == 1 else None
        if upstream is not None:
            return upstream, await upstream.models.directory.resolve_default(model, kind, endpoint, self.notice_days)
        for candidate in self.all:
            choice = await candidate.models.directory.resolve_default(model, kind, endpoint, self.notice_days)
            if choice.reason is None or choice.model != model:  # served, or a served alternative was found
                return candidate, choice
        first = self.all[0]
        return first, await first.models.directory.resolve_default(model, kind, endpoint, self.notice_days)

    async def _candidates(self, model: str) -> list[Upstream]:
        """The providers that list the model, else those that give no list and may serve it."""
        if self.single:
            return list(self.all)
        answers = [(upstream, await upstream.models.directory.is_served(model)) for upstream in self.all]
        listed = [upstream for upstream, served in answers if served]
        if listed:
            return listed
        spec = self.catalog.lookup(model)
        return [
            upstream
            for upstream, served in answers
            if served is None
            and (spec is None or (vendors := upstream.endpoint.profile.vendors) is None or spec.vendor in vendors)
        ]

    async def _offered(self, kind: ModelKind) -> str:
        """What each provider serves, shortly: "openai: gpt-image-2, ...; local: qwen-image"."""
        parts = []
        for upstream in self.all:
            served = await upstream.models.directory.served()
            if served is None:
                parts.append(f"{upstream.name}: no model list")
                continue
            names = [
                model_id
                for model_id in served.ids()
                if (spec := self.catalog.lookup(model_id)) is None or spec.kind is kind
            ]
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            parts.append(f"{upstream.name}: {shown or 'none'}")
        return "; ".join(parts)
