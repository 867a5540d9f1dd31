"""OpenAI-compatible HTTP API access. Nothing outside this package builds a URL or parses an error body.

Images come from three APIs behind one seam (`base.ImageBackend`): the Images API, chat-completions image output
and the Responses API's image_generation tool. Vision (`ChatAPI.describe`) is Chat Completions as well.
"""

from .base import (
    AnswerItem,
    ImageBackend,
    ImageRequest,
    ImagesAnswer,
    PartialHandler,
    PartialStream,
    ReceivedImage,
    StreamEndedEarlyError,
    UnusableItem,
    Upload,
    UsagePart,
    sum_usage,
)
from .chat import ChatAnswer, ChatAPI, VisionRequest
from .chat_images import ChatImagesAPI
from .client import UpstreamClient
from .errors import UpstreamError
from .models import ModelsAPI
from .openai_images import ImagesAPI, edits_refused
from .redact import Redactor
from .responses import ResponsesAPI
from .retry import RetryPolicy

__all__ = [
    "AnswerItem",
    "ChatAPI",
    "ChatAnswer",
    "ChatImagesAPI",
    "ImageBackend",
    "ImageRequest",
    "ImagesAPI",
    "ImagesAnswer",
    "ModelsAPI",
    "PartialHandler",
    "PartialStream",
    "ReceivedImage",
    "Redactor",
    "ResponsesAPI",
    "RetryPolicy",
    "StreamEndedEarlyError",
    "UnusableItem",
    "Upload",
    "UpstreamClient",
    "UpstreamError",
    "UsagePart",
    "VisionRequest",
    "edits_refused",
    "sum_usage",
]
