"""Where images live. Only this package touches the output folder."""

from .local import PARTIAL, URI_SCHEME, ImageNotFoundError, ImageRecord, ImageStore, NewImage, image_uri, write_atomic

__all__ = [
    "PARTIAL",
    "URI_SCHEME",
    "ImageNotFoundError",
    "ImageRecord",
    "ImageStore",
    "NewImage",
    "image_uri",
    "write_atomic",
]
