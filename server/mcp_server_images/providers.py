"""Who serves the API and how to reach it: provider kinds, what each needs, and the endpoints a server resolves.

One provider is the simple case, set by `MCP_IMAGES_PROVIDER`, `MCP_IMAGES_BASE_URL` and a key. Credentials and the
base URL follow the order DESIGN.md gives: our own variables first (`MCP_IMAGES_API_KEY`, `MCP_IMAGES_BASE_URL`),
then the provider's own conventions (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `DEDALUS_API_KEY`, `AZURE_OPENAI_API_KEY`,
`AZURE_OPENAI_ENDPOINT`, `GEMINI_API_KEY`, `XAI_API_KEY`, `OPENROUTER_API_KEY`), then the provider's default URL.
A key may also come from a file or a command (`MCP_IMAGES_API_KEY_FILE`, `MCP_IMAGES_API_KEY_COMMAND`). Several
providers in one server come from a providers file (`providers_file.py`). The kind decides how models are named
there (`openai/...` on Dedalus and OpenRouter, a deployment name on Azure); how each kind speaks on the wire is the
backends' business (`backends/dialects.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from .catalog.spec import Api
from .errors import ConfigurationError
from .settings import ENV_PREFIX, PROVIDER_NAMES, Settings


class ProviderKind(StrEnum):
    """Who serves the API; decides model naming, where a missing key is looked for, and the wire's dialect."""

    OPENAI = "openai"
    DEDALUS = "dedalus"
    AZURE = "azure"
    GEMINI = "gemini"
    XAI = "xai"
    OPENROUTER = "openrouter"
    OLLAMA = "ollama"
    VLLM_OMNI = "vllm-omni"
    LOCALAI = "localai"
    CUSTOM = "custom"


class Naming(StrEnum):
    """How a provider spells a catalogued model."""

    BARE = "bare"
    """`gpt-image-2`: a vendor prefix the user typed is dropped (OpenAI, Gemini, xAI)."""
    PREFIXED = "prefixed"
    """`openai/gpt-image-2`, `google/...`: the vendor's prefix is added (Dedalus, OpenRouter)."""
    AS_TYPED = "as typed"
    """Sent as the user typed it (gateways by URL, Azure deployments, local servers)."""


KeyHeader = Literal["authorization", "api-key"]
"""Where a key goes: `Authorization: Bearer KEY`, or Azure's `api-key: KEY`."""


@dataclass(frozen=True)
class Profile:
    """What one provider kind needs and offers, apart from its wire shape."""

    label: str
    default_url: str | None
    key_variables: tuple[str, ...]
    """Its own conventional key variables, consulted after MCP_IMAGES_API_KEY."""
    needs_key: bool = True
    """False for local servers: no key is needed, and none is sent when none is configured."""
    naming: Naming = Naming.BARE
    decides: bool = False
    """Its model list has the last word: a model it does not list is refused (OpenAI's own API only)."""
    vendors: tuple[str, ...] | None = None
    """The catalog vendors whose models it serves (what list_models shows without its list); None: any."""
    lists_models: bool = True
    """Whether `GET /models` says what it serves; Azure's lists base models, not the deployments a call names."""
    apis: tuple[Api, ...] = (Api.IMAGES, Api.CHAT, Api.RESPONSES)
    """The image-making APIs it has (every provider answers vision through Chat Completions)."""
    unknown_api: Api = Api.IMAGES
    """The API a model outside the catalog goes to when its name says nothing else."""
    edits: bool = True
    """Whether its Images API edits images (Ollama's makes generations only)."""


