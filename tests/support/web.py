"""A page on another origin: a static site on its own loopback port, as a web host of MCP Apps would serve its page
from its own address while the MCP server answers at another."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged: the test reads what the page shows."""


@contextmanager
def static_site(folder: Path, host: str = "localhost") -> Iterator[str]:
    """Serve `folder` on a free loopback port; yields the site's origin (`http://localhost:PORT`)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
