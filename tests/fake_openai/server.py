"""Runs the emulator on a loopback port in a background thread, so in-process tests and subprocesses share it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Unpack

import uvicorn

from tests.support.waiting import until

from . import contract
from .app import SWITCHES, EmulatorState, Fault, Hold, RecordedRequest, Switches, build_app
from .image_apis import Conversation
from .providers import PLAYED

DEFAULT_KEY = "sk-test-emulator-key-0123456789abcdef"


class Emulator:
    """A running emulated API: its address and key, what it received, the holds and the switches tests set.

    Switches are set with `set()`, which refuses a name it does not know; no other attribute can be assigned, so a
    test cannot set a switch that does not exist (or no longer does) and believe it took effect.
    """

    __slots__ = ("_state", "api_key", "base_url", "origin")

    def __init__(self, state: EmulatorState, origin: str) -> None:
        self._state = state
        self.origin = origin
        self.base_url = f"{origin}/v1"
        self.api_key = state.api_key

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self._state.requests)

    @property
    def contract_violations(self) -> list[str]:
        return list(self._state.contract_violations)

    @property
    def sent_images(self) -> list[bytes]:
        return list(self._state.sent_images)

    @property
    def streams_aborted(self) -> int:
        """Streams the client closed before the last event: how an aborted upstream request shows here."""
        return self._state.streams_aborted

    @property
    def conversations(self) -> dict[str, Conversation]:
        """Every Responses answer the emulator gave, by id (what `previous_response_id` may name)."""
        return dict(self._state.conversations)

    def forget_conversations(self) -> None:
        """Drop every kept Responses conversation, as the provider does after its retention period."""
        self._state.conversations.clear()

    @property
    def max_in_flight(self) -> int:
        """The most API requests that were being answered at the same time."""
        return self._state.max_in_flight

    @property
    def streams_completed(self) -> int:
        return self._state.streams_completed

    @property
    def requests_except_models(self) -> list[RecordedRequest]:
        """Every request but GET /v1/models, which the server asks on its own to learn what is served."""
        return [r for r in self._state.requests if r.path != "/v1/models"]

    def base_url_for(self, provider: str) -> str:
        """The base URL a server is configured with to reach one of the providers the emulator plays
        (fake_openai/providers.py): `xai`, `azure` (the resource endpoint), `ollama`, ..."""
        return f"{self.origin}{PLAYED[provider].base}"

    def key_for(self, provider: str) -> str | None:
        """The key a played provider accepts now (None: a local server that takes none)."""
        return self._state.key_of(PLAYED[provider])

    def requests_to(self, path_part: str) -> list[RecordedRequest]:
        return [r for r in self._state.requests if path_part in r.path]

    def enqueue(self, *faults: Fault) -> None:
        self._state.faults.extend(faults)

    def hold(self, path_part: str, *, after_partials: int | None = None, exact: bool = False) -> Hold:
        """Keep requests whose path contains `path_part` (with `exact`: is `path_part`) waiting until the returned
        hold is released.

        Use it as a context manager, so that a failing test lets its requests go; reset() releases every hold too.
        With `after_partials`, a streamed answer pauses after that many partial images instead.
        """
        return self._state.hold(path_part, after_partials, exact)

    async def wait_for_request(self, path_part: str, count: int = 1) -> list[RecordedRequest]:
        """Wait until `count` requests whose path contains `path_part` arrived; they are returned."""
        await until(lambda: len(self.requests_to(path_part)) >= count, f"{count} request(s) to {path_part}")
        return self.requests_to(path_part)

    def serve_file(self, name: str, data: bytes, content_type: str) -> str:
        self._state.files[name] = (data, content_type)
        return f"{self.origin}/files/{name}"

    def redirect_loop(self, name: str) -> str:
        """A URL that answers every request with a redirect to itself."""
        return f"{self.origin}/loop/{name}"

    def release_holds(self) -> None:
        """Let every held request go (reset() does this too)."""
        self._state.release_holds()

    def set(self, **switches: Unpack[Switches]) -> None:
        """Change how the emulator answers until the next reset (each switch is described in `Switches`)."""
        unknown = sorted(set(switches) - SWITCHES)
        if unknown:
            raise TypeError(
                f"The emulator has no switch {', '.join(unknown)}; its switches are {', '.join(sorted(SWITCHES))}."
            )
        for name, value in switches.items():
            # On the shared state the server thread reads.
            setattr(self._state, name, value)

    def reset(self) -> None:
        """Forget what was received and scripted, release every hold, and set every switch back to its default."""
        self._state.reset()


@contextmanager
def running_emulator(api_key: str = DEFAULT_KEY) -> Iterator[Emulator]:
    contract.load()
    state = EmulatorState(api_key)
    config = uvicorn.Config(build_app(state), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the emulator did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    state.origin = f"http://127.0.0.1:{port}"
    try:
        yield Emulator(state, state.origin)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
