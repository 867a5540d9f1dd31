"""Where images live. Only this package touches the output folder."""

from .local import ImageNotFoundError, ImageStore, write_atomic
from .records import URI_SCHEME, ImageRecord, NewImage, Operation, image_uri

__all__ = [
    "URI_SCHEME",
    "ImageNotFoundError",
    "ImageRecord",
    "ImageStore",
    "NewImage",
    "Operation",
    "image_uri",
    "write_atomic",
]
