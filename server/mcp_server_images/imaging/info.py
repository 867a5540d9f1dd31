"""What the server knows about image bytes once they passed the checks: type, size, transparency, frames."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ImageServerError

SVG_MIME = "image/svg+xml"
GIF_MIME = "image/gif"
MIME_BY_FORMAT = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": GIF_MIME, "SVG": SVG_MIME}
"""Pillow's format names (and SVG, which Pillow does not read) to mime types."""
EXTENSION_BY_MIME = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", GIF_MIME: "gif", SVG_MIME: "svg"}


class NotAnImageError(ImageServerError):
    """Bytes that are not an image the server can read, or that break its limits."""


@dataclass(frozen=True)
class ImageInfo:
    mime_type: str
    width: int
    height: int
    has_alpha: bool
    frames: int = 1
    """More than one for an animated GIF."""

    @property
    def extension(self) -> str:
        return EXTENSION_BY_MIME[self.mime_type]

    @property
    def animated(self) -> bool:
        return self.frames > 1

    @property
    def vector(self) -> bool:
        """SVG: text, drawn at any size; shown and sent upstream only as a rasterized copy."""
        return self.mime_type == SVG_MIME
