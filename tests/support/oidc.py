"""A real OpenID provider for sign-in tests: panva's `oidc-provider` (npm, installed by `make node-tools`) run by
tests/node/issuer.mjs on Node 22, issuing RFC 9068 JWT access tokens to clients that sign in with
client_credentials and a resource indicator. Its issuer has no path: `http://127.0.0.1:PORT`."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from threading import Event, Thread
from typing import IO

from tests.support.outside import NodeTools
from tests.support.servers import free_port
from tests.support.waiting import PATIENCE


@contextmanager
def real_issuer(
    node: NodeTools, scope: str, resources: Sequence[str], clients: dict[str, str], log: Path
) -> Iterator[str]:
    """The provider listening on loopback for `resources`, `clients` (id -> secret) being its users; yields its
    issuer URL once it listens. Its output goes to `log`."""
    port = free_port()
    pairs = [f"{client}:{secret}" for client, secret in clients.items()]
    command = [*node.script("issuer.mjs"), str(port), scope, ",".join(resources), *pairs]
    with (
        log.open("w") as output,
        subprocess.Popen(command, env=node.env(), stdout=subprocess.PIPE, stderr=output, text=True) as process,
    ):
        issuer: list[str] = []
        listening = Event()
        assert process.stdout is not None
        Thread(target=_copy, args=(process.stdout, output, issuer, listening), daemon=True).start()
        try:
            if not listening.wait(PATIENCE) or not issuer:
                raise RuntimeError(f"the OpenID provider did not start: {log.read_text()}")
            yield issuer[0]
        finally:
            process.terminate()
            process.wait(timeout=15)


def _copy(lines: IO[str], output: IO[str], issuer: list[str], listening: Event) -> None:
    """Copy the provider's output to its log, noting the issuer once it says it listens (`ready <issuer>`)."""
    for line in lines:
        output.write(line)
        output.flush()
        if line.startswith("ready "):
            issuer.append(line.split()[1])
            listening.set()
    listening.set()  # it ended without listening
