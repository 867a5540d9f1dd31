"""`Catalog`: the models this server knows, built once at start-up and passed down to whatever needs it.

It answers questions about names (aliases, dated snapshots, the provider's spelling), capabilities (which models
take a parameter or a value), request checks, and lifecycle (the chain of replacements of a retired model).
What the provider actually serves is `ModelDirectory`'s business (discovery.py); the catalog is what we know
without asking.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ..providers import PROFILES, Naming, ProviderKind
from . import checks
from .load import PROVIDER_PREFIX, CatalogData, canonical_name, load_catalog
from .options import ImageOptions, option
from .spec import ImageEndpoint, ModelKind, ModelSpec, Status

_SNAPSHOT = re.compile(r"^(?P<base>.+)-\d{4}-\d{2}-\d{2}$")
_TIERS = (Status.ACTIVE, Status.DEPRECATED, Status.SHUT_DOWN)


class Catalog:
    """Model specs by name, with the checks and hints built on them."""

    def __init__(self, data: CatalogData) -> None:
        self._models = data.models
        self._defaults = data.defaults
        self._by_name: dict[str, ModelSpec] = {}
        for spec in data.models.values():
            for name in (spec.name, *spec.aliases):
                self._by_name[canonical_name(name).lower()] = spec

    @classmethod
    def load(cls, user_file: Path | None = None) -> Catalog:
        """The shipped table, with the user's file (MCP_IMAGES_MODELS_FILE) merged on top when given."""
        return cls(load_catalog(user_file))

    def __iter__(self) -> Iterator[ModelSpec]:
        """Every model, in catalog order (newest image models first, then vision models)."""
        return iter(self._models.values())

    def of_kind(self, kind: ModelKind) -> list[ModelSpec]:
        return [spec for spec in self if spec.kind is kind]

    def defaults(self, kind: ModelKind) -> tuple[str, ...]:
        """Models to fall back on, in order, when the configured default of this kind is not served."""
        return self._defaults.get(kind, ())

    def lookup(self, model: str) -> ModelSpec | None:
        """The entry for a model in any spelling: alias, `openai/` prefix, or a dated snapshot of a known model."""
        name = canonical_name(model).lower()
        if name in self._by_name:
            return self._by_name[name]
        snapshot = _SNAPSHOT.match(name)
        return self._by_name.get(snapshot.group("base")) if snapshot else None

    def validate(
        self,
        model: str,
        endpoint: ImageEndpoint,
        prompt: str | None,
        options: ImageOptions,
        provider: ProviderKind = ProviderKind.CUSTOM,
    ) -> ModelSpec | None:
        """Check a request before sending it to `provider` (see checks.validate); the spec, or None for an unknown
        model."""
        return checks.validate(self, model, endpoint, prompt, options, provider)

    @staticmethod
    def canonical_name(model: str) -> str:
        """The model name without a provider prefix: `openai/gpt-image-2` and `gpt-image-2` are the same model."""
        return canonical_name(model)

    @staticmethod
    def wire_name(model: str, provider: ProviderKind, vendor: str = PROVIDER_PREFIX.rstrip("/")) -> str:
        """The spelling the provider expects: Dedalus and OpenRouter want `openai/…` (`google/…` for the vendor's
        models), OpenAI, Gemini and xAI the bare name, gateways, Azure and local servers the name as typed."""
        naming = PROFILES[provider].naming
        if naming is Naming.BARE:
            return canonical_name(model)
        if naming is Naming.PREFIXED and "/" not in model:
            return f"{vendor}/{model.strip()}"
        return model.strip()

    def models_supporting(
        self,
        param: str | None = None,
        value: str | None = None,
        *,
        endpoint: ImageEndpoint | None = None,
        vendors: tuple[str, ...] | None = None,
    ) -> list[str]:
        """Image models that take a parameter (or one value of it) on an endpoint, for "use one of" hints; with
        `vendors`, only those vendors' models (the ones the provider can serve).

        Only the best lifecycle tier that has any is named: active models, else deprecated ones, else shut-down
        ones (gateways may still serve those), so a hint never sends the caller to a model about to go away
        when a lasting one would do.
        """
        found = [
            spec
            for spec in self.of_kind(ModelKind.IMAGE)
            if (vendors is None or spec.vendor in vendors) and _takes(spec, param, value, endpoint)
        ]
        for tier in _TIERS:
            names = [spec.name for spec in found if spec.lifecycle.status is tier]
            if names:
                return names
        return []

    def replacements(self, model: str) -> list[str]:
        """The replacement chain of a model, nearest first: its replacements, then theirs, without repeats."""
        start = self.lookup(model)
        if start is None:
            return []
        chain: list[str] = []
        queue = [start]
        seen = {start.name}
        while queue:
            for replacement in queue.pop(0).lifecycle.replacements:
                spec = self.lookup(replacement.model)
                if spec is not None and spec.name not in seen:
                    seen.add(spec.name)
                    chain.append(spec.name)
                    queue.append(spec)
        return chain


def _takes(spec: ModelSpec, param: str | None, value: str | None, endpoint: ImageEndpoint | None) -> bool:
    endpoints = [endpoint] if endpoint is not None else list(ImageEndpoint)
    for where in endpoints:
        if where not in spec.endpoints:
            continue
        if param is None:
            return True
        row = option(param)
        if row.taken_by(spec, where) if value is None else value in row.values(spec, where):
            return True
    return False
