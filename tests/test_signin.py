"""Sign-in that interoperates and cannot be starved.

The issuer is advertised exactly as configured (RFC 8414 clients compare it character for character). The issuer's
keys are fetched through the address guard, within a size cap and one deadline, with no redirect off the host
asked, and a token check never waits on a refresh while it has a usable key. A token in the query string is refused
with `invalid_request` and never reaches a log; every configured secret is kept out of results, sidecars and logs
in every encoding, base64 included.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp.types import CallToolResult

from mcp_server_images.adapter.serving.auth import oauth
from mcp_server_images.adapter.serving.http import http_app
from mcp_server_images.adapter.serving.tokens import JWKS_MAX_AGE, Jwks, JwtVerifier
from mcp_server_images.app import build_server
from tests.fake_openai import Emulator, Fault
from tests.support.clock import FrozenClock
from tests.support.images import png_bytes
from tests.support.results import text_of
from tests.support.servers import SettingsFactory, open_client
from tests.support.signin import JWKS_PATH, Issuer, issuer_of, publish, signed_in_server
from tests.support.upstream import b64_answer
from tests.support.waiting import PATIENCE, until

pytestmark = pytest.mark.anyio

RESOURCE = "http://127.0.0.1:8000/mcp"
JSON_TYPE = {"content-type": "application/json"}


@pytest.mark.parametrize(
    "issuer",
    [
        "http://127.0.0.1:28200",
        "https://accounts.example.com",
        "https://idp.example.com/realms/team",
        "https://idp.example.com/realms/team/",
    ],
)
async def test_the_issuer_is_advertised_exactly_as_configured(make_settings: SettingsFactory, issuer: str) -> None:
    settings = make_settings(oauth_issuer=issuer, resource_url=RESOURCE, transport="http")
    app = http_app(build_server(settings, FrozenClock()), settings)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as http:
        inserted = (await http.get("/.well-known/oauth-protected-resource/mcp")).json()
        root = (await http.get("/.well-known/oauth-protected-resource")).json()

    assert inserted["authorization_servers"] == [issuer] and root["authorization_servers"] == [issuer]
    assert inserted["resource"] == RESOURCE


def verifier_of(issuer: Issuer, clock: FrozenClock, deadline: float = 5.0) -> JwtVerifier:
    """The server's token check for this issuer, as oauth() builds it, with a short deadline for hostile keys."""
    keys = Jwks(issuer.url, None, clock, allow_private=False, deadline=deadline)
    return JwtVerifier(issuer=issuer.url, audience=RESOURCE, keys=keys, clock=clock)


