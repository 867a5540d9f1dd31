"""`mcp-server-images doctor`: each check against the emulator, as a user runs it, text and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fake_openai import Emulator
from tests.support.s3 import S3Server
from tests.support.servers import free_port, run_command, server_env

pytestmark = pytest.mark.subprocess


def doctor(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = run_command("doctor", *args, env=env, timeout=120)
    return result.returncode, result.stdout


def checks_of(output: str) -> dict[str, dict[str, Any]]:
    report = json.loads(output)
    return {check["name"]: check for check in report["checks"]}


def test_a_good_set_up_passes_every_check(emulator: Emulator, output_dir: Path) -> None:
    status, output = doctor(server_env(emulator, output_dir), "--json")

    assert status == 0, output
    checks = checks_of(output)
    assert json.loads(output)["ok"] is True
    assert {name: check["status"] for name, check in checks.items()} == {
        "versions": "ok",
        "api key": "ok",
        "provider": "ok",
        "image model": "ok",
        "vision model": "ok",
        "catalog": "ok",
        "image folder": "ok",
        "transport": "ok",
    }
    assert checks["api key"]["detail"] == f"provider openai at {emulator.base_url}, key from OPENAI_API_KEY"
    assert checks["image model"]["detail"] == "gpt-image-2.6-flare is served"
    assert checks["vision model"]["detail"] == "gpt-6-luna is served"
    assert checks["image folder"]["detail"] == f"{output_dir} is writable"
    catalog = checks["catalog"]["detail"]
    assert catalog.startswith("serial 2026120700, shipped with the package, facts as of 2026-12-07")
    assert catalog.endswith(
        "the project's catalog feed is off until a release ships the project's public key; to "
        "follow a team's feed, set MCP_IMAGES_CATALOG_URL and MCP_IMAGES_CATALOG_KEYS"
    )
    assert emulator.api_key not in output
    assert [r.path for r in emulator.requests] == ["/v1/models"]


def test_the_text_report_says_what_to_do(emulator: Emulator, output_dir: Path) -> None:
    env = server_env(emulator, output_dir, MCP_IMAGES_DEFAULT_MODEL="openai/gpt-image-9")
    status, output = doctor(env)

    assert status == 1
    lines = output.splitlines()
    assert lines[0] == "mcp-server-images doctor"
    assert "  FAIL  image model: openai/gpt-image-9 is not in the provider's model list" in lines
    assert "        -> Set MCP_IMAGES_DEFAULT_MODEL to a model the provider lists." in lines
    assert "  ok    vision model: gpt-6-luna is served" in lines
    assert lines[-1] == "1 problem(s) found."


def test_a_wrong_key_is_named_by_its_variable_never_shown(emulator: Emulator, output_dir: Path) -> None:
    wrong = "sk-wrong-key-0000000000000000"
    env = server_env(emulator, output_dir) | {"OPENAI_API_KEY": wrong}
    status, output = doctor(env, "--json")

    assert status == 1
    provider = checks_of(output)["provider"]
    assert provider["status"] == "fail"
    assert provider["detail"].startswith(f"{emulator.base_url} refused the key from OPENAI_API_KEY: ")
    assert "HTTP 401, invalid_api_key" in provider["detail"]
    assert provider["fix"] == "Put a current key for openai in OPENAI_API_KEY."
    assert wrong not in output
    assert "image model" not in checks_of(output)


def test_an_unreachable_base_url(emulator: Emulator, output_dir: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"
    env = server_env(emulator, output_dir, MCP_IMAGES_BASE_URL=closed)
    status, output = doctor(env, "--json")

    assert status == 1
    provider = checks_of(output)["provider"]
    assert provider["status"] == "fail"
    assert provider["detail"].startswith(f"could not reach {closed}: Could not reach the image API at {closed}")
    assert "MCP_IMAGES_BASE_URL" in provider["fix"]


def test_an_unwritable_image_folder(emulator: Emulator, tmp_path: Path) -> None:
    # Tests run as root, which may write anywhere permissions allow; no one can make a folder inside a file.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the image folder's parent should be")
    status, output = doctor(server_env(emulator, blocker / "images"), "--json")

    assert status == 1
    folder = checks_of(output)["image folder"]
    assert folder["status"] == "fail"
    assert folder["detail"] == f"cannot write to {blocker / 'images'}: Not a directory"
    assert folder["fix"].startswith("Set MCP_IMAGES_OUTPUT_DIR to a folder you can write to")


def test_no_key_and_an_unsafe_http_set_up(output_dir: Path) -> None:
    env = {"MCP_IMAGES_OUTPUT_DIR": str(output_dir), "MCP_IMAGES_TRANSPORT": "http", "MCP_IMAGES_HOST": "0.0.0.0"}
    status, output = doctor(env, "--json")

    assert status == 1
    checks = checks_of(output)
    assert checks["api key"]["status"] == "fail"
    assert "Set MCP_IMAGES_API_KEY or OPENAI_API_KEY" in checks["api key"]["fix"]
    assert checks["provider"]["status"] == "skip"
    assert checks["transport"]["status"] == "fail"
    assert checks["transport"]["fix"] == "Set MCP_IMAGES_AUTH_TOKEN, or bind to 127.0.0.1 with --host."
    token_status, token_output = doctor(env | {"MCP_IMAGES_AUTH_TOKEN": "t0ken-value"}, "--json")
    assert checks_of(token_output)["transport"]["status"] == "ok"
    assert "t0ken-value" not in token_output
    assert token_status == 1, "still no key"


def test_doctor_checks_the_configured_store(emulator: Emulator, output_dir: Path, s3_server: S3Server) -> None:
    """--store s3: the bucket is what the server would use, so that is what doctor opens, not the local folder."""
    env = server_env(emulator, output_dir) | s3_server.env("doctor/")
    status, output = doctor(env, "--json")
    wrong = env | {"MCP_IMAGES_S3_BUCKET": "no-such-bucket"}
    refused, refusal = doctor(wrong, "--json")

    assert status == 0, output
    checks = checks_of(output)
    assert "image folder" not in checks
    assert checks["image store"]["status"] == "ok"
    assert checks["image store"]["detail"] == f"s3://{s3_server.bucket}/doctor/ answered (listed)"
    assert refused == 1
    assert checks_of(refusal)["image store"]["status"] == "fail"
    assert "no-such-bucket" in checks_of(refusal)["image store"]["detail"]
