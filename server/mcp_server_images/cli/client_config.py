"""`mcp-server-images config <client>`: the snippet that adds this server to an MCP client, ready to paste.

On stdio the command in the snippet is the absolute path of the running install (a checkout's `.venv`, a virtual
environment a wheel went into, or `python -m mcp_server_images` when no script is found), and its environment
carries every setting the command was given (flags or variables), so nothing needs editing but the API key. With
`--transport http` the snippet points the client at the running server's URL with its bearer-token header, and
the settings go to the command that starts the server. Secrets are never printed: the key and the token appear as
placeholders to replace. The same renderers produce the README's snippets, with a placeholder path; a test keeps
the two in step.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, SecretStr

from ..providers import ProviderKind, endpoint_of
from ..settings import ENV_PREFIX, Settings

SERVER_NAME = "images"
KEY_PLACEHOLDER = "sk-your-api-key"
TOKEN_PLACEHOLDER = "your-auth-token"  # noqa: S105 - a placeholder the user replaces
TIMEOUT_SECONDS = 300
"""Clients that cap a tool call (Codex, Goose) get this much: a high-quality image can take minutes."""
KEY_FIELDS = frozenset(
    {
        "api_key",
        "openai_api_key",
        "dedalus_api_key",
        "azure_openai_api_key",
        "gemini_api_key",
        "xai_api_key",
        "openrouter_api_key",
    }
)
"""Where the API key comes from: a snippet carries it once, as a placeholder in the provider's variable."""
HTTP_FIELDS = frozenset({"transport", "host", "port", "path", "auth_token", "stateless_http", "allow_remote"})
"""Settings of HTTP serving: meaningless in a stdio snippet, and in an HTTP one they make its URL and header."""


@dataclass(frozen=True)
class Launch:
    """How a client starts the server: command, arguments and environment."""

    command: str
    args: tuple[str, ...]
    env: Mapping[str, str]


@dataclass(frozen=True)
class Remote:
    """How a client reaches a server already running over streamable HTTP."""

    url: str
    token: bool
    """Whether every request needs the static bearer token (MCP_IMAGES_AUTH_TOKEN)."""


def key_variable(settings: Settings) -> str | None:
    """The variable a snippet puts the key in: the provider's own convention, ours for a gateway (which may want
    one); None for a local server, which needs none, and where the key comes from a file, a command or a providers
    file."""
    if settings.providers_file is not None or settings.api_key_file or settings.api_key_command:
        return None
    endpoint = endpoint_of(settings)
    if not endpoint.profile.needs_key and endpoint.provider is not ProviderKind.CUSTOM:
        return None
    return endpoint.key_variables[0] if endpoint.provider is ProviderKind.CUSTOM else endpoint.key_variables[-1]


def given_env(settings: Settings, *, leave_out: frozenset[str] = frozenset()) -> dict[str, str]:
    """Every setting the command was given (flag or variable) as the variable that sets it, secrets as
    placeholders; `leave_out` names settings the caller writes itself."""
    env: dict[str, str] = {}
    for name in sorted(settings.model_fields_set - KEY_FIELDS - leave_out):
        value = getattr(settings, name)
        if value is None:
            continue
        alias = Settings.model_fields[name].validation_alias
        variable = str(alias.choices[0]) if isinstance(alias, AliasChoices) else ENV_PREFIX + name.upper()
        env[variable] = _shown(name, value)
    return env


def _shown(name: str, value: object) -> str:
    if isinstance(value, SecretStr):
        return f"your-{name.replace('_', '-')}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def server_env(settings: Settings) -> dict[str, str]:
    """The environment a stdio snippet sets: the key (as a placeholder) and every other setting given."""
    return key_env(settings) | given_env(settings, leave_out=HTTP_FIELDS)


def key_env(settings: Settings) -> dict[str, str]:
    """The key's variable with a placeholder, where a snippet needs one."""
    variable = key_variable(settings)
    return {variable: KEY_PLACEHOLDER} if variable is not None else {}


