"""Who serves the API and how to reach it: provider kinds, their default URLs, and the endpoint a server resolves.

Credentials and the base URL follow the order DESIGN.md gives: our own variables first (`MCP_IMAGES_API_KEY`,
`MCP_IMAGES_BASE_URL`), then the provider's own conventions (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `DEDALUS_API_KEY`),
then the provider's default URL. The kind decides how models are named there (`openai/...` on Dedalus).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import SecretStr

from .settings import ENV_PREFIX, Settings


class ProviderKind(StrEnum):
    """Who serves the API; decides model naming and where a missing key is looked for."""

    OPENAI = "openai"
    DEDALUS = "dedalus"
    CUSTOM = "custom"


DEFAULT_BASE_URLS = {
    ProviderKind.OPENAI: "https://api.openai.com/v1",
    ProviderKind.DEDALUS: "https://api.dedaluslabs.ai/v1",
}


@dataclass(frozen=True)
class Endpoint:
    """The resolved upstream: where to send requests, with which key, and how models are named there."""

    provider: ProviderKind
    base_url: str
    api_key: SecretStr | None
    key_variables: tuple[str, ...]
    """Environment variables that would supply the key, in the order they are consulted (for error messages)."""
    key_source: str | None
    """Which of them supplied the key, for the start-up line and error hints; None when there is no key."""


def endpoint_of(settings: Settings) -> Endpoint:
    """Resolve provider, base URL and key in the documented order."""
    kind, provider_url = _kind_of(settings.provider)
    if kind is ProviderKind.DEDALUS:
        key_vars: tuple[str, ...] = (f"{ENV_PREFIX}API_KEY", "DEDALUS_API_KEY")
        provider_key = settings.dedalus_api_key
        convention_url = None
    else:
        key_vars = (f"{ENV_PREFIX}API_KEY", "OPENAI_API_KEY")
        provider_key = settings.openai_api_key
        convention_url = settings.openai_base_url
    base_url = settings.base_url or provider_url or convention_url or DEFAULT_BASE_URLS.get(kind, "")
    key, source = next(
        (
            (candidate, name)
            for candidate, name in zip((settings.api_key, provider_key), key_vars, strict=True)
            if candidate and candidate.get_secret_value()
        ),
        (None, None),
    )
    return Endpoint(
        provider=kind, base_url=base_url.rstrip("/"), api_key=key, key_variables=key_vars, key_source=source
    )


def _kind_of(provider: str) -> tuple[ProviderKind, str | None]:
    """The provider kind, and the base URL when the provider was given as one."""
    if provider in (ProviderKind.OPENAI, ProviderKind.DEDALUS):
        return ProviderKind(provider), None
    return ProviderKind.CUSTOM, provider
