"""A bounded load over streamable HTTP: many clients at once, no errors, every image on disk, no descriptor leak.

Counts are small so the suite stays quick on a loaded machine; nothing here measures time.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from tests.fake_openai import Emulator
from tests.support.results import text_of
from tests.support.servers import http_server, open_client, server_env

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

CLIENTS = 16
CALLS = 3
DESCRIPTOR_SLACK = 12
"""Pooled keep-alive connections to the upstream and sockets still closing may stay open; a leak per call
(48 calls) would not fit in this."""
ARGUMENTS = {"prompt": "a lantern", "model": "dall-e-2", "size": "256x256"}


def open_descriptors(pid: int) -> int:
    """Descriptors a process has open (Linux's /proc, where CI runs)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


async def test_many_clients_over_http(emulator: Emulator, output_dir: Path) -> None:
    emulator.set(serves_retired=True)  # a gateway still routing dall-e-2, whose 256x256 images keep the load light
    with http_server(server_env(emulator, output_dir)) as (origin, process):
        async with open_client(f"{origin}/mcp") as warm_up:
            first = await warm_up.call_tool("generate_image", ARGUMENTS)
            assert not first.is_error, text_of(first)
        before = open_descriptors(process.pid)
        failures: list[str] = []
        paths: list[str] = []

        async def user() -> None:
            async with open_client(f"{origin}/mcp") as client:
                for _ in range(CALLS):
                    result = await client.call_tool("generate_image", ARGUMENTS)
                    if result.is_error or result.structured_content is None:
                        failures.append(text_of(result))
                    else:
                        paths.extend(image["path"] for image in result.structured_content["images"])

        async with anyio.create_task_group() as group:
            for _ in range(CLIENTS):
                group.start_soon(user)
        # Closed client connections are torn down by the server shortly after; wait for that, not for a time.
        for _ in range(200):
            after = open_descriptors(process.pid)
            if after <= before + DESCRIPTOR_SLACK:
                break
            await anyio.sleep(0.05)

    assert failures == []
    assert len(paths) == CLIENTS * CALLS
    assert all(Path(path).is_file() for path in paths)
    assert len(list(output_dir.glob("*.json"))) == 1 + CLIENTS * CALLS, "one sidecar per image"
    assert after <= before + DESCRIPTOR_SLACK, f"{before} descriptors before the load, {after} after"