def this_install(settings: Settings) -> Launch:
    """The absolute command of the running install: its console script, else `python -m mcp_server_images`."""
    script = _script()
    if script is not None:
        return Launch(str(script), (), server_env(settings))
    return Launch(sys.executable, ("-m", "mcp_server_images"), server_env(settings))


def _script() -> Path | None:
    name = "mcp-server-images.exe" if os.name == "nt" else "mcp-server-images"
    script = Path(sys.executable).parent / name
    return script if script.is_file() else None


def checkout_root() -> Path | None:
    """The repository this package runs from, when it runs from a checkout (where `make run` is the way in)."""
    root = Path(__file__).resolve().parents[3]  # cli/ -> mcp_server_images/ -> server/ -> the checkout
    markers = (root / "Makefile", root / "pyproject.toml", root / "server" / "mcp_server_images")
    return root if all(marker.exists() for marker in markers) else None


def subcommand(args: str) -> str:
    """How to run `mcp-server-images ARGS` where this copy is installed: through make in a checkout, by name when
    the script is on PATH, else by its absolute path."""
    root = checkout_root()
    if root is not None:
        where = "" if Path.cwd().resolve() == root else f"   (in {root})"
        return f'make run ARGS="{args}"{where}'
    script = _script()
    on_path = shutil.which("mcp-server-images")
    if script is not None and on_path is not None and Path(on_path).resolve() == script.resolve():
        return f"mcp-server-images {args}"
    command = [str(script)] if script is not None else [sys.executable, "-m", "mcp_server_images"]
    return f"{shlex.join(command)} {args}"


def remote_of(settings: Settings) -> Remote:
    """The URL clients reach the HTTP server at: its resource URL or public URL when set, else its bind address."""
    if settings.resource_url:
        url = settings.resource_url
    elif settings.public_base_url:
        url = f"{settings.public_base_url}{settings.path}"
    else:
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104 - a URL, no bind
        url = f"http://{f'[{host}]' if ':' in host else host}:{settings.port}{settings.path}"
    return Remote(url, token=settings.auth_token is not None)


def start_command(settings: Settings) -> str:
    """The command that starts the HTTP server with the settings given (secrets as placeholders)."""
    env = key_env(settings) | given_env(settings, leave_out=frozenset({"transport"}))
    assignments = " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())
    return f"{assignments} {subcommand('--transport http')}"


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


# --- HTTP: the client connects to a server that is already running -------------------------------------------


def _bearer(remote: Remote, token: str = TOKEN_PLACEHOLDER) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if remote.token else {}


def _url_entry(remote: Remote, url_key: str) -> dict[str, Any]:
    headers = _bearer(remote)
    return {url_key: remote.url, **({"headers": headers} if headers else {})}


def bridged_json(remote: Remote) -> str:
    """Claude Desktop's config file starts stdio servers only: mcp-remote (npm) bridges to the HTTP server, with the
    header passed through a variable so the space in it survives every shell (mcp-remote's documented form)."""
    args = ["-y", "mcp-remote", remote.url]
    entry: dict[str, Any] = {"command": "npx", "args": args}
    if remote.token:
        args += ["--header", "Authorization:${AUTH_HEADER}"]
        entry["env"] = {"AUTH_HEADER": f"Bearer {TOKEN_PLACEHOLDER}"}
    return json.dumps({"mcpServers": {SERVER_NAME: entry}}, indent=2)


def url_json(url_key: str) -> Callable[[Remote], str]:
    """The `mcpServers` shape with the server's URL under the key the client reads it from (Cursor `url`,
    Windsurf `serverUrl`, Gemini CLI `httpUrl`)."""

    def render(remote: Remote) -> str:
        return json.dumps({"mcpServers": {SERVER_NAME: _url_entry(remote, url_key)}}, indent=2)

    return render


