"""Image references: parse any form, read it safely, hand back checked image bytes."""

from .fetch import UrlFetcher
from .refs import RefError
from .resolver import ImageResolver, InputImage

__all__ = ["ImageResolver", "InputImage", "RefError", "UrlFetcher"]
