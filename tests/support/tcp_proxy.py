"""A TCP proxy on a loopback port that a test can freeze: a bucket that stops answering, as a frozen S3 server does.

Frozen, it still accepts connections (the kernel would) but carries no byte either way until it is thawed; calls
through it then hang until their own timeouts give up, which is what the server's store deadline is for.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

from tests.support.servers import free_port

CHUNK = 65536


class FreezableProxy:
    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", self.port))

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def serve(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def close(self) -> None:
        """Stop: the listener is shut down first, which wakes the accept that `serve` waits in (closing alone does
        not), so the serving thread ends without waiting on a timeout (a timed wait can hang under `faketime`)."""
        self._closed.set()
        self._flowing.set()
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        for sock in [self._listener, *self._sockets]:
            with suppress(OSError):
                sock.close()

    def _connect(self, client: socket.socket) -> None:
        self._sockets.append(client)
        self._flowing.wait()
        try:
            upstream = socket.create_connection(self._target)
        except OSError:
            client.close()
            return
        self._sockets.append(upstream)
        threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
        self._pump(upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(CHUNK):
                self._flowing.wait()
                if self._closed.is_set():
                    return
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@contextmanager
def freezable_proxy(target: str) -> Iterator[FreezableProxy]:
    """A proxy to the `http://host:port` of `target`, serving until the block ends."""
    proxy = FreezableProxy(target)
    thread = threading.Thread(target=proxy.serve, name="freezable-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.close()
        thread.join()
