"""The command line: every flag documented with its variable, configuration errors said plainly."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
from pathlib import Path

import pytest

from mcp_server_images.cli import FLAGS, describe, load_settings
from mcp_server_images.providers import endpoint_of
from mcp_server_images.settings import Settings
from tests.support.outside import REPO
from tests.support.servers import COMMAND, run_command


@pytest.mark.subprocess
def test_help_documents_every_flag_with_its_environment_variable() -> None:
    result = run_command("--help")

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
    openai = endpoint_of(Settings())
    assert openai.base_url == "https://api.openai.com/v1"
    assert openai.api_key is not None and openai.api_key.get_secret_value() == "sk-from-openai-variable"
    dedalus = endpoint_of(Settings(provider="dedalus"))
    assert dedalus.base_url == "https://api.dedaluslabs.ai/v1"
    assert dedalus.key_source == "DEDALUS_API_KEY"
    monkeypatch.setenv("MCP_IMAGES_API_KEY", "sk-ours-wins")
    assert endpoint_of(Settings(provider="dedalus")).key_source == "MCP_IMAGES_API_KEY"
    gateway = endpoint_of(Settings(provider="https://gateway.example/v1/"))
    assert gateway.base_url == "https://gateway.example/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "https://proxy.example/v1")
    assert endpoint_of(Settings()).base_url == "https://proxy.example/v1"
    assert "sk-" not in describe(Settings())


@pytest.mark.subprocess
def test_a_bad_setting_exits_with_a_readable_message() -> None:
    result = run_command("--provider", "azur", "--transport", "stdio")
    azure = run_command("--provider", "azure", "--transport", "stdio")

    assert result.returncode != 0
    assert "invalid configuration" in result.stderr
    assert (
        "use one of openai, dedalus, azure, gemini, xai, openrouter, ollama, vllm-omni, localai or the base URL of "
        "an OpenAI-compatible API, not 'azur'" in result.stderr
    )
    assert azure.returncode != 0
    assert azure.stderr == (
        "mcp-server-images: The Azure OpenAI provider needs its endpoint: set MCP_IMAGES_BASE_URL (for Azure, the "
        "resource endpoint such as https://NAME.openai.azure.com).\n"
    )


@pytest.mark.subprocess
def test_help_shows_each_flags_default() -> None:
    help_text = " ".join(run_command("--help").stdout.split())

    for expected in (
        "--transport {stdio,http} 'stdio' or 'http' (streamable HTTP). (default: stdio)",
        "--port PORT HTTP port. (default: 8000)",
        "(default: gpt-image-2.6-flare) [env: MCP_IMAGES_DEFAULT_MODEL]",
        "(default: off) [env: MCP_IMAGES_CANCEL_UPSTREAM]",
        "(default: none) [env: MCP_IMAGES_API_KEY]",
        "(default: INFO) [env: MCP_IMAGES_LOG_LEVEL]",
        "{config,doctor,catalog}",
        "(default: 30) [env: MCP_IMAGES_DEFAULT_NOTICE_DAYS]",
        "(default: 24.0) [env: MCP_IMAGES_CATALOG_REFRESH_HOURS]",
    ):
        assert expected in help_text
    assert help_text.count("(default: ") == len(FLAGS)


def test_flags_after_a_command_count_too(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(["doctor", "--provider", "dedalus"]).provider == "dedalus"
    assert load_settings(["--port", "9100", "config", "cursor"]).port == 9100


@pytest.mark.subprocess
def test_started_in_a_terminal_it_says_what_it_waits_for(tmp_path: Path) -> None:
    """stdin is a terminal (a pseudo-terminal here): a banner and the missing-key warning go to stderr."""
    controller, terminal = pty.openpty()
    env = {**os.environ, "MCP_IMAGES_OUTPUT_DIR": str(tmp_path / "images")}
    process = subprocess.Popen(
        COMMAND,
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
        bufsize=0,  # unbuffered, so select() sees every line that has not been read yet
    )
    os.close(terminal)
    assert process.stderr is not None
    lines: list[str] = []
    while not any("WARNING" in line for line in lines):
        ready, _, _ = select.select([process.stderr], [], [], 120)  # a guard against a hang, not a timing check
        line = process.stderr.readline().decode() if ready else ""
        assert line, f"stderr ended or went quiet before the warning: {lines}"
        lines.append(line)
    process.terminate()
    stdout, _ = process.communicate(timeout=30)
    os.close(controller)

    text = "".join(lines)
    assert "It is now waiting for an MCP client on stdin/stdout" in text
    # Run from a checkout, where the console script is not on PATH: the form that works there.
    assert f'Connect a client:   make run ARGS="config <client>"   (in {REPO})' in text
    assert "(<client>: claude-desktop, claude-code," in text
    assert f'Check the set-up:   make run ARGS="doctor"   (in {REPO})' in text
    assert "WARNING mcp_server_images: No API key: set MCP_IMAGES_API_KEY or OPENAI_API_KEY." in text
    assert stdout == b""


@pytest.mark.subprocess
def test_ctrl_c_in_a_terminal_stops_it_at_once(tmp_path: Path) -> None:
    """The first Ctrl+C ends the server; nothing more has to be typed (it used to wait for Enter)."""
    controller, terminal = pty.openpty()
    env = {**os.environ, "MCP_IMAGES_OUTPUT_DIR": str(tmp_path / "images")}
    process = subprocess.Popen(
        COMMAND,
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        bufsize=0,
    )
    os.close(terminal)
    assert process.stdout is not None
    # Typed at the terminal: a ping, whose answer shows the server is reading its input.
    os.write(controller, b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
    ready, _, _ = select.select([process.stdout], [], [], 120)  # a guard against a hang, not a timing check
    assert ready and b'"id":1' in process.stdout.readline()

    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=60)  # a guard against a hang: it stops without further input
    finally:
        process.kill()
        os.close(controller)

    assert process.returncode == 0
    assert "received SIGINT; shutting down" in stderr.decode()


@pytest.mark.subprocess
def test_no_banner_when_a_client_starts_it(tmp_path: Path) -> None:
    result = run_command(env={"MCP_IMAGES_OUTPUT_DIR": str(tmp_path / "images")}, stdin="")
    assert "waiting for an MCP client" not in result.stderr
    assert "No API key" in result.stderr