PROFILES: Mapping[ProviderKind, Profile] = {
    ProviderKind.OPENAI: Profile(
        "OpenAI", "https://api.openai.com/v1", ("OPENAI_API_KEY",), decides=True, vendors=("openai",)
    ),
    ProviderKind.DEDALUS: Profile(
        "Dedalus Labs", "https://api.dedaluslabs.ai/v1", ("DEDALUS_API_KEY",), naming=Naming.PREFIXED
    ),
    # world-2026-12.md "Providers": the resource endpoint (https://NAME.openai.azure.com, *.services.ai.azure.com,
    # *.cognitiveservices.azure.com), an `api-key` header, deployment names for models (docs.openclaw.ai
    # providers/openai/azure and microsoft-foundry; learn.microsoft.com Foundry docs).
    ProviderKind.AZURE: Profile(
        "Azure OpenAI",
        None,
        ("AZURE_OPENAI_API_KEY",),
        naming=Naming.AS_TYPED,
        vendors=("openai",),
        lists_models=False,
    ),
    # Google's OpenAI-compatible endpoint with a Bearer key (Gemini API changelog; world-2026-12.md).
    # Its image models answer through Chat Completions (image output, image inputs for edits); its Images API
    # served Imagen, retired 2026-08-17 (Gemini API changelog; world-2026-12.md).
    ProviderKind.GEMINI: Profile(
        "Google Gemini",
        "https://generativelanguage.googleapis.com/v1beta/openai",
        ("GEMINI_API_KEY",),
        vendors=("google",),
        apis=(Api.CHAT,),
        unknown_api=Api.CHAT,
    ),
    # docs.x.ai image generation (world-2026-12.md).
    ProviderKind.XAI: Profile("xAI", "https://api.x.ai/v1", ("XAI_API_KEY",), vendors=("xai",), apis=(Api.IMAGES,)),
    # openrouter.ai docs, multimodal image generation: chat image output and its Image API (world-2026-12.md).
    ProviderKind.OPENROUTER: Profile(
        "OpenRouter",
        "https://openrouter.ai/api/v1",
        ("OPENROUTER_API_KEY",),
        naming=Naming.PREFIXED,
        apis=(Api.IMAGES, Api.CHAT),
    ),
    # Local servers on their usual ports (Ollama 11434, vLLM 8000, LocalAI 8080): no key; Ollama's image generation
    # is experimental, generations only; vLLM-Omni also makes images through chat (world-2026-12.md).
    ProviderKind.OLLAMA: Profile(
        "Ollama",
        "http://localhost:11434/v1",
        (),
        needs_key=False,
        naming=Naming.AS_TYPED,
        vendors=(),
        apis=(Api.IMAGES,),
        edits=False,
    ),
    ProviderKind.VLLM_OMNI: Profile(
        "vLLM-Omni",
        "http://localhost:8000/v1",
        (),
        needs_key=False,
        naming=Naming.AS_TYPED,
        vendors=(),
        apis=(Api.IMAGES, Api.CHAT),
    ),
    ProviderKind.LOCALAI: Profile(
        "LocalAI",
        "http://localhost:8080/v1",
        (),
        needs_key=False,
        naming=Naming.AS_TYPED,
        vendors=(),
        apis=(Api.IMAGES,),
        edits=False,
    ),
    # Any OpenAI-compatible base URL: with a key when one is configured, else without (a local server).
    ProviderKind.CUSTOM: Profile("a compatible API", None, (), needs_key=False, naming=Naming.AS_TYPED),
}
KINDS = PROVIDER_NAMES
"""The provider names MCP_IMAGES_PROVIDER takes besides a base URL: every kind but custom."""

KEY_COMMAND_TIMEOUT = 30.0
KEY_LIFETIME = 3000.0
"""Seconds a key read from a file or printed by a command is used before it is read again: under the hour that
Entra ID and gcloud access tokens last; a 401 renews it sooner."""


@dataclass(frozen=True)
class KeySpec:
    """Where a provider's key comes from; the key itself only when it was given directly (a variable or flag)."""

    secret: SecretStr | None = None
    file: Path | None = None
    command: str | None = None
    source: str | None = None
    """What supplied it, for the start-up line and error hints: a variable's name, "file PATH" or "key command";
    None when there is no key."""
    variables: tuple[str, ...] = ()
    """The variables that would supply a key, in the order they are consulted (for error messages)."""
    command_timeout: float = KEY_COMMAND_TIMEOUT
    lifetime: float = KEY_LIFETIME

    @property
    def configured(self) -> bool:
        return self.secret is not None or self.file is not None or self.command is not None


@dataclass(frozen=True)
class Budget:
    """A provider's own spending caps in USD (None: none), on top of the server's."""

    daily: float | None = None
    monthly: float | None = None


