"""Arithmetic shared by the image use cases: how a request is split into upstream calls, and how usage adds up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def split_batches(total: int, per_request: int) -> list[int]:
    """Batch sizes: 5 images at 1 per request is [1, 1, 1, 1, 1]; at 10 per request it is [5]."""
    full, rest = divmod(total, per_request)
    return [per_request] * full + ([rest] if rest else [])


def sum_usage(usages: Any) -> dict[str, Any] | None:
    """Add up token counts of several answers (fan-out), keeping nested detail objects."""
    total: dict[str, Any] | None = None
    for usage in usages:
        if usage is None:
            continue
        total = usage if total is None else _add(total, usage)
    return total


def _add(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(left)
    for key, value in right.items():
        if isinstance(value, bool) or key not in merged:
            merged.setdefault(key, value)
        elif isinstance(value, int | float) and isinstance(merged[key], int | float):
            merged[key] = merged[key] + value
        elif isinstance(value, Mapping) and isinstance(merged[key], Mapping):
            merged[key] = _add(merged[key], value)
    return merged
