"""OpenAI-compatible HTTP API access. Nothing outside this package builds a URL or parses an error body.

Images come from three APIs behind one seam (`base.ImageBackend`): the Images API, chat-completions image output
and the Responses API's image_generation tool. Vision (`ChatAPI.describe`) is Chat Completions as well.
"""

from .base import (
    AnswerItem,
    Capabilities,
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
    Varies,
    sum_usage,
)
from .chat import ChatAnswer, ChatAPI, VisionRequest
from .chat_images import ChatImagesAPI
from .client import UpstreamClient
from .errors import UpstreamError
from .model_list import ModelsAPI
from .openai_images import ImagesAPI
from .redact import Redactor
from .responses import ResponsesAPI
from .retry import RetryPolicy

__all__ = [
    "AnswerItem",
    "Capabilities",
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
    "Varies",
    "VisionRequest",
    "sum_usage",
]
