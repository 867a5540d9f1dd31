"""Sign-in with real parts: a real OpenID provider (npm `oidc-provider`, its issuer without a path), the MCP SDK's
own OAuth client discovering it from the server's 401, and two users on two instances sharing the real S3 server.

alice works through instance A, bob and carol (an administrator) through instance B; each client holds only its
client credentials and the issuer it trusts, and finds everything else (the protected resource metadata, the
provider's metadata, its token endpoint) the way any MCP client does. Each user sees only their own images and
spend across instances; an image alice shares opens for bob by its full id; carol sees everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx2
import pytest
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider

from tests.fake_openai import Emulator
from tests.support.oidc import real_issuer
from tests.support.outside import NodeTools
from tests.support.results import entries, text_of
from tests.support.s3 import S3Server
from tests.support.servers import free_port, http_server, open_client, server_env
from tests.support.signin import KeptTokens

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess, pytest.mark.outside]

SCOPE = "images"
USERS = {"alice": "alice-secret-1", "bob": "bob-secret-2", "carol": "carol-secret-3"}


@contextmanager
def instances(
    emulator: Emulator, s3: S3Server, prefix: str, tmp_path: Path, issuer: str, ports: dict[str, int]
) -> Iterator[dict[str, str]]:
    """One signed-in server process per name on the same bucket; yields name -> MCP URL (each its own resource)."""
    with ExitStack() as stack:
        urls = {}
        for name, port in ports.items():
            url = f"http://127.0.0.1:{port}/mcp"
            env = server_env(emulator, tmp_path / f"unused-{name}") | s3.env(prefix)
            env |= {
                "MCP_IMAGES_OAUTH_ISSUER": issuer,
                "MCP_IMAGES_RESOURCE_URL": url,
                "MCP_IMAGES_OAUTH_SCOPES": SCOPE,
                "MCP_IMAGES_ADMIN_SUBJECTS": "carol",
                "MCP_IMAGES_STATELESS_HTTP": "true",
                "MCP_IMAGES_INDEX_TTL": "0",
                "MCP_IMAGES_INSTANCE_NAME": name,
            }
            stack.enter_context(http_server(env, port=port, log=tmp_path / f"{name}.log"))
            urls[name] = url
        yield urls


def signing_in(url: str, user: str, issuer: str) -> ClientCredentialsOAuthProvider:
    """The SDK's OAuth client for `user`: it knows its credentials and its issuer, and discovers the rest."""
    return ClientCredentialsOAuthProvider(
        server_url=url, storage=KeptTokens(), client_id=user, client_secret=USERS[user], scope=SCOPE, issuer=issuer
    )


async def test_two_users_on_two_instances_sign_in_with_a_real_provider(
    node_tools: NodeTools, emulator: Emulator, s3_server: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    ports = {"A": free_port(), "B": free_port()}
    resources = [f"http://127.0.0.1:{port}/mcp" for port in ports.values()]
    with (
        real_issuer(node_tools, SCOPE, resources, USERS, tmp_path / "issuer.log") as issuer,
        instances(emulator, s3_server, s3_prefix, tmp_path, issuer, ports) as url,
    ):
        metadata = httpx2.get(url["A"].replace("/mcp", "/.well-known/oauth-protected-resource/mcp"), timeout=30)
        async with open_client(url["A"], auth=signing_in(url["A"], "alice", issuer)) as alice:
            [private] = entries(await alice.call_tool("generate_image", {"prompt": "alice's private fox"}))
            [public] = entries(await alice.call_tool("generate_image", {"prompt": "alice's shared owl"}))
            shared = await alice.call_tool("share_image", {"image": public["id"]})
            alices_report = await alice.call_tool("usage_report", {})
        async with open_client(url["B"], auth=signing_in(url["B"], "bob", issuer)) as bob:
            bobs_list = entries(await bob.call_tool("list_images", {}))
            private_for_bob = await bob.call_tool("analyze_image", {"images": [private["id"]]})
            public_for_bob = await bob.call_tool("analyze_image", {"images": [public["id"]]})
            prefix_for_bob = await bob.call_tool("analyze_image", {"images": [public["id"][:5]]})
            bobs_report = await bob.call_tool("usage_report", {})
        async with open_client(url["B"], auth=signing_in(url["B"], "carol", issuer)) as carol:
            carols_list = entries(await carol.call_tool("list_images", {}))
            carols_report = await carol.call_tool("usage_report", {})

    assert metadata.json()["authorization_servers"] == [issuer] and not issuer.endswith("/")
    assert not shared.is_error, text_of(shared)
    assert alices_report.structured_content is not None and alices_report.structured_content["calls"] == 2
    assert bobs_list == []
    assert private_for_bob.is_error and "No stored image has id" in text_of(private_for_bob)
    assert not public_for_bob.is_error, text_of(public_for_bob)
    assert prefix_for_bob.is_error, "a shared image opens by its full id only"
    assert bobs_report.structured_content is not None and "alice" not in str(bobs_report.structured_content)
    assert {entry["id"] for entry in carols_list} == {private["id"], public["id"]}
    assert carols_report.structured_content is not None
    assert set(carols_report.structured_content["by_user"]) == {"alice"}
