"""Sign-in with OAuth 2.1 as a resource server sees it: a test issuer (keys made here, its OpenID metadata and JWKS
served on loopback by the emulator) and a server on streamable HTTP that takes its tokens."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from tests.fake_openai import Emulator
from tests.support.servers import free_port, http_server, server_env

SCOPE = "images"


class Issuer:
    """An identity provider as far as a resource server sees one: an issuer URL, signing keys, a JWKS."""

    def __init__(self, url: str, kid: str = "key-1") -> None:
        self.url = url
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [public | {"kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def token(self, audience: str, subject: str = "alice", **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": self.url, "aud": audience, "sub": subject, "iat": now, "exp": now + 300, "scope": SCOPE}
        return jwt.encode(payload | claims, self.key, algorithm="RS256", headers={"kid": self.kid})


def issuer_of(emulator: Emulator) -> Issuer:
    """An issuer whose metadata the emulator serves (once `signed_in_server` has published it)."""
    return Issuer(f"{emulator.origin}/files/idp")


JWKS_PATH = "/files/idp/jwks.json"
"""Where the emulator serves the issuer's keys."""


def publish(emulator: Emulator, issuer: Issuer, jwks_uri: str | None = None) -> None:
    """Serve the issuer's OpenID metadata and JWKS on the emulator; the metadata names `jwks_uri` when given."""
    served = emulator.serve_file("idp/jwks.json", json.dumps(issuer.jwks()).encode(), "application/json")
    metadata = {"issuer": issuer.url, "jwks_uri": jwks_uri or served}
    emulator.serve_file("idp/.well-known/openid-configuration", json.dumps(metadata).encode(), "application/json")


@contextmanager
def signed_in_server(
    emulator: Emulator, issuer: Issuer, output_dir: Path, extra: dict[str, str] | None = None
) -> Iterator[tuple[str, str]]:
    """A server that takes the issuer's tokens (found through its OpenID metadata) and links images through
    itself, with `extra` settings; yields (origin, resource URL)."""
    publish(emulator, issuer)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    env = server_env(emulator, output_dir) | {
        "MCP_IMAGES_OAUTH_ISSUER": issuer.url,
        "MCP_IMAGES_RESOURCE_URL": f"{origin}/mcp",
        "MCP_IMAGES_OAUTH_SCOPES": SCOPE,
        "MCP_IMAGES_PUBLIC_BASE_URL": origin,
        "MCP_IMAGES_OWN_IMAGES_ONLY": "true",
        "MCP_IMAGES_STATELESS_HTTP": "true",
        **(extra or {}),
    }
    with http_server(env, port=port, log=output_dir.parent / "server.log"):
        yield origin, f"{origin}/mcp"


class KeptTokens:
    """Where the SDK's OAuth client keeps its tokens during a test: in memory, as a short-lived CLI would."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info
