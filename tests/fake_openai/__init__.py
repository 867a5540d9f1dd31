"""An emulated OpenAI API for the tests, checked against the official OpenAPI contract."""

from .app import Fault, RecordedRequest, UploadedFile
from .server import Emulator, running_emulator

__all__ = ["Emulator", "Fault", "RecordedRequest", "UploadedFile", "running_emulator"]