async def test_a_check_during_a_key_refresh_uses_the_keys_it_has(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    issuer, clock = issuer_of(emulator), FrozenClock()
    publish(emulator, issuer)
    signed = oauth(make_settings(oauth_issuer=issuer.url, resource_url=RESOURCE), clock)
    assert signed is not None
    _, verifier = signed
    token = issuer.token(RESOURCE)
    assert await verifier.verify_token(token) is not None, "the first check fetches the keys"
    clock.advance(JWKS_MAX_AGE + 1)
    release = threading.Event()
    emulator.enqueue(Fault(status=200, body=json.dumps(issuer.jwks()), headers=JSON_TYPE, path=JWKS_PATH, hold=release))
    refreshed: list[Any] = []

    async def refresh() -> None:
        refreshed.append(await verifier.verify_token(token))

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(refresh)
            await until(lambda: len(emulator.requests_to(JWKS_PATH)) == 2, "the refresh to be under way")
            with anyio.fail_after(PATIENCE):
                during = await verifier.verify_token(token)
            still_refreshing = not refreshed
            release.set()
    finally:
        release.set()

    assert during is not None and during.subject == "alice"
    assert still_refreshing, "the check went on while the refresh was held"
    assert refreshed[0] is not None


def hostile(emulator: Emulator, kind: str) -> tuple[Fault | None, str | None, str]:
    """What the issuer's side does wrong, the `jwks_uri` its metadata names instead of its own, and what the log
    says about it."""
    if kind == "huge":
        return Fault(status=200, body="[" + " " * 600_000 + "]", headers=JSON_TYPE, path=JWKS_PATH), None, "bytes"
    if kind == "endless":
        endless = Fault(status=200, body='{"keys": []' + " " * 10_000 + "}", headers=JSON_TYPE, path=JWKS_PATH)
        return Fault(**{**endless.__dict__, "trickle": 0.05}), None, "took longer than 1 s"
    if kind == "redirect to metadata address":
        redirect = {"location": "http://169.254.169.254/latest/meta-data/"}
        return Fault(status=302, headers=redirect, path=JWKS_PATH), None, "leads off the host asked"
    if kind == "redirect to loopback":
        redirect = {"location": emulator.origin.replace("127.0.0.1", "localhost") + "/files/idp/moved.json"}
        return Fault(status=302, headers=redirect, path=JWKS_PATH), None, "leads off the host asked"
    return None, "http://169.254.169.254/keys", "a link-local address"


@pytest.mark.parametrize(
    "kind",
    ["huge", "endless", "redirect to metadata address", "redirect to loopback", "jwks_uri on a metadata address"],
)
async def test_hostile_keys_are_refused_within_the_deadline(
    emulator: Emulator, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    issuer = issuer_of(emulator)
    fault, jwks_uri, said = hostile(emulator, kind)
    publish(emulator, issuer, jwks_uri)
    if fault is not None:
        emulator.enqueue(fault)
    caplog.set_level(logging.WARNING)

    with anyio.fail_after(PATIENCE):
        checked = await verifier_of(issuer, FrozenClock(), deadline=1.0).verify_token(issuer.token(RESOURCE))

    assert checked is None
    [warning] = [r.getMessage() for r in caplog.records if "could not fetch the signing keys" in r.getMessage()]
    assert said in warning
    assert emulator.requests_to("/files/idp/moved.json") == [], "no redirect was followed"


def post_mcp(url: str, token: str | None = None) -> httpx2.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    return httpx2.post(url, json=body, headers=headers, timeout=30)


@pytest.mark.subprocess
async def test_a_token_in_the_query_string_is_refused_and_no_secret_is_logged(
    emulator: Emulator, output_dir: Path
) -> None:
    issuer = issuer_of(emulator)
    log = output_dir.parent / "server.log"
    with signed_in_server(emulator, issuer, output_dir) as (origin, resource):
        token = issuer.token(resource)
        refused = post_mcp(f"{resource}?access_token={token}")
        blank = post_mcp(f"{resource}?access_token=")
        key_path = base64.urlsafe_b64encode(emulator.api_key.encode()).decode()
        probed = httpx2.get(f"{origin}/images/{key_path}", headers={"authorization": f"Bearer {token}"}, timeout=30)
    logged = log.read_text()

    assert refused.status_code == 400 and blank.status_code == 400
    assert refused.json()["error"] == "invalid_request"
    assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_request"')
    assert probed.status_code == 404
    assert '"POST /mcp?[query not logged] HTTP/1.1" 400' in logged
    assert token not in logged and token.split(".")[2] not in logged
    assert key_path not in logged and "[redacted]" in logged, "the API key, base64-encoded in a path, is redacted"


S3_SECRET = "s3-secret-0123456789-abcdef"


def spelled(secret: str) -> list[str]:
    """The secret as an upstream may echo it: raw, base64 (standard and URL-safe, alone or inside a longer text)."""
    inside = f"user:{secret}:x".encode()
    return [
        secret,
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode(),
        base64.b64encode(inside).decode(),
    ]


async def test_every_configured_secret_is_redacted_in_every_encoding(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    secrets = [emulator.api_key, S3_SECRET]
    echoed = " ".join(form for secret in secrets for form in spelled(secret))
    answer = b64_answer(png_bytes((16, 16), (1, 2, 3)))
    answer["data"][0]["revised_prompt"] = f"a calm sea ({echoed})"
    emulator.enqueue(Fault(status=200, body=answer, path="/v1/images/generations"))
    error = {"error": {"message": f"bad key {echoed}", "type": "invalid_request_error", "param": None, "code": None}}
    emulator.enqueue(Fault(status=401, body=error, path="/v1/images/generations"))

    async with open_client(make_settings(s3_secret_access_key=S3_SECRET)) as client:
        made = await client.call_tool("generate_image", {"prompt": "a calm sea"})
        failed = await client.call_tool("generate_image", {"prompt": "a calm sea"})

    results: list[CallToolResult] = [made, failed]
    shown = json.dumps([result.model_dump(mode="json") for result in results])
    stored = "".join(path.read_text() for path in output_dir.glob("*.json"))
    assert not made.is_error and failed.is_error, text_of(made)
    assert "[redacted]" in shown and "[redacted]" in stored
    for secret in secrets:
        for form in spelled(secret):
            assert form not in shown and form not in stored and form not in debug_logs.text
