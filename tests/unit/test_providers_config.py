"""Provider kinds as configured: the one-provider settings, the providers file and its mistakes, where each kind's
requests go, and a key's lifetime."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from mcp_server_images.backends.credentials import Credential
from mcp_server_images.backends.dialects import url_of
from mcp_server_images.backends.redact import Redactor
from mcp_server_images.catalog.sizes import aspect_request, size_problem
from mcp_server_images.errors import ConfigurationError
from mcp_server_images.providers import Endpoint, KeySpec, ProviderKind, endpoint_of
from mcp_server_images.providers_file import read_providers
from mcp_server_images.settings import Settings


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "providers.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_each_kind_takes_its_own_key_variable_and_default_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XAI_API_KEY", "xai-key")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com/")
    xai, azure = endpoint_of(Settings(provider="xai")), endpoint_of(Settings(provider="azure"))
    ollama = endpoint_of(Settings(provider="ollama"))

    assert (xai.base_url, xai.key_source) == ("https://api.x.ai/v1", "XAI_API_KEY")
    assert (azure.base_url, azure.key_source, azure.api_version) == (
        "https://res.openai.azure.com",
        "AZURE_OPENAI_API_KEY",
        "2025-04-01-preview",
    )
    assert (ollama.base_url, ollama.key_source, ollama.profile.needs_key) == ("http://localhost:11434/v1", None, False)
    assert (
        endpoint_of(Settings(provider="gemini")).base_url == "https://generativelanguage.googleapis.com/v1beta/openai"
    )


def test_a_providers_file_names_each_provider_and_its_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAM_KEY", "team-secret")
    (tmp_path / "keys").mkdir()
    path = written(
        tmp_path,
        """
[defaults]
edit = "qwen@local"

[providers.openai]
key_env = "TEAM_KEY"
daily_budget = 2

[providers.azure-eu]
kind = "azure"
base_url = "https://eu.openai.azure.com"
key_command = "az account get-access-token --query accessToken -o tsv"
key_header = "authorization"
api_version = "2025-04-01-preview"

[providers.local]
kind = "vllm-omni"
base_url = "http://gpu-box:8000/v1"
key_file = "keys/local.key"
models = ["qwen"]
""",
    )
    configured = read_providers(path, Settings())
    openai, azure, local = configured.endpoints

    assert openai.key.secret == SecretStr("team-secret") and openai.budget.daily == 2.0
    assert (azure.provider, azure.key.command, azure.key_header) == (
        ProviderKind.AZURE,
        "az account get-access-token --query accessToken -o tsv",
        "authorization",
    )
    assert azure.label == "azure-eu (azure)"
    assert local.key.file == tmp_path / "keys" / "local.key" and local.models == ("qwen",)
    assert configured.defaults == {"edit": "qwen@local"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "names no provider"),
        ('[providers.a]\nkind = "azure"\n', "[providers.a] in {path}: Azure OpenAI needs base_url (its endpoint)."),
        ('[providers.a]\nkind = "gemeni"\n', "kind is one of openai, dedalus, azure"),
        (
            '[providers.a]\nkind = "openai"\nkey_env = "A"\nkey_file = "b"\n',
            "give one of key_env, key_file, not several",
        ),
        ('[providers.a]\nkind = "openai"\nmodel = ["x"]\n', "unknown field(s) model"),
        ('[providers.a]\nkind = "openai"\n[defaults]\ngenerate = "x@b"\n', "names provider 'b', which the file does"),
        ('[providers.a]\nkind = "openai"\nkey_header = "x-api-key"\n', "key_header is 'authorization' (Bearer)"),
        ('[providers.a]\nkind = "openai"\ndaily_budget = -1\n', "daily_budget must be an amount in USD"),
        ('[provider.a]\nkind = "openai"\n', "unknown top-level keys ['provider']"),
    ],
)
def test_a_mistake_in_the_providers_file_names_the_file_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = written(tmp_path, text)
    with pytest.raises(ConfigurationError) as caught:
        read_providers(path, Settings())
    assert message.format(path=path) in str(caught.value)


@pytest.mark.parametrize(
    ("base", "path", "model", "url"),
    [
        (
            "https://res.openai.azure.com",
            "/images/edits",
            "images-prod",
            "https://res.openai.azure.com/openai/deployments/images-prod/images/edits?api-version=2025-04-01-preview",
        ),
        (
            "https://res.openai.azure.com",
            "/responses",
            "gpt-6-luna",
            "https://res.openai.azure.com/openai/responses?api-version=2025-04-01-preview",
        ),
        (
            "https://res.openai.azure.com/openai/v1",
            "/chat/completions",
            "x",
            "https://res.openai.azure.com/openai/v1/chat/completions",
        ),
    ],
)
def test_azure_paths(base: str, path: str, model: str, url: str) -> None:
    endpoint = Endpoint(ProviderKind.AZURE, base, api_version="2025-04-01-preview")
    assert url_of(endpoint, path, model) == url


def test_openrouter_generations_and_edits_share_its_image_route() -> None:
    endpoint = Endpoint(ProviderKind.OPENROUTER, "https://openrouter.ai/api/v1")
    assert {url_of(endpoint, path, "m") for path in ("/images/generations", "/images/edits")} == {
        "https://openrouter.ai/api/v1/images"
    }


@pytest.mark.parametrize(
    ("size", "request_"),
    [
        ("1024x1024", ("1:1", "1k")),
        ("1536x1024", ("3:2", "2k")),
        ("1366x768", ("16:9", "2k")),
        ("720x1560", ("9:19.5", "2k")),
        ("auto", ("auto", None)),
    ],
)
def test_sizes_become_aspect_ratios_and_resolutions(size: str, request_: tuple[str, str | None]) -> None:
    ratios = ("1:1", "16:9", "3:2", "9:19.5", "auto")
    assert aspect_request(size, ratios, ("1k", "2k")) == request_
    assert size_problem(size, ratios, ("1k", "2k")) is None


@pytest.mark.anyio
async def test_a_command_key_is_run_again_once_its_lifetime_is_over(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    script = tmp_path / "key.py"
    script.write_text(
        f"import pathlib\np = pathlib.Path({str(runs)!r})\nn = len(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text('x' * n)\nprint(f'token-{n}')\n",
        encoding="utf-8",
    )
    now = [0.0]
    redactor = Redactor([])
    credential = Credential(
        KeySpec(command=f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}", lifetime=60, source="test"),
        redactor,
        monotonic=lambda: now[0],
    )

    first = await credential.current()
    now[0] = 59
    cached = await credential.current()
    now[0] = 61
    renewed = await credential.current()

    assert (first, cached, renewed) == ("token-1", "token-1", "token-2")
    assert redactor.text("token-1 and token-2") == "[redacted] and [redacted]"
    assert await credential.renew("token-2") == "token-3"
    assert await credential.renew("token-2") == "token-3", "a request refused with an old key takes the new one"
