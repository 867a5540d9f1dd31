"""Sizes: WIDTHxHEIGHT as tools take them, and as aspect ratios and resolution tiers for models that take those.

xAI's image API takes `aspect_ratio` (1:1, 16:9, 9:19.5, ...) and `resolution` (1k, 2k) instead of `size`
(docs.x.ai image generation, world-2026-12.md). A size a user gives is translated: its exact ratio, and the
smallest tier that covers its long side; a size whose ratio the model does not take is refused before anything is
sent, naming the ratios that work. `auto` lets the model choose.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

_SIZE = re.compile(r"^(?P<w>[1-9]\d{1,4})x(?P<h>[1-9]\d{1,4})$")
RATIO_TOLERANCE = 0.01
"""How far (as a fraction) a size's ratio may be from a listed one and still be it (1366x768 is 16:9)."""


def parse_size(size: str) -> tuple[int, int] | None:
    """(width, height) of a WxH size string, or None for 'auto' and malformed strings."""
    match = _SIZE.match(size.strip().lower())
    return (int(match.group("w")), int(match.group("h"))) if match else None


def ratio_value(ratio: str) -> float:
    """`16:9` as 16/9; `9:19.5` works too."""
    across, _, down = ratio.partition(":")
    return float(across) / float(down)


def tier_pixels(resolution: str) -> int:
    """The long side of a resolution tier: `1k` is 1024 px, `2K` 2048."""
    return int(float(resolution.lower().removesuffix("k")) * 1024)


def exact_ratio(width: int, height: int, ratios: Sequence[str]) -> str | None:
    """The listed ratio a size has, or None."""
    wanted = width / height
    for ratio in ratios:
        if ratio != "auto" and abs(ratio_value(ratio) - wanted) <= RATIO_TOLERANCE * wanted:
            return ratio
    return None


def nearest_ratio(width: int, height: int, ratios: Sequence[str]) -> str:
    wanted = math.log(width / height)
    listed = [ratio for ratio in ratios if ratio != "auto"]
    return min(listed, key=lambda ratio: abs(math.log(ratio_value(ratio)) - wanted))


def covering_tier(long_side: int, resolutions: Sequence[str]) -> str | None:
    """The smallest tier whose long side covers `long_side`, or None when none does."""
    fitting = [tier for tier in resolutions if tier_pixels(tier) >= long_side]
    return min(fitting, key=tier_pixels) if fitting else None


def aspect_request(size: str, ratios: Sequence[str], resolutions: Sequence[str]) -> tuple[str, str | None]:
    """(aspect_ratio, resolution) for a size: its ratio (the nearest one for a model the catalog does not check)
    and the tier covering its long side (the largest when none does); `auto` is ("auto", None)."""
    dims = parse_size(size)
    if dims is None:
        return "auto", None
    ratio = exact_ratio(*dims, ratios) or nearest_ratio(*dims, ratios)
    tier = covering_tier(max(dims), resolutions) or max(resolutions, key=tier_pixels)
    return ratio, tier


def size_problem(size: str, ratios: Sequence[str], resolutions: Sequence[str]) -> str | None:
    """Why a size has no ratio and tier the model takes, or None when it has."""
    if size == "auto":
        return None if "auto" in ratios else "this model takes no 'auto' size"
    dims = parse_size(size)
    if dims is None:
        return None  # malformed sizes are refused by the generic check
    if exact_ratio(*dims, ratios) is None:
        listed = ", ".join(ratios)
        return f"its aspect ratio is none of those the model takes ({listed}); use a size in one of them"
    if resolutions and covering_tier(max(dims), resolutions) is None:
        largest = max(resolutions, key=tier_pixels)
        return f"its long side is above {tier_pixels(largest)} px, the model's largest resolution ({largest})"
    return None
