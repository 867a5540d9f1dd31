"""OpenAI-compatible HTTP API access. Nothing outside this package builds a URL or parses an error body."""

from .chat import ChatAnswer, ChatAPI, vision_body
from .client import UpstreamClient
from .errors import UpstreamError
from .openai_images import (
    ImagesAnswer,
    ImagesAPI,
    PartialHandler,
    ReceivedImage,
    StreamEndedEarlyError,
    edit_fields,
    generation_body,
    image_parts,
    variation_fields,
)
from .redact import Redactor
from .retry import RetryPolicy

__all__ = [
    "ChatAPI",
    "ChatAnswer",
    "ImagesAPI",
    "ImagesAnswer",
    "PartialHandler",
    "ReceivedImage",
    "Redactor",
    "RetryPolicy",
    "StreamEndedEarlyError",
    "UpstreamClient",
    "UpstreamError",
    "edit_fields",
    "generation_body",
    "image_parts",
    "variation_fields",
    "vision_body",
]
