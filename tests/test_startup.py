"""A client that starts the server and lists its tools pays for nothing it did not use: the image decoders, the
upstream client, sign-in, the S3 client, JSON Schema validation, the SVG renderer and the store's index are loaded at
their first use, never at start. Nor does it derive the tools' output schemas (they are published from data) or build
the models of their results, and the objects it builds are not walked by the garbage collector again and again.

The server is started as a client starts it (stdio), with Python's `-X importtime`, which writes every module as it
is imported to stderr; after initialize and tools/list the session ends and the list is read. How long a start takes
is `make bench`'s business; these tests say what is loaded and built, which does not depend on the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import CoreSchema

from mcp_server_images.app import build_server
from tests.fake_openai import Emulator
from tests.support.clock import FrozenClock
from tests.support.servers import COMMAND, SettingsFactory, server_env

NOT_AT_START = (
    "PIL",  # image decoding, previews, masks
    "jsonschema",  # analyze_image's response_schema
    "referencing",
    "jwt",  # sign-in (PyJWT), only with an issuer configured
    "resvg_py",  # SVG rasterizing
    "obstore",  # the S3 store
    "c2pa",  # Content Credentials
    "httpcore2",  # the connection stack under the upstream client and the URL fetchers
    "h11",
    "truststore",
    "pybase64",  # decoding answers
    "sqlite3",  # the local store's index
    "mcp_server_images.operations.pipeline",
    "mcp_server_images.backends.client",
    "mcp_server_images.imaging.previews",
    "mcp_server_images.store.index",
)
"""Packages and modules a session that only lists the tools never needs. (The SDK itself loads starlette, uvicorn
and part of cryptography for any MCPServer: those are not the server's to leave out.)"""


def imported(stderr: str) -> set[str]:
    """The modules `-X importtime` reported."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def loaded_from(modules: set[str], name: str) -> list[str]:
    return sorted(module for module in modules if module == name or module.startswith(name + "."))


@pytest.mark.subprocess
@pytest.mark.anyio
async def test_listing_the_tools_loads_nothing_a_call_would_need(
    emulator: Emulator, output_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "stderr.txt"
    command = ["-X", "importtime", "-m", "mcp_server_images"]
    params = StdioServerParameters(command=sys.executable, args=command, env=server_env(emulator, output_dir))
    with log.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            listed = await client.list_tools()
    assert "generate_image" in {tool.name for tool in listed.tools}
    modules = imported(log.read_text())
    assert "mcp_server_images.app" in modules  # the report is there and is read right
    loaded = {name: found for name in NOT_AT_START if (found := loaded_from(modules, name))}
    assert loaded == {}


@pytest.mark.anyio
async def test_a_start_derives_no_output_schema(
    make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tools' output schemas are published from data (adapter/tools/output_schemas.json): building the server
    derives none of them from the models (the SDK would, once per tool: four tools return ImagesResult)."""
    derived: list[str] = []
    generate = GenerateJsonSchema.generate

    def recorded(self: GenerateJsonSchema, schema: CoreSchema, mode: JsonSchemaMode = "validation") -> JsonSchemaValue:
        generated = generate(self, schema, mode)
        derived.append(str(generated.get("title")))
        return generated

    monkeypatch.setattr(GenerateJsonSchema, "generate", recorded)
    server = build_server(make_settings(), FrozenClock())
    published = [tool.output_schema["title"] for tool in await server.list_tools() if tool.output_schema]
    assert published.count("ImagesResult") == 4
    assert set(published) & set(derived) == set()


SERVING_STATE = """
import gc, json, anyio
from pydantic import BaseModel
from mcp_server_images import cli
from mcp_server_images.adapter.tools import results

def serving(*_: object) -> None:  # in place of the transport: what serving begins with
    models = [value for value in vars(results).values() if isinstance(value, type) and issubclass(value, BaseModel)]
    built = [model.__name__ for model in models if model.__pydantic_complete__ and model is not BaseModel]
    print(json.dumps({"collecting": gc.isenabled(), "frozen": gc.get_freeze_count(), "built results": built}))

anyio.run = serving
cli.main([])
"""


def serving_state(emulator: Emulator, output_dir: Path) -> dict[str, Any]:
    """How the server stands once built, when it begins to serve on stdio."""
    env = {**os.environ, **server_env(emulator, output_dir)}
    shown = subprocess.run([COMMAND[0], "-c", SERVING_STATE], env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    state: dict[str, Any] = json.loads(shown.stdout)
    return state


@pytest.mark.subprocess
def test_serving_begins_with_the_start_ups_objects_frozen(emulator: Emulator, output_dir: Path) -> None:
    """The start-up's objects live as long as the server: they are frozen once it is built, so neither the
    collector's passes while it serves nor the last one at exit walk them. The collector itself is on."""
    state = serving_state(emulator, output_dir)
    assert state["collecting"] is True
    assert state["frozen"] > 50_000  # the SDK's and the server's modules, classes and schemas


@pytest.mark.subprocess
def test_no_result_model_is_built_before_a_call(emulator: Emulator, output_dir: Path) -> None:
    """The models of structuredContent are built when a call first validates a result: listing the tools needs
    only their published schemas."""
    assert serving_state(emulator, output_dir)["built results"] == []
