"""The command line: every flag documented with its variable, configuration errors said plainly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mcp_server_images.cli import FLAGS, describe, load_settings
from mcp_server_images.settings import Settings


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_server_images", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_help_documents_every_flag_with_its_environment_variable() -> None:
    result = run_cli("--help")

    assert result.returncode == 0
    help_text = " ".join(result.stdout.split())
    for flag, name, _ in FLAGS:
        assert flag in help_text
        assert f"[env: MCP_IMAGES_{name.upper()}]" in help_text
    assert set(name for _, name, _ in FLAGS) >= {
        "transport",
        "host",
        "port",
        "path",
        "output_dir",
        "provider",
        "base_url",
        "api_key",
        "inline",
        "inline_budget",
        "upstream_timeout",
        "max_concurrency",
    }


def test_flags_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_IMAGES_PORT", "9000")
    monkeypatch.setenv("MCP_IMAGES_INLINE", "none")
    settings = load_settings(["--port", "9100"])
    assert settings.port == 9100
    assert settings.inline == "none"


def test_provider_key_and_url_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-openai-variable")
    monkeypatch.setenv("DEDALUS_API_KEY", "dsk-from-dedalus-variable")
    openai = Settings().endpoint()
    assert openai.base_url == "https://api.openai.com/v1"
    assert openai.api_key is not None and openai.api_key.get_secret_value() == "sk-from-openai-variable"
    dedalus = Settings(provider="dedalus").endpoint()
    assert dedalus.base_url == "https://api.dedaluslabs.ai/v1"
    assert dedalus.key_source == "DEDALUS_API_KEY"
    monkeypatch.setenv("MCP_IMAGES_API_KEY", "sk-ours-wins")
    assert Settings(provider="dedalus").endpoint().key_source == "MCP_IMAGES_API_KEY"
    gateway = Settings(provider="https://gateway.example/v1/").endpoint()
    assert gateway.base_url == "https://gateway.example/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "https://proxy.example/v1")
    assert Settings().endpoint().base_url == "https://proxy.example/v1"
    assert "sk-" not in describe(Settings())


def test_a_bad_setting_exits_with_a_readable_message() -> None:
    result = run_cli("--provider", "azure", "--transport", "stdio")

    assert result.returncode != 0
    assert "invalid configuration" in result.stderr
    assert "use 'openai', 'dedalus' or the base URL of an OpenAI-compatible API" in result.stderr
