"""A catalog feed as a team would publish one: a TOML document and its detached Ed25519 signature (`.sig`) on a
loopback HTTP server the test starts, signed with a key pair the test makes.

The server answers `GET /models.toml` and `GET /models.toml.sig` with what the test set; it counts the requests it
got, and can hold them (`hold()` ... `release()`), so a test sees a fetch that never ends without sleeping.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DOCUMENT_PATH = "/models.toml"


class SigningKey:
    """A key pair of the test's own: the private half signs, the public half goes into MCP_IMAGES_CATALOG_KEYS."""

    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()

    @property
    def public(self) -> str:
        """The public key as MCP_IMAGES_CATALOG_KEYS takes it: the base64 of its raw 32 bytes."""
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def signature(self, document: bytes) -> bytes:
        """The `.sig` file's content: the base64 of the 64-byte signature over the document's exact bytes."""
        return base64.b64encode(self.private.sign(document)) + b"\n"

    def pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def raw(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )


def feed_document(serial: int, valid_until: date, models: str = "", *, published: date | None = None) -> bytes:
    """A feed document: its header, then the models.toml tables it changes or adds."""
    header = f"serial = {serial}\nvalid_until = {valid_until.isoformat()}\n"
    if published is not None:
        header += f"published = {published.isoformat()}\n"
    return (header + "\n" + models.strip() + "\n").encode()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away (a server under test cancelled a held fetch) is no error of the feed's."""


class FeedServer:
    """The feed on a loopback port; `publish` sets what it serves."""

    def __init__(self) -> None:
        self.document = b""
        self.signature = b""
        self.requests: list[str] = []
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with feed._lock:
                    feed.requests.append(self.path)
                feed._open.wait()
                body = {DOCUMENT_PATH: feed.document, DOCUMENT_PATH + ".sig": feed.signature}.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("content-type", "application/toml" if self.path == DOCUMENT_PATH else "text/plain")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{DOCUMENT_PATH}"

    def publish(self, document: bytes, key: SigningKey, *, signed: bytes | None = None) -> None:
        """Serve `document` with its signature by `key` (or with `signed`'s signature: a tampered copy)."""
        self.document = document
        self.signature = key.signature(document if signed is None else signed)

    def count(self, path: str = DOCUMENT_PATH) -> int:
        with self._lock:
            return self.requests.count(path)

    def hold(self) -> None:
        """Every request waits, unanswered, until `release`."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    @contextmanager
    def running(self) -> Iterator[FeedServer]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.release()
            self._server.shutdown()
            self._server.server_close()
            thread.join()
