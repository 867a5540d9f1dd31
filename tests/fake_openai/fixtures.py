"""pytest fixtures: one emulator for the session, reset before each test, contract checked after each.

Holds a test left in place are released after it, so that a failing test never leaves a request hanging.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import Emulator, running_emulator


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[Emulator]:
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture
def emulator(emulator_server: Emulator) -> Iterator[Emulator]:
    emulator_server.reset()
    yield emulator_server
    emulator_server.release_holds()
    violations = emulator_server.contract_violations
    if violations:
        pytest.fail("requests broke the OpenAI contract:\n" + "\n".join(violations))
