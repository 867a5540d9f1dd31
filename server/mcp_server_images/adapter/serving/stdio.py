"""Serving on stdio until the input ends or a signal arrives, then stopping the way operations/drain.py says.

A client stops a stdio server by closing its stdin, then, if it has not exited, with SIGTERM. Either way the calls
in flight answer first (on stdout, which the client still reads), within the shutdown grace period: with their
result, or with their job id when the image API is slower; then the server reports the end of its input to the
SDK, which closes the session, and running jobs get the rest of the grace period to store their images.

The SDK reads standard input line by line in a worker thread. A thread blocked in `read()` cannot be cancelled, so
a server told to stop (Ctrl+C in a terminal, SIGTERM from a client) would wait for one more line: in a terminal,
until Enter is pressed. And the SDK cancels the calls in flight the moment it sees the input end. Here the input is
read through a file whose reads say when the input ended but report it only when told to (once the calls have
answered), and which can be told to report it early (on a signal). A second signal stops the server at once. Where
`select` cannot wait on a console or pipe (Windows), the plain standard input is used, and only a signal drains.
"""

from __future__ import annotations

import io
import json
import logging
import os
import select
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import anyio

from ..server import ImagesServer

log = logging.getLogger(__name__)


class _Traffic:
    """The client's requests the server has not answered yet, as they cross stdin and stdout.

    Only what the transport writes counts as answered: a call that has returned may still wait for the SDK's
    writer (one message at a time, each written and flushed in a worker thread), and the SDK cancels whatever has
    not been written when it sees the input end. Reads and writes happen in worker threads, hence the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[object] = set()
        self._unfinished = {"in": b"", "out": b""}
        self.answered = threading.Event()
        """Set while no answer is owed."""
        self.answered.set()

    def seen(self, direction: str, data: bytes) -> None:
        """Bytes that crossed stdin ("in") or stdout ("out"): each complete line is one JSON-RPC message."""
        with self._lock:
            *lines, self._unfinished[direction] = (self._unfinished[direction] + data).split(b"\n")
            for line in lines:
                self._note(direction, line)
            if self._open:
                self.answered.clear()
            else:
                self.answered.set()

    def _note(self, direction: str, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return
        if not isinstance(message, dict) or isinstance(message.get("id"), dict | list):
            return
        if direction == "in" and "method" in message and "id" in message:
            self._open.add(message["id"])  # a request of the client's
        elif direction == "in" and message.get("method") == "notifications/cancelled":
            self._open.discard((message.get("params") or {}).get("requestId"))  # never answered, by the spec
        elif direction == "out" and "id" in message and ("result" in message or "error" in message):
            self._open.discard(message["id"])


class _WakeableInput(io.RawIOBase):
    """Standard input (a private duplicate of it) whose reads return the end of input once `wake` is called; when
    the input really ends, `ended` is set and the read waits for `wake`."""

    def __init__(self, fd: int, traffic: _Traffic) -> None:
        super().__init__()
        self._fd = fd
        self._traffic = traffic
        self._wake_read, self._wake_write = os.pipe()
        self.ended = threading.Event()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        ready, _, _ = select.select([self._fd, self._wake_read], [], [])
        if self._wake_read in ready:
            return 0
        data = os.read(self._fd, len(buffer))
        if not data:
            self.ended.set()
            select.select([self._wake_read], [], [])
            return 0
        self._traffic.seen("in", data)
        buffer[: len(data)] = data
        return len(data)

    def wake(self) -> None:
        os.write(self._wake_write, b".")
        self.ended.set()  # the input is over for the server now: nobody waits for its end any more

    def close(self) -> None:
        self.ended.set()
        if not self.closed:
            os.close(self._wake_read)
            os.close(self._wake_write)
        super().close()


class _WatchedOutput(io.RawIOBase):
    """Standard output (a private duplicate of it) that tells the traffic which answers went out."""

    def __init__(self, fd: int, traffic: _Traffic) -> None:
        super().__init__()
        self._fd = fd
        self._traffic = traffic

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self._traffic.seen("out", bytes(data))
        return len(data)


@dataclass
class _Pipes:
    input: _WakeableInput
    traffic: _Traffic


@contextmanager
def _watched_stdio() -> Iterator[_Pipes | None]:
    """`sys.stdin` and `sys.stdout` replaced for the run by a wakeable reader and a watched writer of the same
    input and output, with descriptors 0 and 1 pointed at the null device and at stderr meanwhile (so nothing
    else reads the protocol's input or writes into its output); None where select cannot wait on the input."""
    if sys.platform == "win32" or not _has_descriptor(sys.stdin, 0) or not _has_descriptor(sys.stdout, 1):
        yield None
        return
    traffic = _Traffic()
    private_in, private_out = os.dup(0), os.dup(1)
    reader = _WakeableInput(private_in, traffic)
    original_in, original_out = sys.stdin, sys.stdout
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdin = io.TextIOWrapper(io.BufferedReader(reader), encoding="utf-8", errors="replace")
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(_WatchedOutput(private_out, traffic)), encoding="utf-8")
    try:
        yield _Pipes(reader, traffic)
    finally:
        sys.stdin, sys.stdout = original_in, original_out
        os.dup2(private_in, 0)
        os.dup2(private_out, 1)
        os.close(private_in)
        os.close(private_out)
        reader.close()


def _has_descriptor(stream: object, fd: int) -> bool:
    try:
        return stream is not None and stream.fileno() == fd  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


async def serve_stdio(server: ImagesServer) -> None:
    """Serve until stdin ends or SIGTERM/SIGINT arrives; either way calls in flight answer and running jobs get the
    shutdown grace period (see the module's docstring)."""
    drain = server.serving.drain
    with _watched_stdio() as pipes:
        async with anyio.create_task_group() as group:

            async def stop_on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for received in signals:
                        name = signal.Signals(received).name
                        second = "Ctrl+C" if received == signal.SIGINT else name
                        log.info("received %s; shutting down (a second %s stops at once)", name, second)
                        drain.begin()
                        return

            async def drain_at_input_end(input_ended: threading.Event) -> None:
                await anyio.to_thread.run_sync(input_ended.wait, abandon_on_cancel=True)
                if not drain.draining:
                    log.info("the client closed stdin; shutting down")
                    drain.begin()

            async def end_input_once_answered() -> None:
                await drain.begun()
                if pipes is None:
                    group.cancel_scope.cancel()
                    return
                # Answers go out in the SDK's writer thread: wait there for the last one, within the grace period.
                await anyio.to_thread.run_sync(pipes.traffic.answered.wait, drain.remaining(), abandon_on_cancel=True)
                pipes.input.wake()

            group.start_soon(stop_on_signal)
            group.start_soon(end_input_once_answered)
            if pipes is not None:
                group.start_soon(drain_at_input_end, pipes.input.ended)
            await server.run_stdio_async()
            group.cancel_scope.cancel()
