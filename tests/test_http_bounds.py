"""What one client can take from the HTTP server is bounded, and a stored SVG never runs.

Sessions are capped (one more is answered 503) and expire when idle (the id then answers 404); each user has a
request rate (more are answered 429 with Retry-After); an SVG is served by /images/<id> under a policy that runs
no script, and a presigned link to one makes the browser download it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import obstore
import pytest

from tests.fake_openai import Emulator, Fault
from tests.support.results import entries, text_of
from tests.support.s3 import S3Server
from tests.support.servers import SettingsFactory, http_server, open_client, server_env
from tests.support.signin import issuer_of, signed_in_server
from tests.support.upstream import b64_answer
from tests.support.waiting import until

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

HANDSHAKE = "2025-11-25"
STREAMS = {"accept": "application/json, text/event-stream"}
SCRIPTED_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><script>alert(document.cookie)</script>'
    b'<rect width="64" height="64" fill="teal"/></svg>'
)
GENERATIONS = "/v1/images/generations"


def initialize(url: str) -> httpx2.Response:
    """A handshake-era client opening a session: initialize, then initialized when it was let in."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}},
    }
    opened = httpx2.post(url, json=body, headers=STREAMS, timeout=30)
    if opened.status_code == 200:
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        headers = {**STREAMS, "mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": HANDSHAKE}
        assert httpx2.post(url, json=initialized, headers=headers, timeout=30).status_code == 202
    return opened


def ping(url: str, session: str) -> httpx2.Response:
    headers = {**STREAMS, "mcp-session-id": session, "mcp-protocol-version": HANDSHAKE}
    return httpx2.post(url, json={"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers=headers, timeout=30)


@contextmanager
def listening(url: str, session: str) -> Iterator[None]:
    """The session's GET stream held open, as a client waiting for server messages holds it: not idle meanwhile."""
    opened = threading.Event()
    stop = threading.Event()

    def hold() -> None:
        headers = {"accept": "text/event-stream", "mcp-session-id": session, "mcp-protocol-version": HANDSHAKE}
        with httpx2.stream("GET", url, headers=headers, timeout=httpx2.Timeout(30, read=None)) as stream:
            assert stream.status_code == 200
            opened.set()
            stop.wait(60)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    try:
        assert opened.wait(30), "the GET stream did not open"
        yield
    finally:
        stop.set()
        thread.join(30)


async def test_sessions_are_capped_and_expire_when_idle(emulator: Emulator, output_dir: Path) -> None:
    env = server_env(emulator, output_dir) | {"MCP_IMAGES_MAX_SESSIONS": "1", "MCP_IMAGES_SESSION_IDLE_TIMEOUT": "1"}
    log = output_dir.parent / "server.log"
    with http_server(env, log=log) as (origin, _):
        url = f"{origin}/mcp"
        first = initialize(url)
        session = first.headers["mcp-session-id"]
        with listening(url, session):
            one_more = initialize(url)
        await until(lambda: f"Session {session} idle timeout" in log.read_text(), "the idle session to expire")
        expired = ping(url, session)
        room_again = initialize(url)

    assert first.status_code == 200
    assert one_more.status_code == 503 and "Too many open sessions" in one_more.text
    assert expired.status_code == 404 and "Session not found" in expired.text
    assert room_again.status_code == 200


def post_mcp(url: str, token: str) -> httpx2.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    return httpx2.post(url, json=body, headers={"authorization": f"Bearer {token}", **STREAMS}, timeout=30)


async def test_each_user_has_a_request_rate(emulator: Emulator, output_dir: Path) -> None:
    issuer = issuer_of(emulator)
    with signed_in_server(emulator, issuer, output_dir, {"MCP_IMAGES_RATE_LIMIT": "3"}) as (origin, resource):
        alice, bob = issuer.token(resource, subject="alice"), issuer.token(resource, subject="bob")
        alices = [post_mcp(resource, alice) for _ in range(4)]
        bobs = post_mcp(resource, bob)
        health = [httpx2.get(f"{origin}/healthz", timeout=30) for _ in range(5)]

    assert [answer.status_code == 429 for answer in alices] == [False, False, False, True]
    limited = alices[-1]
    assert 1 <= int(limited.headers["retry-after"]) <= 20, "a request comes back every 20 s at 3 a minute"
    error = limited.json()["error"]
    assert error["message"].startswith("Too many requests: at most 3 a minute per user (MCP_IMAGES_RATE_LIMIT).")
    assert bobs.status_code != 429, "another user has a rate of their own"
    assert all(answer.status_code == 200 for answer in health)


def svg_answer() -> Fault:
    return Fault(status=200, body=b64_answer(SCRIPTED_SVG), path=GENERATIONS)


SVG_CALL = {"prompt": "a logo", "model": "gpt-image-2.6-flare", "output_format": "svg"}


async def test_an_svg_is_served_under_a_policy_that_runs_no_script(emulator: Emulator, output_dir: Path) -> None:
    issuer = issuer_of(emulator)
    emulator.enqueue(svg_answer())
    with signed_in_server(emulator, issuer, output_dir) as (_, resource):
        token = issuer.token(resource)
        async with open_client(resource, token=token) as client:
            [image] = entries(await client.call_tool("generate_image", SVG_CALL))
        served = httpx2.get(image["url"], headers={"authorization": f"Bearer {token}"}, timeout=30)

    assert served.status_code == 200 and served.content == SCRIPTED_SVG, "kept as it came"
    assert served.headers["content-type"].startswith("image/svg+xml")
    assert "sandbox" in served.headers["content-security-policy"]
    assert "default-src 'none'" in served.headers["content-security-policy"]
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-disposition"].startswith("attachment")


async def test_a_presigned_link_to_an_svg_downloads_it(
    make_settings: SettingsFactory, emulator: Emulator, s3_server: S3Server, s3_prefix: str
) -> None:
    emulator.enqueue(svg_answer())
    settings = make_settings(**s3_server.settings(s3_prefix), index_ttl=0)
    async with open_client(settings) as client:
        made = await client.call_tool("generate_image", SVG_CALL)
        [image] = entries(made)
        linked = httpx2.get(image["url"], timeout=30)
        bucket = s3_server.bucket_view(s3_prefix)
        name = Path(image["path"]).name
        obstore.put(bucket, name, SCRIPTED_SVG, attributes={"Content-Type": "image/svg+xml"})  # as stored before
        [older] = entries(await client.call_tool("list_images", {}))

    assert not made.is_error, text_of(made)
    assert linked.status_code == 200 and linked.content == SCRIPTED_SVG
    assert linked.headers["content-disposition"].startswith("attachment")
    assert "url" not in older, "an SVG the bucket would show inline gets no link"
