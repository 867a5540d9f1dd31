"""Sign-in with OAuth 2.1 over streamable HTTP: a test issuer (keys made here, its metadata and JWKS served on
loopback by the emulator) signs access tokens; the server accepts its tokens for this resource and refuses every
other kind with 401 and a WWW-Authenticate header that points at the protected resource metadata."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import httpx2
import pytest

from tests.fake_openai import Emulator
from tests.support.results import entries, text_of
from tests.support.servers import open_client
from tests.support.signin import SCOPE, Issuer, issuer_of, signed_in_server

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]


def unsigned(token: str) -> str:
    """The same claims with `alg: none` and no signature."""
    _, payload, _ = token.split(".")
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return f"{header}.{payload}."


async def test_only_the_issuers_tokens_for_this_server_pass(emulator: Emulator, output_dir: Path) -> None:
    issuer = issuer_of(emulator)
    impostor = Issuer(issuer.url, kid=issuer.kid)  # same issuer name and key id, another key
    with signed_in_server(emulator, issuer, output_dir) as (origin, resource):
        metadata = httpx2.get(f"{origin}/.well-known/oauth-protected-resource/mcp", timeout=10).json()
        root = httpx2.get(f"{origin}/.well-known/oauth-protected-resource", timeout=10).json()
        refused = {
            "no token": None,
            "expired": issuer.token(resource, exp=int(time.time()) - 600),
            "not yet valid": issuer.token(resource, nbf=int(time.time()) + 600),
            "wrong audience": issuer.token("https://other.example/mcp"),
            "wrong issuer": issuer.token(resource, iss="https://evil.example"),
            "unsigned (alg none)": unsigned(issuer.token(resource)),
            "wrongly signed": impostor.token(resource),
            "not a JWT": "opaque-token-123",
        }
        answers = {name: post_mcp(origin, token) for name, token in refused.items()}
        without_scope = post_mcp(origin, issuer.token(resource, scope="profile"))
        async with open_client(resource, token=issuer.token(resource)) as client:
            tools = await client.list_tools()

    assert metadata["resource"] == resource and metadata["authorization_servers"] == [issuer.url]
    assert metadata["scopes_supported"] == [SCOPE] and root == metadata
    challenge = f'resource_metadata="{origin}/.well-known/oauth-protected-resource/mcp"'
    for name, answer in answers.items():
        assert answer.status_code == 401, name
        assert answer.headers["www-authenticate"].startswith("Bearer "), name
        assert challenge in answer.headers["www-authenticate"], name
    assert without_scope.status_code == 403
    assert 'error="insufficient_scope"' in without_scope.headers["www-authenticate"]
    assert "generate_image" in [tool.name for tool in tools.tools]


def post_mcp(origin: str, token: str | None) -> httpx2.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx2.post(f"{origin}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=headers)


async def test_images_are_tagged_with_their_user_and_linked_behind_sign_in(
    emulator: Emulator, output_dir: Path
) -> None:
    issuer = issuer_of(emulator)
    with signed_in_server(emulator, issuer, output_dir) as (origin, resource):
        alice, bob = issuer.token(resource, subject="alice"), issuer.token(resource, subject="bob")
        async with open_client(resource, token=alice) as client:
            made = await client.call_tool("generate_image", {"prompt": "alice's fox"})
            [image] = entries(made)
            alices_list = entries(await client.call_tool("list_images", {}))
        async with open_client(resource, token=bob) as client:
            bobs_list = entries(await client.call_tool("list_images", {}))
            not_shared = await client.call_tool("analyze_image", {"images": [image["id"]]})
            bobs_link = httpx2.get(image["url"], headers={"authorization": f"Bearer {bob}"}, timeout=10)
        async with open_client(resource, token=alice) as client:
            await client.call_tool("share_image", {"image": image["id"]})
        async with open_client(resource, token=bob) as client:
            shared = await client.call_tool("analyze_image", {"images": [image["id"]]})
        with_token = httpx2.get(image["url"], headers={"authorization": f"Bearer {bob}"}, timeout=10)
        without = httpx2.get(image["url"], timeout=10)

    sidecar = json.loads(Path(image["path"]).with_suffix(".json").read_text())
    assert sidecar["user"] == "alice" and sidecar["shared"] is True
    assert [entry["id"] for entry in alices_list] == [image["id"]]
    assert bobs_list == [], "each user lists only their own images"
    assert not_shared.is_error and bobs_link.status_code == 404, "an id alone opens nobody else's image"
    assert not shared.is_error, text_of(shared)
    assert image["url"] == f"{origin}/images/{image['id']}"
    assert with_token.status_code == 200 and with_token.content == Path(image["path"]).read_bytes()
    assert with_token.headers["content-type"] == "image/png"
    assert without.status_code == 401
    assert (
        f'resource_metadata="{origin}/.well-known/oauth-protected-resource/mcp"' in without.headers["www-authenticate"]
    )
