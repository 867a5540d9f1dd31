"""Team settings that do not fit together are refused at start, with the variable to set."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from mcp_server_images.settings import Settings


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({"store": "s3"}, "--store s3 needs a bucket: set MCP_IMAGES_S3_BUCKET"),
        (
            {"oauth_issuer": "https://idp.example"},
            "OAuth needs both MCP_IMAGES_OAUTH_ISSUER and MCP_IMAGES_RESOURCE_URL",
        ),
        (
            {"oauth_issuer": "https://idp.example", "resource_url": "https://x.example/mcp", "auth_token": "t"},
            "use either OAuth (MCP_IMAGES_OAUTH_ISSUER) or a static MCP_IMAGES_AUTH_TOKEN, not both",
        ),
        ({"public_base_url": "images.example.com"}, "must be an http(s) URL, got 'images.example.com'"),
    ],
)
def test_incomplete_team_settings_are_refused(values: dict[str, str], said: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(said)):
        Settings(**values)  # type: ignore[arg-type]


def test_the_issuer_is_kept_verbatim_and_scopes_are_split() -> None:
    """Some providers' issuers end in a slash (Auth0's do); tokens carry it, so it must not be trimmed."""
    settings = Settings(
        oauth_issuer="https://tenant.example/",
        resource_url="https://images.example.com/mcp",
        public_base_url="https://images.example.com/",
        oauth_scopes="images, images:write",
    )
    assert settings.oauth_issuer == "https://tenant.example/"
    assert settings.public_base_url == "https://images.example.com"
    assert settings.required_scopes() == ["images", "images:write"]
