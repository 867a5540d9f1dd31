"""Where images live. Only this package touches the output folder or the bucket."""

from .base import ImageNotFoundError, JobBoard, JobState, KeyRecord, Store
from .files import write_atomic
from .local import LocalStore
from .records import URI_SCHEME, ImageRecord, NewImage, Operation, image_uri

__all__ = [
    "URI_SCHEME",
    "ImageNotFoundError",
    "ImageRecord",
    "JobBoard",
    "JobState",
    "KeyRecord",
    "LocalStore",
    "NewImage",
    "Operation",
    "Store",
    "image_uri",
    "write_atomic",
]
