"""Health that tells the truth: /healthz says the process answers, /readyz whether it can serve calls now.

A bucket that stops answering (SeaweedFS behind a proxy the test freezes) turns /readyz red within its few
seconds while /healthz stays green, and a call fails within the store timeout with a message that says so instead
of hanging; when the bucket answers again, so does /readyz. With sign-in, /readyz also needs the issuer's keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.fake_openai import Emulator
from tests.support.results import text_of
from tests.support.s3 import S3Server
from tests.support.servers import free_port, http_server, open_client, server_env
from tests.support.signin import issuer_of, signed_in_server
from tests.support.tcp_proxy import freezable_proxy
from tests.support.waiting import until

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

TOKEN = "health-test-token"


def ready(origin: str) -> tuple[int, dict[str, Any]]:
    answer = httpx2.get(f"{origin}/readyz", timeout=10)
    said: dict[str, Any] = answer.json()
    return answer.status_code, said


def alive(origin: str) -> bool:
    return httpx2.get(f"{origin}/healthz", timeout=10).status_code == 200


async def test_ready_with_a_local_folder_and_open_without_the_token(emulator: Emulator, output_dir: Path) -> None:
    with http_server(server_env(emulator, output_dir, MCP_IMAGES_AUTH_TOKEN=TOKEN)) as (origin, _):
        assert ready(origin) == (200, {"status": "ready", "checks": {"store": "ok"}})
        assert httpx2.get(f"{origin}/mcp", timeout=5).status_code == 401, "everything else needs the token"


async def test_a_frozen_bucket_turns_readiness_red_and_calls_fail_fast(
    emulator: Emulator, s3_server: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    with freezable_proxy(s3_server.endpoint) as bucket:
        env = server_env(emulator, tmp_path / "unused") | s3_server.env(s3_prefix)
        env |= {"MCP_IMAGES_S3_ENDPOINT_URL": bucket.endpoint, "MCP_IMAGES_STORE_TIMEOUT": "2"}
        with http_server(env, log=tmp_path / "server.log") as (origin, _):
            assert ready(origin) == (200, {"status": "ready", "checks": {"store": "ok"}})
            async with open_client(f"{origin}/mcp") as client:
                await client.list_tools()
                bucket.freeze()
                await until(lambda: ready(origin)[0] == 503, "/readyz to turn red")
                assert ready(origin)[1]["checks"]["store"] in ("timeout", "failed")
                assert alive(origin), "liveness does not depend on the bucket"
                failed = await client.call_tool("generate_image", {"prompt": "a frozen lake"})
                bucket.thaw()
                await until(lambda: ready(origin)[0] == 200, "/readyz to turn green again")
                made = await client.call_tool("generate_image", {"prompt": "a thawed lake"})

    assert failed.is_error
    assert "the bucket did not answer within 2 s (MCP_IMAGES_STORE_TIMEOUT)" in text_of(failed), text_of(failed)
    assert not made.is_error, text_of(made)


async def test_readiness_needs_the_issuers_keys(emulator: Emulator, output_dir: Path, tmp_path: Path) -> None:
    issuer = issuer_of(emulator)
    with signed_in_server(emulator, issuer, output_dir) as (origin, _):
        assert ready(origin) == (200, {"status": "ready", "checks": {"store": "ok", "sign_in": "ok"}})
    silent = f"http://127.0.0.1:{free_port()}"  # an issuer that is down
    env = server_env(emulator, tmp_path / "elsewhere") | {
        "MCP_IMAGES_OAUTH_ISSUER": silent,
        "MCP_IMAGES_RESOURCE_URL": "http://127.0.0.1:1/mcp",
    }
    with http_server(env) as (origin, _):
        assert ready(origin) == (503, {"status": "unready", "checks": {"store": "ok", "sign_in": "failed"}})
