"""`mcp-server-images config <client>`: the snippet that adds this server to an MCP client, ready to paste.

The command in the snippet is the absolute path of the running install (a checkout's `.venv`, a virtual
environment a wheel went into, or `python -m mcp_server_images` when no script is found), so nothing needs
editing but the API key. The same renderers produce the README's snippets, with a placeholder path and with
`uvx` for once the package is published; a test keeps the two in step.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .settings import ENV_PREFIX, ProviderKind, Settings

SERVER_NAME = "images"
KEY_PLACEHOLDER = "sk-your-api-key"
TIMEOUT_SECONDS = 300
"""Clients that cap a tool call (Codex, Goose) get this much: a high-quality image can take minutes."""


@dataclass(frozen=True)
class Launch:
    """How a client starts the server: command, arguments and environment."""

    command: str
    args: tuple[str, ...]
    env: Mapping[str, str]


def key_variable(settings: Settings) -> str:
    """The variable a snippet puts the key in: the provider's own convention, ours for a gateway."""
    endpoint = settings.endpoint()
    return endpoint.key_variables[0] if endpoint.provider is ProviderKind.CUSTOM else endpoint.key_variables[-1]


def server_env(settings: Settings) -> dict[str, str]:
    """The environment a snippet sets: the key (as a placeholder) and any provider other than the default."""
    env = {key_variable(settings): KEY_PLACEHOLDER}
    if settings.provider != ProviderKind.OPENAI:
        env[f"{ENV_PREFIX}PROVIDER"] = settings.provider
    return env


def this_install(settings: Settings) -> Launch:
    """The absolute command of the running install: its console script, else `python -m mcp_server_images`."""
    name = "mcp-server-images.exe" if os.name == "nt" else "mcp-server-images"
    script = Path(sys.executable).parent / name
    if script.is_file():
        return Launch(str(script), (), server_env(settings))
    return Launch(sys.executable, ("-m", "mcp_server_images"), server_env(settings))


def _entry(launch: Launch) -> dict[str, Any]:
    return {"command": launch.command, "args": list(launch.args), "env": dict(launch.env)}


def mcp_servers_json(launch: Launch) -> str:
    """The `mcpServers` shape Claude Desktop, Cursor, Windsurf and Gemini CLI share."""
    return json.dumps({"mcpServers": {SERVER_NAME: _entry(launch)}}, indent=2)


def vscode_json(launch: Launch) -> str:
    """`.vscode/mcp.json`: VS Code asks for the key once (a password input) and keeps it in its secret store."""
    secrets = {name: "${input:api-key}" for name in launch.env if launch.env[name] == KEY_PLACEHOLDER}
    entry = {"type": "stdio", **_entry(launch), "env": {**launch.env, **secrets}}
    key_input = {
        "type": "promptString",
        "id": "api-key",
        "description": "API key for mcp-server-images",
        "password": True,
    }
    return json.dumps({"inputs": [key_input], "servers": {SERVER_NAME: entry}}, indent=2)


def vscode_cli(launch: Launch) -> str:
    """`code --add-mcp`: adds the server to the user profile in one command."""
    return shlex.join(["code", "--add-mcp", json.dumps({"name": SERVER_NAME, **_entry(launch)})])


def claude_code(launch: Launch) -> str:
    env = [part for name, value in launch.env.items() for part in ("--env", f"{name}={value}")]
    return shlex.join(
        ["claude", "mcp", "add", "--scope", "user", SERVER_NAME, *env, "--", launch.command, *launch.args]
    )


def codex_toml(launch: Launch) -> str:
    """`~/.codex/config.toml`. JSON strings are valid TOML basic strings, so json.dumps quotes safely."""
    env = ", ".join(f"{name} = {json.dumps(value)}" for name, value in launch.env.items())
    return "\n".join(
        [
            f"[mcp_servers.{SERVER_NAME}]",
            f"command = {json.dumps(launch.command)}",
            f"args = {json.dumps(list(launch.args))}",
            f"env = {{ {env} }}",
            f"tool_timeout_sec = {TIMEOUT_SECONDS}",
        ]
    )


def goose_yaml(launch: Launch) -> str:
    """`~/.config/goose/config.yaml`. JSON strings are valid YAML double-quoted scalars."""
    lines = [
        "extensions:",
        f"  {SERVER_NAME}:",
        f"    name: {SERVER_NAME}",
        "    type: stdio",
        "    enabled: true",
        f"    cmd: {json.dumps(launch.command)}",
        f"    args: {json.dumps(list(launch.args))}",
        "    envs:",
        *(f"      {name}: {json.dumps(value)}" for name, value in launch.env.items()),
        f"    timeout: {TIMEOUT_SECONDS}",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class Client:
    title: str
    render: Callable[[Launch], str]
    where: str
    """Where the snippet goes, printed to stderr next to it."""


CLIENTS: dict[str, Client] = {
    "claude-desktop": Client(
        "Claude Desktop",
        mcp_servers_json,
        "Merge into claude_desktop_config.json (Settings > Developer > Edit Config), put your key in env and "
        "restart Claude Desktop.",
    ),
    "claude-code": Client("Claude Code", claude_code, "Run in a terminal with your key in place of the placeholder."),
    "vscode": Client(
        "VS Code",
        vscode_json,
        "Save as .vscode/mcp.json in your workspace; VS Code asks for the key once and stores it securely.",
    ),
    "vscode-cli": Client(
        "VS Code (command line)",
        vscode_cli,
        "Run in a terminal with your key in place of the placeholder; it adds the server to your user profile.",
    ),
    "cursor": Client(
        "Cursor",
        mcp_servers_json,
        "Merge into ~/.cursor/mcp.json (every project) or .cursor/mcp.json (one project) and put your key in env.",
    ),
    "codex": Client("Codex CLI", codex_toml, "Append to ~/.codex/config.toml and put your key in env."),
    "gemini": Client(
        "Gemini CLI",
        mcp_servers_json,
        "Merge into ~/.gemini/settings.json (or .gemini/settings.json in a project) and put your key in env.",
    ),
    "goose": Client("Goose", goose_yaml, "Merge into ~/.config/goose/config.yaml and put your key in envs."),
    "windsurf": Client(
        "Windsurf",
        mcp_servers_json,
        "Merge into ~/.codeium/windsurf/mcp_config.json, put your key in env and refresh Windsurf's MCP servers.",
    ),
}