def vscode_http_json(remote: Remote) -> str:
    """`.vscode/mcp.json` with an `http` server; VS Code asks for the token once and keeps it secret."""
    entry: dict[str, Any] = {"type": "http", "url": remote.url}
    inputs = []
    if remote.token:
        entry["headers"] = _bearer(remote, "${input:auth-token}")
        inputs.append(
            {"type": "promptString", "id": "auth-token", "description": "mcp-server-images token", "password": True}
        )
    return json.dumps({"inputs": inputs, "servers": {SERVER_NAME: entry}}, indent=2)


def vscode_http_cli(remote: Remote) -> str:
    return shlex.join(
        ["code", "--add-mcp", json.dumps({"name": SERVER_NAME, "type": "http", **_url_entry(remote, "url")})]
    )


def claude_code_http(remote: Remote) -> str:
    header = [part for name, value in _bearer(remote).items() for part in ("--header", f"{name}: {value}")]
    return shlex.join(
        ["claude", "mcp", "add", "--scope", "user", "--transport", "http", SERVER_NAME, remote.url, *header]
    )


def codex_http_toml(remote: Remote) -> str:
    """Codex reads the token from a variable of its own environment (`bearer_token_env_var`)."""
    lines = [f"[mcp_servers.{SERVER_NAME}]", f"url = {json.dumps(remote.url)}"]
    if remote.token:
        lines.append(f'bearer_token_env_var = "{ENV_PREFIX}AUTH_TOKEN"')
    return "\n".join([*lines, f"tool_timeout_sec = {TIMEOUT_SECONDS}"])


def goose_http_yaml(remote: Remote) -> str:
    lines = [
        "extensions:",
        f"  {SERVER_NAME}:",
        f"    name: {SERVER_NAME}",
        "    type: streamable_http",
        "    enabled: true",
        f"    uri: {json.dumps(remote.url)}",
    ]
    headers = _bearer(remote)
    if headers:
        lines += ["    headers:", *(f"      {name}: {json.dumps(value)}" for name, value in headers.items())]
    return "\n".join([*lines, f"    timeout: {TIMEOUT_SECONDS}"])


@dataclass(frozen=True)
class Client:
    title: str
    render: Callable[[Launch], str]
    where: str
    """Where the snippet goes, printed to stderr next to it."""
    render_http: Callable[[Remote], str]
    """The snippet for a server already running over streamable HTTP (`config --transport http`)."""


CLIENTS: dict[str, Client] = {
    "claude-desktop": Client(
        "Claude Desktop",
        mcp_servers_json,
        "Merge into claude_desktop_config.json (Settings > Developer > Edit Config), put your key in env and "
        "restart Claude Desktop.",
        bridged_json,
    ),
    "claude-code": Client(
        "Claude Code", claude_code, "Run in a terminal with your key in place of the placeholder.", claude_code_http
    ),
    "vscode": Client(
        "VS Code",
        vscode_json,
        "Save as .vscode/mcp.json in your workspace; VS Code asks for the key once and stores it securely.",
        vscode_http_json,
    ),
    "vscode-cli": Client(
        "VS Code (command line)",
        vscode_cli,
        "Run in a terminal with your key in place of the placeholder; it adds the server to your user profile.",
        vscode_http_cli,
    ),
    "cursor": Client(
        "Cursor",
        mcp_servers_json,
        "Merge into ~/.cursor/mcp.json (every project) or .cursor/mcp.json (one project) and put your key in env.",
        url_json("url"),
    ),
    "codex": Client(
        "Codex CLI", codex_toml, "Append to ~/.codex/config.toml and put your key in env.", codex_http_toml
    ),
    "gemini": Client(
        "Gemini CLI",
        mcp_servers_json,
        "Merge into ~/.gemini/settings.json (or .gemini/settings.json in a project) and put your key in env.",
        url_json("httpUrl"),
    ),
    "goose": Client(
        "Goose", goose_yaml, "Merge into ~/.config/goose/config.yaml and put your key in envs.", goose_http_yaml
    ),
    "windsurf": Client(
        "Windsurf",
        mcp_servers_json,
        "Merge into ~/.codeium/windsurf/mcp_config.json, put your key in env and refresh Windsurf's MCP servers.",
        url_json("serverUrl"),
    ),
}
