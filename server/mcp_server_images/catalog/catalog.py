"""`Catalog`: the models this server knows, built once at start-up and passed down to whatever needs it.

It answers questions about names (aliases, dated snapshots, the provider's spelling), capabilities (which models
take a parameter or a value), request checks, and lifecycle (the chain of replacements of a retired model).
What the provider actually serves is `ModelDirectory`'s business (discovery.py); the catalog is what we know
without asking. A signed feed (feed.py) may replace what it knows while the server runs: `update` swaps the whole
table at once, so every holder of the catalog sees the new one from its next question, never half of each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from ..providers import PROFILES, Naming, ProviderKind
from . import checks
from .load import PROVIDER_PREFIX, CatalogData, canonical_name, load_catalog
from .options import ImageOptions, option
from .spec import ImageEndpoint, ModelKind, ModelSpec, Status

_SNAPSHOT = re.compile(r"^(?P<base>.+)-\d{4}-\d{2}-\d{2}$")
_TIERS = (Status.ACTIVE, Status.DEPRECATED, Status.SHUT_DOWN)


@dataclass(frozen=True)
class InForce:
    """Which catalog is in force, as list_models and doctor tell it: its serial, where it came from and how old
    its facts are."""

    serial: int | None
    source: str
    """"shipped with the package", "the feed URL" or "the cached copy of the feed URL"."""
    published: date | None = None
    """The date its facts are as of, when the document gives it."""
    fetched: datetime | None = None
    """When a feed's copy was fetched (None for the shipped catalog)."""
    valid_until: date | None = None

    def describe(self, today: date) -> str:
        """One line: "serial 2026120700, shipped with the package, facts as of 2026-12-07 (13 days old)"."""
        parts = [f"serial {self.serial}" if self.serial is not None else "no serial", self.source]
        if self.published is not None:
            age = (today - self.published).days
            parts.append(f"facts as of {self.published}" + (f" ({_days(age)} old)" if age >= 0 else ""))
        if self.fetched is not None:
            parts.append(f"fetched {self.fetched:%Y-%m-%d %H:%M} UTC")
        if self.valid_until is not None:
            parts.append(f"valid until {self.valid_until}")
        return ", ".join(parts)


SHIPPED_SOURCE = "shipped with the package"


@dataclass(frozen=True)
class _Table:
    models: dict[str, ModelSpec]
    defaults: dict[ModelKind, tuple[str, ...]]
    by_name: dict[str, ModelSpec]
    in_force: InForce


class Catalog:
    """Model specs by name, with the checks and hints built on them."""

    def __init__(self, data: CatalogData, in_force: InForce | None = None) -> None:
        self._table = _table(data, in_force)

    @classmethod
    def load(cls, user_file: Path | None = None) -> Catalog:
        """The shipped table, with the user's file (MCP_IMAGES_MODELS_FILE) merged on top when given."""
        return cls(load_catalog(user_file))

    def update(self, data: CatalogData, in_force: InForce | None = None) -> None:
        """Replace the whole table in one step: a feed's newer catalog, or (no `in_force`) the shipped one again."""
        self._table = _table(data, in_force)

    @property
    def in_force(self) -> InForce:
        return self._table.in_force

    def __iter__(self) -> Iterator[ModelSpec]:
        """Every model, in catalog order (newest image models first, then vision models)."""
        return iter(self._table.models.values())

    def of_kind(self, kind: ModelKind) -> list[ModelSpec]:
        return [spec for spec in self if spec.kind is kind]

    def defaults(self, kind: ModelKind) -> tuple[str, ...]:
        """Models to fall back on, in order, when the configured default of this kind is not served."""
        return self._table.defaults.get(kind, ())

    def lookup(self, model: str) -> ModelSpec | None:
        """The entry for a model in any spelling: alias, `openai/` prefix, or a dated snapshot of a known model."""
        by_name = self._table.by_name
        name = canonical_name(model).lower()
        if name in by_name:
            return by_name[name]
        snapshot = _SNAPSHOT.match(name)
        return by_name.get(snapshot.group("base")) if snapshot else None

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


def _table(data: CatalogData, in_force: InForce | None) -> _Table:
    specs = data.models.values()
    by_name = {canonical_name(name).lower(): spec for spec in specs for name in (spec.name, *spec.aliases)}
    header = data.header
    shipped = InForce(header.serial, SHIPPED_SOURCE, header.published)
    return _Table(data.models, data.defaults, by_name, in_force or shipped)


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


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
