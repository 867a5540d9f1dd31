"""Every install path, as a user takes it: the snippets `config` prints for each client, the built wheel in a
fresh virtual environment, the Claude Desktop bundle, and the registry entry.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from mcp import StdioServerParameters

from mcp_server_images import __version__
from mcp_server_images.cli.client_config import CLIENTS, KEY_PLACEHOLDER, Launch
from tests.fake_openai import Emulator
from tests.support.outside import REPO, NodeTools
from tests.support.registry_schema import SCHEMA_URL, SERVER_JSON_SCHEMA
from tests.support.results import TOOLS
from tests.support.servers import COMMAND, free_port, http_server, open_client, server_env

pytestmark = pytest.mark.anyio

README = (REPO / "README.md").read_text()
KEY_INPUT = "${input:api-key}"


def parse_snippet(client: str, text: str) -> Launch:
    """The command, arguments and environment a client would take from the snippet."""
    if client in ("claude-code", "vscode-cli"):
        words = shlex.split(text)
        if client == "vscode-cli":
            entry = json.loads(words[2])
            return Launch(entry["command"], tuple(entry["args"]), entry["env"])
        split = words.index("--")
        pairs = [words[i + 1] for i, word in enumerate(words[:split]) if word == "--env"]
        return Launch(words[split + 1], tuple(words[split + 2 :]), dict(p.split("=", 1) for p in pairs))
    if client == "codex":
        entry = tomllib.loads(text)["mcp_servers"]["images"]
    elif client == "goose":
        goose = yaml.safe_load(text)["extensions"]["images"]
        entry = {"command": goose["cmd"], "args": goose["args"], "env": goose["envs"]}
    else:
        config = json.loads(text)
        entry = config["servers" if client == "vscode" else "mcpServers"]["images"]
    return Launch(entry["command"], tuple(entry["args"]), entry["env"])


def with_emulator(env: dict[str, str], emulator: Emulator, output_dir: Path) -> dict[str, str]:
    """The snippet's environment with the user's key filled in, pointed at the emulator."""
    filled = {name: emulator.api_key if value in (KEY_PLACEHOLDER, KEY_INPUT) else value for name, value in env.items()}
    return filled | {"MCP_IMAGES_BASE_URL": emulator.base_url, "MCP_IMAGES_OUTPUT_DIR": str(output_dir)}


async def listed_tools(launch: Launch, env: dict[str, str]) -> list[str]:
    params = StdioServerParameters(command=launch.command, args=list(launch.args), env=env)
    async with open_client(params) as client:
        return [tool.name for tool in (await client.list_tools()).tools]


def printed_config(command: list[str], client: str) -> str:
    result = subprocess.run([*command, "config", client], capture_output=True, text=True, timeout=60, check=True)
    assert CLIENTS[client].where in result.stderr
    return result.stdout


@pytest.mark.subprocess
@pytest.mark.parametrize("client", list(CLIENTS))
async def test_each_clients_snippet_starts_this_install(client: str, emulator: Emulator, output_dir: Path) -> None:
    snippet = printed_config(COMMAND, client)
    launch = parse_snippet(client, snippet)

    assert Path(launch.command).is_absolute()
    assert Path(launch.command) == Path(sys.executable).parent / "mcp-server-images"
    assert list(launch.env) == ["OPENAI_API_KEY"]
    assert await listed_tools(launch, with_emulator(dict(launch.env), emulator, output_dir)) == TOOLS


def readme_blocks(client: str, launch: Launch) -> str:
    return CLIENTS[client].render(launch)


@pytest.mark.parametrize("client", list(CLIENTS))
def test_the_readme_shows_each_clients_snippet(client: str) -> None:
    env = {"OPENAI_API_KEY": KEY_PLACEHOLDER}
    checkout = Launch("/ABSOLUTE/PATH/TO/mcp-server-images/.venv/bin/mcp-server-images", (), env)

    assert readme_blocks(client, checkout) in README
    assert f'`make run ARGS="config {client}"`' in " ".join(README.split()) or client == "vscode-cli"


def test_the_readme_tells_the_uvx_form_once() -> None:
    flat = " ".join(README.split())
    assert flat.count("Once the package is published on PyPI") == 1
    assert '`"command": "uvx"` and `"args": ["mcp-server-images"]`' in flat


@pytest.mark.subprocess
def test_config_names_the_providers_variables(tmp_path: Path) -> None:
    command = [*COMMAND, "--provider", "dedalus"]
    dedalus = parse_snippet("cursor", printed_config(command, "cursor"))
    gateway = parse_snippet("codex", printed_config([*command[:-1], "https://gateway.example/v1"], "codex"))
    xai = parse_snippet("cursor", printed_config([*command[:-1], "xai"], "cursor"))
    ollama = parse_snippet("cursor", printed_config([*command[:-1], "ollama"], "cursor"))

    assert dedalus.env == {"DEDALUS_API_KEY": KEY_PLACEHOLDER, "MCP_IMAGES_PROVIDER": "dedalus"}
    assert gateway.env == {"MCP_IMAGES_API_KEY": KEY_PLACEHOLDER, "MCP_IMAGES_PROVIDER": "https://gateway.example/v1"}
    assert xai.env == {"XAI_API_KEY": KEY_PLACEHOLDER, "MCP_IMAGES_PROVIDER": "xai"}
    assert ollama.env == {"MCP_IMAGES_PROVIDER": "ollama"}, "a local server needs no key"


@pytest.mark.subprocess
def test_config_keeps_every_setting_given(emulator: Emulator, tmp_path: Path) -> None:
    """Flags and variables given to `config` go into the snippet, so the client starts the server as configured."""
    images = tmp_path / "my images"
    command = [sys.executable, "-m", "mcp_server_images", "--output-dir", str(images), "--daily-budget", "3"]
    launch = parse_snippet("cursor", printed_config(command, "cursor"))

    assert launch.env == {
        "OPENAI_API_KEY": KEY_PLACEHOLDER,
        "MCP_IMAGES_DAILY_BUDGET": "3.0",
        "MCP_IMAGES_OUTPUT_DIR": str(images),
    }


def printed_http_config(command: list[str], client: str) -> str:
    result = subprocess.run([*command, "config", client], capture_output=True, text=True, timeout=60, check=True)
    return result.stdout


def http_snippet(client: str, text: str) -> tuple[str, dict[str, str]]:
    """The URL and headers a client would take from its HTTP snippet."""
    if client == "claude-code":
        words = shlex.split(text)
        headers = [words[i + 1] for i, word in enumerate(words) if word == "--header"]
        return words[-3], dict(header.split(": ", 1) for header in headers)
    if client == "vscode-cli":
        entry = json.loads(shlex.split(text)[2])
        return entry["url"], entry.get("headers", {})
    if client == "codex":
        codex = tomllib.loads(text)["mcp_servers"]["images"]
        assert codex["bearer_token_env_var"] == "MCP_IMAGES_AUTH_TOKEN"
        return codex["url"], {"Authorization": "Bearer your-auth-token"}
    if client == "goose":
        goose = yaml.safe_load(text)["extensions"]["images"]
        assert goose["type"] == "streamable_http"
        return goose["uri"], goose["headers"]
    if client == "claude-desktop":
        bridge = json.loads(text)["mcpServers"]["images"]
        assert bridge["command"] == "npx" and bridge["args"][:3] == ["-y", "mcp-remote", bridge["args"][2]]
        return bridge["args"][2], {"Authorization": bridge["env"]["AUTH_HEADER"]}
    if client == "vscode":
        server = json.loads(text)["servers"]["images"]
        assert server["type"] == "http" and server["headers"]["Authorization"] == "Bearer ${input:auth-token}"
        return server["url"], {"Authorization": "Bearer your-auth-token"}
    entry = json.loads(text)["mcpServers"]["images"]
    return entry[{"cursor": "url", "gemini": "httpUrl", "windsurf": "serverUrl"}[client]], entry["headers"]


@pytest.mark.subprocess
@pytest.mark.parametrize("client", list(CLIENTS))
def test_config_for_http_points_the_client_at_the_server_with_its_token(client: str) -> None:
    command = [sys.executable, "-m", "mcp_server_images", "--transport", "http", "--port", "9123"]
    result = subprocess.run(
        [*command, "--auth-token", "s3cret-token-value", "config", client],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    url, headers = http_snippet(client, result.stdout)
    assert url == "http://127.0.0.1:9123/mcp"
    assert headers == {"Authorization": "Bearer your-auth-token"}
    assert "s3cret-token-value" not in result.stdout + result.stderr, "the token itself is never printed"
    assert "Start the server with the same settings: " in result.stderr
    assert "MCP_IMAGES_AUTH_TOKEN=your-auth-token MCP_IMAGES_PORT=9123 " in result.stderr


@pytest.mark.subprocess
async def test_the_http_snippet_connects_once_the_token_is_filled_in(emulator: Emulator, output_dir: Path) -> None:
    port = free_port()
    command = [*COMMAND, "--transport", "http", "--port", str(port)]
    url, headers = http_snippet("cursor", printed_http_config([*command, "--auth-token", "t"], "cursor"))
    assert headers == {"Authorization": "Bearer your-auth-token"}

    env = server_env(emulator, output_dir, MCP_IMAGES_AUTH_TOKEN="a-real-token")
    with http_server(env, port=port):
        async with open_client(url, token="a-real-token") as client:
            assert [tool.name for tool in (await client.list_tools()).tools] == TOOLS


def make(*args: str) -> None:
    """Run a Makefile target the way a user does; its output goes to the test log."""
    subprocess.run(["make", "-s", "-C", str(REPO), *args], check=True, timeout=600)


@pytest.fixture(scope="session")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make dist` into a fresh folder: the wheel and the sdist users get."""
    folder = tmp_path_factory.mktemp("dist")
    make("dist", f"DIST_DIR={folder}")
    return folder


