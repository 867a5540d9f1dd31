"""OpenAI-compatible HTTP API access. Nothing outside this package builds a URL or parses an error body."""

from .chat import ChatAnswer, ChatAPI, vision_body
from .client import UpstreamClient
from .errors import UpstreamError
from .models import ModelsAPI
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
from .retry import RetryPolicy

__all__ = [
    "ChatAPI",
    "ChatAnswer",
    "ImagesAPI",
    "ImagesAnswer",
    "ModelsAPI",
    "PartialHandler",
    "ReceivedImage",
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
