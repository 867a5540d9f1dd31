"""Where images live. Only this package touches the output folder or the bucket."""

from .base import ImageNotFoundError, JobBoard, JobState, Store
from .local import LocalStore, write_atomic
from .records import URI_SCHEME, ImageRecord, NewImage, Operation, image_uri

__all__ = [
    "URI_SCHEME",
    "ImageNotFoundError",
    "ImageRecord",
    "JobBoard",
    "JobState",
    "LocalStore",
    "NewImage",
    "Operation",
    "Store",
    "image_uri",
    "write_atomic",
]
