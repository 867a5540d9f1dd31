"""Serving on stdio until the input ends or a signal arrives, then shutting down the way an input end does.

The SDK reads standard input line by line in a worker thread. A thread blocked in `read()` cannot be cancelled, so
a server told to stop (Ctrl+C in a terminal, SIGTERM from a client) would wait for one more line: in a terminal,
until Enter is pressed. Here the input is read through a file whose reads also wake on a shutdown request and then
report the end of input; the server stops as it does when its client closes stdin (running jobs get the shutdown
grace period). A second signal stops it at once. Where `select` cannot wait on a console or pipe (Windows), the
plain standard input is used.
"""

from __future__ import annotations

import io
import logging
import os
import select
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
from mcp.server.mcpserver import MCPServer

from ...services import Services

log = logging.getLogger(__name__)


class _WakeableInput(io.RawIOBase):
    """Standard input (a private duplicate of it) whose reads return the end of input once `wake` is called."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._wake_read, self._wake_write = os.pipe()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        ready, _, _ = select.select([self._fd, self._wake_read], [], [])
        if self._wake_read in ready:
            return 0
        data = os.read(self._fd, len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def wake(self) -> None:
        os.write(self._wake_write, b".")

    def close(self) -> None:
        if not self.closed:
            os.close(self._wake_read)
            os.close(self._wake_write)
        super().close()


@contextmanager
def _wakeable_stdin() -> Iterator[_WakeableInput | None]:
    """`sys.stdin` replaced by a wakeable reader of the same input for the run, with descriptor 0 pointed at the
    null device meanwhile (so nothing else reads the protocol's input); None where select cannot wait on it."""
    if sys.platform == "win32" or not _has_descriptor(sys.stdin):
        yield None
        return
    private = os.dup(0)
    raw = _WakeableInput(private)
    original = sys.stdin
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8", errors="replace")
    try:
        yield raw
    finally:
        sys.stdin = original
        os.dup2(private, 0)
        os.close(private)
        raw.close()


def _has_descriptor(stream: object) -> bool:
    try:
        return stream is not None and stream.fileno() == 0  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


async def serve_stdio(server: MCPServer[Services], grace: float) -> None:
    """Serve until stdin ends or SIGTERM/SIGINT arrives; either way running jobs get `grace` seconds to finish."""
    with _wakeable_stdin() as stdin:
        async with anyio.create_task_group() as group:

            async def stop_on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for received in signals:
                        name = signal.Signals(received).name
                        log.info(
                            "received %s; shutting down (running jobs get up to %g s to finish; a second %s stops "
                            "at once)",
                            name,
                            grace,
                            "Ctrl+C" if received == signal.SIGINT else name,
                        )
                        if stdin is None:
                            group.cancel_scope.cancel()
                        else:
                            stdin.wake()
                        return

            group.start_soon(stop_on_signal)
            await server.run_stdio_async()
            group.cancel_scope.cancel()
