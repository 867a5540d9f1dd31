"""Estimates that learn from what calls actually cost.

The catalog's estimates come from published per-image figures, which drift from what a provider bills (a new
model's token use, a gateway's own prices, an output format that bills extra). Every priced call's ledger entry
keeps the estimate beside the actual cost, with the model, operation, quality, size and output format asked for
(an edit also pays for its input images, an SVG for its authoring). Once enough calls alike have been paid for,
the next estimate for one like them is the median of their recent costs per image, and says so ("about $0.050,
from your last 12 calls like it"). Budgets reserve the higher of that and the catalog's figure, so a cheaper
history never lets a call slip past a cap the published price would have hit.

The ledger is read, never written, here: the spend reservation records the entries (operations/ledger.py), and
ledger_totals.py keeps the costs of the latest calls alike as entries come.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from ..store.base import LedgerEntry
from .cost import Estimate, usd

ENOUGH = 3
"""Calls alike needed before their recorded costs replace the catalog's estimate."""
WINDOW = 20
"""The most recent calls alike whose costs count (prices move; old calls stop counting)."""


@dataclass(frozen=True)
class Alike:
    """What makes two calls' costs per image comparable: the model and what they asked of it."""

    model: str
    operation: str | None
    quality: str | None
    size: str | None
    output_format: str | None

    @classmethod
    def of(cls, model: str, operation: str, parameters: Mapping[str, object]) -> Alike:
        """From a quote's model, operation and parameters (`quality`, `size`, `output_format` when given)."""
        quality, size, output_format = (_text(parameters.get(name)) for name in ("quality", "size", "output_format"))
        return cls(model.lower(), operation, quality, size, output_format)

    @classmethod
    def of_entry(cls, entry: LedgerEntry) -> Alike:
        return cls((entry.model or "").lower(), entry.operation, entry.quality, entry.size, entry.output_format)


def informed(estimate: Estimate, costs: list[float], n: object) -> Estimate:
    """The estimate of a call of `n` images from the exact costs per image of the latest calls alike (oldest first,
    at most WINDOW: ledger_totals keeps them) when enough were paid for, else the catalog's as it is."""
    if len(costs) < ENOUGH:
        return estimate
    images = n if isinstance(n, int) and n > 0 else 1
    amount = statistics.median(costs) * images
    basis = f"about {usd(amount)}, from your last {len(costs)} calls like it (the median cost per image"
    basis += f" x {images} images)" if images > 1 else ")"
    published = estimate.amount
    if published is None:
        return Estimate(amount, f"{basis}; the catalog has no figure ({estimate.basis})")
    basis += f"; the catalog's figure is {usd(published)}"
    if published > amount:
        basis += ", which budgets reserve"
    return Estimate(amount, basis, reserve=published)


@dataclass(frozen=True)
class ModelCosts:
    """One model's calls of a period: what they cost per image, and how far their estimates were off."""

    model: str
    calls: int
    images: int
    spent: float
    estimated: float
    """The sum of the estimates of the calls that have both an estimate and an exact cost."""
    actual: float
    """The sum of the exact costs of those same calls."""
    compared: int
    """How many calls that is."""

    @property
    def per_image(self) -> float | None:
        return self.spent / self.images if self.images else None

    @property
    def off(self) -> float | None:
        """How far the estimates were from the costs, as a fraction of the costs (+0.25: 25% too high)."""
        return self.estimated / self.actual - 1 if self.compared and self.actual > 0 else None


def _text(value: object) -> str | None:
    return None if value is None else str(value)