@pytest.fixture(scope="session")
def wheel_env(dist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with only the built wheel (and its dependencies) installed."""
    [wheel] = dist_dir.glob(f"mcp_server_images-{__version__}-py3-none-any.whl")
    environment = tmp_path_factory.mktemp("wheel-venv")
    venv.create(environment, with_pip=True)
    pip = [str(environment / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, str(wheel)], check=True, timeout=600)
    return environment


@pytest.mark.install
def test_dist_builds_a_wheel_and_an_sdist(dist_dir: Path) -> None:
    names = sorted(path.name for path in dist_dir.iterdir())
    assert names == [f"mcp_server_images-{__version__}-py3-none-any.whl", f"mcp_server_images-{__version__}.tar.gz"]


@pytest.mark.install
def test_the_wheel_and_the_sdist_carry_the_app(dist_dir: Path) -> None:
    """The MCP App is one HTML file in the package: installing needs no Node and no build step."""
    [wheel] = dist_dir.glob("*.whl")
    [sdist] = dist_dir.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        assert "mcp_server_images/adapter/app/app.html" in archive.namelist()
    with tarfile.open(sdist) as archive:
        assert any(name.endswith("server/mcp_server_images/adapter/app/app.html") for name in archive.getnames())


@pytest.mark.install
@pytest.mark.subprocess
async def test_the_wheel_installs_and_serves_with_its_own_command(
    wheel_env: Path, emulator: Emulator, output_dir: Path
) -> None:
    command = wheel_env / "bin" / "mcp-server-images"
    launch = parse_snippet("claude-desktop", printed_config([str(command)], "claude-desktop"))

    assert launch.command == str(command)
    assert await listed_tools(launch, with_emulator(dict(launch.env), emulator, output_dir)) == TOOLS


@pytest.mark.install
@pytest.mark.subprocess
@pytest.mark.parametrize("on_path", [False, True], ids=["by-path", "on-path"])
def test_the_wheels_hints_name_its_own_command(wheel_env: Path, tmp_path: Path, on_path: bool) -> None:
    """Outside a checkout the hints name the command that works there: its name when it is on PATH, else its
    absolute path (never `make run`)."""
    command = wheel_env / "bin" / "mcp-server-images"
    search = f"{command.parent}{os.pathsep}/usr/bin:/bin" if on_path else "/usr/bin:/bin"
    env = {"PATH": search, "HOME": str(tmp_path), "MCP_IMAGES_OUTPUT_DIR": str(tmp_path / "images")}
    doctor = subprocess.run([str(command), "doctor"], capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)

    expected = "mcp-server-images config <client>" if on_path else f"{command} config <client>"
    assert f"(`{expected}` prints one)" in doctor.stdout, doctor.stdout
    assert "make run" not in doctor.stdout


@pytest.mark.install
def test_the_wheels_description_carries_the_registry_name(wheel_env: Path) -> None:
    read = "import importlib.metadata as m; print(m.distribution('mcp-server-images').read_text('METADATA'))"
    python = str(wheel_env / "bin" / "python")
    metadata = subprocess.run([python, "-c", read], capture_output=True, text=True, check=True).stdout
    assert f"mcp-name: {registry_entry()['name']}" in metadata


def registry_entry() -> dict[str, Any]:
    entry: dict[str, Any] = json.loads((REPO / "manifests" / "server.json").read_text())
    return entry


def test_the_registry_entry_follows_the_registry_schema_and_this_release() -> None:
    entry = registry_entry()

    jsonschema.validate(entry, SERVER_JSON_SCHEMA, format_checker=jsonschema.FormatChecker())
    assert entry["$schema"] == SCHEMA_URL
    assert entry["version"] == __version__
    [package] = entry["packages"]
    assert (package["registryType"], package["identifier"], package["version"]) == (
        "pypi",
        "mcp-server-images",
        __version__,
    )
    assert re.search(rf"^<!-- mcp-name: {re.escape(entry['name'])} -->$", README, re.MULTILINE)
    secrets = {variable["name"] for variable in package["environmentVariables"] if variable.get("isSecret")}
    assert secrets == {"OPENAI_API_KEY", "DEDALUS_API_KEY", "MCP_IMAGES_API_KEY"}


def test_the_registry_schema_check_catches_what_the_registry_refuses() -> None:
    good = registry_entry()
    for broken in (
        {**good, "description": "x" * 101},
        {**good, "name": "mcp-server-images"},
        {**good, "packages": [{**good["packages"][0], "version": "latest"}]},
        {**good, "packages": [{**good["packages"][0], "registry_type": "pypi"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SERVER_JSON_SCHEMA)


@pytest.fixture
def unpacked_bundle(node_tools: NodeTools, dist_dir: Path, tmp_path: Path) -> Path:
    """`make bundle` (which validates the manifest and packs), then `mcpb validate` and `mcpb unpack` again."""
    make("bundle", f"DIST_DIR={dist_dir}")
    mcpb, env = node_tools.command("mcpb"), node_tools.env()
    manifest = str(REPO / "manifests" / "mcpb" / "manifest.json")
    validated = subprocess.run([*mcpb, "validate", manifest], env=env, capture_output=True, text=True, check=False)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    unpacked = tmp_path / "unpacked"
    bundle = dist_dir / f"mcp-server-images-{__version__}.mcpb"
    subprocess.run([*mcpb, "unpack", str(bundle), str(unpacked)], env=env, capture_output=True, check=True)
    return unpacked


def substitute(value: str, bundle_dir: Path, user_config: dict[str, str]) -> str:
    """What Claude Desktop does to the manifest's mcp_config: ${__dirname} and ${user_config.*}."""
    value = value.replace("${__dirname}", str(bundle_dir))
    return re.sub(r"\$\{user_config\.(\w+)\}", lambda match: user_config[match.group(1)], value)


@pytest.mark.install
@pytest.mark.outside
@pytest.mark.subprocess
async def test_the_bundle_validates_packs_unpacks_and_starts(
    unpacked_bundle: Path, emulator: Emulator, output_dir: Path
) -> None:
    unpacked = unpacked_bundle
    manifest = json.loads((unpacked / "manifest.json").read_text())
    assert manifest["version"] == __version__
    assert manifest["user_config"]["api_key"]["sensitive"] is True
    assert set(manifest["user_config"]) == {"api_key", "provider", "base_url", "output_dir", "daily_budget"}
    [wheel] = (unpacked / "server" / "wheels").glob("*.whl")
    assert wheel.name == f"mcp_server_images-{__version__}-py3-none-any.whl"

    config = manifest["server"]["mcp_config"]
    user_config = {
        "api_key": emulator.api_key,
        "provider": "openai",
        "base_url": emulator.base_url,
        "output_dir": str(output_dir),
        "daily_budget": "",
    }
    launch = Launch(
        config["command"],
        tuple(substitute(arg, unpacked, user_config) for arg in config["args"]),
        {name: substitute(value, unpacked, user_config) for name, value in config["env"].items()},
    )
    # The user's own Python and environment (HOME is the test's, so the bundle installs into a fresh cache).
    environment = {**os.environ, **launch.env}
    assert await listed_tools(launch, environment) == TOOLS
    assert list((Path(os.environ["HOME"]) / ".cache" / "mcp-server-images").glob("bundle-*/bin/python"))
    assert await listed_tools(launch, {**environment, "MCP_IMAGES_BASE_URL": ""}) == TOOLS, "second start, empty URL"
