"""An emulated OpenAI API for the tests, checked against the official OpenAPI contract."""

from .app import Fault, Hold, RecordedRequest, Switches, UploadedFile
from .server import Emulator, running_emulator

__all__ = ["Emulator", "Fault", "Hold", "RecordedRequest", "Switches", "UploadedFile", "running_emulator"]
