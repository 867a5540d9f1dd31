"""OpenAI-compatible HTTP API access. Nothing outside this package builds a URL or parses an error body."""

from .chat import ChatAnswer, ChatAPI, VisionRequest
from .client import UpstreamClient
from .errors import UpstreamError
from .models import ModelsAPI
from .openai_images import (
    ImageRequest,
    ImagesAnswer,
    ImagesAPI,
    PartialHandler,
    PartialStream,
    ReceivedImage,
    StreamEndedEarlyError,
    Upload,
)
from .redact import Redactor
from .retry import RetryPolicy

__all__ = [
    "ChatAPI",
    "ChatAnswer",
    "ImageRequest",
    "ImagesAPI",
    "ImagesAnswer",
    "ModelsAPI",
    "PartialHandler",
    "PartialStream",
    "ReceivedImage",
    "Redactor",
    "RetryPolicy",
    "StreamEndedEarlyError",
    "Upload",
    "UpstreamClient",
    "UpstreamError",
    "VisionRequest",
]