@dataclass(frozen=True)
class Endpoint:
    """A resolved upstream: where to send requests, where the key comes from, and how models are named there."""

    provider: ProviderKind
    base_url: str
    key: KeySpec = field(default_factory=KeySpec)
    name: str = ""
    """The provider's name in this server: its kind in the simple case, its key in a providers file; a call may
    address it as `model@name`."""
    key_header: KeyHeader | None = None
    """Where the key goes; None: the kind's own way (Azure `api-key`, every other `Authorization: Bearer`)."""
    api_version: str | None = None
    """Azure's `api-version` query on deployment-scoped paths."""
    models: tuple[str, ...] = ()
    """The models a providers file says it serves (else its own model list decides)."""
    budget: Budget = field(default_factory=Budget)

    @property
    def profile(self) -> Profile:
        return PROFILES[self.provider]

    @property
    def label(self) -> str:
        """The name people see: `openai`, or `local (vllm-omni)` for a providers file's entry."""
        return self.name if self.name == self.provider.value else f"{self.name} ({self.provider})"

    @property
    def api_key(self) -> SecretStr | None:
        return self.key.secret

    @property
    def key_variables(self) -> tuple[str, ...]:
        return self.key.variables

    @property
    def key_source(self) -> str | None:
        return self.key.source


def endpoint_of(settings: Settings) -> Endpoint:
    """The one provider of the simple case, resolved from the settings in the documented order."""
    kind, provider_url = kind_of(settings.provider)
    profile = PROFILES[kind]
    conventions = _CONVENTIONS.get(kind, ((), ()))
    base_url = (
        settings.base_url
        or provider_url
        or next((url for url in (getattr(settings, name) for name in conventions[1]) if url), None)
        or profile.default_url
    )
    if base_url is None:
        raise ConfigurationError(
            f"The {profile.label} provider needs its endpoint: set MCP_IMAGES_BASE_URL (for Azure, the resource "
            "endpoint such as https://NAME.openai.azure.com)."
        )
    key = _settings_key(settings, kind)
    return Endpoint(
        provider=kind,
        base_url=base_url.rstrip("/"),
        key=key,
        name=kind.value,
        key_header=settings.key_header,
        api_version=settings.api_version if kind is ProviderKind.AZURE else None,
    )


def kind_of(provider: str) -> tuple[ProviderKind, str | None]:
    """The provider kind, and the base URL when the provider was given as one."""
    if provider in KINDS:
        return ProviderKind(provider), None
    return ProviderKind.CUSTOM, provider


_CONVENTIONS: Mapping[ProviderKind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    ProviderKind.OPENAI: (("openai_api_key",), ("openai_base_url",)),
    ProviderKind.CUSTOM: (("openai_api_key",), ()),
    ProviderKind.DEDALUS: (("dedalus_api_key",), ()),
    ProviderKind.AZURE: (("azure_openai_api_key",), ("azure_openai_endpoint",)),
    ProviderKind.GEMINI: (("gemini_api_key",), ()),
    ProviderKind.XAI: (("xai_api_key",), ()),
    ProviderKind.OPENROUTER: (("openrouter_api_key",), ()),
}
"""Per kind, the settings fields of its conventional key and base URL variables (read by settings.py)."""


def _settings_key(settings: Settings, kind: ProviderKind) -> KeySpec:
    """The key of the simple case: our variable, the kind's own, then a key file or a key command."""
    fields = ("api_key", *_CONVENTIONS.get(kind, ((), ()))[0])
    variables = tuple(_variable(name) for name in fields)
    none = KeySpec(variables=variables, command_timeout=settings.key_command_timeout, lifetime=settings.key_lifetime)
    for name, variable in zip(fields, variables, strict=True):
        secret: SecretStr | None = getattr(settings, name)
        if secret is not None and secret.get_secret_value().strip():
            return replace(none, secret=secret, source=variable)
    if settings.api_key_file is not None:
        return replace(none, file=settings.api_key_file, source=f"file {settings.api_key_file}")
    if settings.api_key_command is not None:
        return replace(none, command=settings.api_key_command, source=f"{ENV_PREFIX}API_KEY_COMMAND")
    return none


def _variable(field_name: str) -> str:
    """The environment variable that sets a settings field."""
    alias = Settings.model_fields[field_name].validation_alias
    choices = getattr(alias, "choices", None)
    return str(choices[0]) if choices else ENV_PREFIX + field_name.upper()
