"""Image references: parse any form, read it safely, hand back checked image bytes."""

from .fetch import UrlFetcher
from .refs import RefError
from .resolver import ImageResolver, InputImage

MAX_REFS = 16
"""The most images one call takes (edit inputs, images to analyze)."""

__all__ = ["MAX_REFS", "ImageResolver", "InputImage", "RefError", "UrlFetcher"]
