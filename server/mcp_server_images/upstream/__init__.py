"""OpenAI-compatible HTTP API access. Nothing outside this package builds a URL or parses an error body."""

from .client import UpstreamClient
from .errors import UpstreamError
from .images import ImagesAnswer, ImagesAPI, ReceivedImage, generation_body
from .retry import RetryPolicy

__all__ = [
    "ImagesAPI",
    "ImagesAnswer",
    "ReceivedImage",
    "RetryPolicy",
    "UpstreamClient",
    "UpstreamError",
    "generation_body",
]
