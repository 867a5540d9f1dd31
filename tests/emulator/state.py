"""What tests see of the emulator: the requests it received, the faults they script and the switches they flip.

The server runs in its own thread, so everything the request handlers append goes through one lock.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

DEFAULT_API_KEY = "sk-test-emulator-key-0123456789"


@dataclass
class UploadedFile:
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: dict[str, Any] | None = None
    form: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[UploadedFile]] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Fault:
    """One scripted answer that replaces the normal one for the next request to `path` (any request when None).

    `path` matches a request whose path equals it or ends with it ("/v1/images/generations" or
    "/images/generations"). A body of None becomes OpenAI's usual error body for the status; a str or bytes body
    goes out as is (text/plain unless `headers` set a content-type), which is how tests send malformed answers.
    """

    status: int = 500
    body: dict[str, Any] | str | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    path: str | None = None
    delay: float = 0.0
    drop_connection: bool = False

    def matches(self, path: str) -> bool:
        return self.path is None or path == self.path or path.endswith(self.path)


class Emulator:
    """A running emulated OpenAI API: its address and key, what it received, and the switches tests set.

    Switches (reset to these defaults by `reset()`):
    - photo_like: generated images are noise-rich photos (a 1536x1024 PNG is several MB), not small drawings.
    - delay: seconds every images request waits before answering (a slow upstream).
    - stream_interval: seconds between server-sent events; stream_end_early: stop after the partial images;
      stream_error: send an error event instead of the completed one.
    - variations_model_missing: /images/variations answers 404 model_not_found, as accounts without dall-e-2 see.
    - chat_invalid_json: a json_schema chat request gets prose instead of JSON.
    """

    def __init__(self, origin: str, api_key: str = DEFAULT_API_KEY) -> None:
        self.origin = origin
        self.base_url = f"{origin}/v1"
        self.api_key = api_key
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._files: dict[str, tuple[bytes, str]] = {}
        self._serial = 0
        self.requests: list[RecordedRequest] = []
        self.contract_violations: list[str] = []
        self.sent_images: list[bytes] = []
        self.streams_completed = 0
        self.streams_aborted = 0
        self.photo_like = False
        self.delay = 0.0
        self.stream_interval = 0.0
        self.stream_end_early = False
        self.stream_error = False
        self.variations_model_missing = False
        self.chat_invalid_json = False

    def reset(self) -> None:
        """Forget everything a test did: requests, faults, violations, served files and switches."""
        with self._lock:
            self._faults.clear()
            self._files.clear()
            self.requests.clear()
            self.contract_violations.clear()
            self.sent_images.clear()
            self.streams_completed = 0
            self.streams_aborted = 0
        self.photo_like = False
        self.delay = 0.0
        self.stream_interval = 0.0
        self.stream_end_early = False
        self.stream_error = False
        self.variations_model_missing = False
        self.chat_invalid_json = False

    def enqueue(self, *faults: Fault) -> None:
        """Script answers: each fault replaces the answer to the first later request its path matches."""
        with self._lock:
            self._faults.extend(faults)

    def requests_to(self, path_suffix: str) -> list[RecordedRequest]:
        """Requests whose path contains the fragment: "/images/generations", or "/images/" for all image calls."""
        with self._lock:
            return [request for request in self.requests if path_suffix in request.path]

    def file_url(self, name: str) -> str:
        return f"{self.origin}/files/{name}"

    def serve_file(self, name: str, data: bytes, content_type: str) -> str:
        """Publish bytes at /files/<name> (no key needed, like a CDN link); returns the absolute URL."""
        with self._lock:
            self._files[name] = (data, content_type)
        return self.file_url(name)

    # The methods below are the request handlers' side; tests use the attributes above.

    def served_file(self, name: str) -> tuple[bytes, str] | None:
        with self._lock:
            return self._files.get(name)

    def record(self, request: RecordedRequest, violations: list[str]) -> Fault | None:
        """Note a request and its contract mismatches; hand back the fault it consumes, if any."""
        with self._lock:
            self.requests.append(request)
            self.contract_violations.extend(violations)
            for fault in self._faults:
                if fault.matches(request.path):
                    self._faults.remove(fault)
                    return fault
        return None

    def note_sent_image(self, data: bytes) -> None:
        with self._lock:
            self.sent_images.append(data)

    def note_stream_end(self, *, completed: bool) -> None:
        with self._lock:
            if completed:
                self.streams_completed += 1
            else:
                self.streams_aborted += 1

    def next_serial(self) -> int:
        """A number stamped into each picture, so no two answers carry the same bytes."""
        with self._lock:
            self._serial += 1
            return self._serial
