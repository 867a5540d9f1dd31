"""The module-level catalog API operations and backends still call, served by a default `Catalog`.

Transitional: it is built from the shipped table only (no user file) and goes away once callers receive the
`Catalog` built from settings at start-up.
"""

from __future__ import annotations

from .catalog import Catalog
from .checks import ImageOptions, parse_size
from .load import canonical_name
from .spec import Family, FreeSizeRule, ImageEndpoint, ModelSpec

DEFAULT_CATALOG = Catalog.load()

lookup = DEFAULT_CATALOG.lookup
validate = DEFAULT_CATALOG.validate
wire_name = Catalog.wire_name

__all__ = [
    "DEFAULT_CATALOG",
    "Family",
    "FreeSizeRule",
    "ImageEndpoint",
    "ImageOptions",
    "ModelSpec",
    "canonical_name",
    "lookup",
    "parse_size",
    "validate",
    "wire_name",
]
