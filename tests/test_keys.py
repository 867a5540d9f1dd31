"""Keys from where teams keep them: a variable, a file, or a command that prints a token; renewed when the provider
answers 401, and never shown anywhere: not in results, not in logs, however it came."""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

import pytest

from tests.fake_openai import Emulator, Fault
from tests.support.providers import provider_settings
from tests.support.results import text_of
from tests.support.servers import open_client

pytestmark = pytest.mark.anyio

OLD_KEY = "xai-old-token-4f1e9a2c7b3d"
NEW_KEY = "xai-new-token-8d2c6b1a5e9f"


def key_script(tmp_path: Path) -> tuple[str, Path, Path]:
    """A command that prints the key in `key.txt` and counts its runs in `runs.txt`: a stand-in for `az account
    get-access-token` or a vault client, whose token the test rotates by rewriting the file."""
    key, runs = tmp_path / "key.txt", tmp_path / "runs.txt"
    script = tmp_path / "print_key.py"
    script.write_text(
        "import pathlib, sys\n"
        f"runs = pathlib.Path({str(runs)!r})\n"
        "runs.write_text(str(int(runs.read_text() or 0) + 1) if runs.exists() else '1')\n"
        f"print(pathlib.Path({str(key)!r}).read_text().strip())\n",
        encoding="utf-8",
    )
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}", key, runs


def keys_sent(emulator: Emulator) -> list[str]:
    return [request.headers.get("authorization", "") for request in emulator.requests_to("/images/generations")]


async def test_a_key_command_is_run_once_and_again_when_the_provider_refuses_its_token(
    emulator: Emulator, output_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    command, key, runs = key_script(tmp_path)
    key.write_text(OLD_KEY)
    emulator.set(provider_keys={"xai": OLD_KEY})
    settings = provider_settings(emulator, output_dir, "xai", api_key=None, api_key_command=command)
    async with open_client(settings) as client:
        first = await client.call_tool("generate_image", {"prompt": "a fox"})
        second = await client.call_tool("generate_image", {"prompt": "a fox"})
        key.write_text(NEW_KEY)  # the token rotates: the provider now takes only the new one
        emulator.set(provider_keys={"xai": NEW_KEY})
        rotated = await client.call_tool("generate_image", {"prompt": "a fox"})

    assert not first.is_error and not second.is_error and not rotated.is_error, text_of(rotated)
    assert keys_sent(emulator) == [f"Bearer {OLD_KEY}", f"Bearer {OLD_KEY}", f"Bearer {OLD_KEY}", f"Bearer {NEW_KEY}"]
    assert runs.read_text() == "2", "run at the first request, and again after the 401"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert OLD_KEY not in logged and NEW_KEY not in logged
    assert "the provider refused the key from MCP_IMAGES_API_KEY_COMMAND; getting it again" in logged


async def test_a_key_a_command_printed_is_redacted_from_what_the_provider_says(
    emulator: Emulator, output_dir: Path, tmp_path: Path
) -> None:
    command, key, _ = key_script(tmp_path)
    key.write_text(NEW_KEY)
    emulator.set(provider_keys={"xai": NEW_KEY})
    emulator.enqueue(
        Fault(
            status=400,
            path="/xai/v1/images/generations",
            body={"error": {"message": f"Your token {NEW_KEY} may not ask for this.", "code": "invalid_argument"}},
        )
    )
    settings = provider_settings(emulator, output_dir, "xai", api_key=None, api_key_command=command)
    async with open_client(settings) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox"})

    assert result.is_error and "Your token [redacted] may not ask for this." in text_of(result)
    assert NEW_KEY not in text_of(result)


async def test_a_key_file_is_read_again_when_the_provider_refuses_its_key(
    emulator: Emulator, output_dir: Path, tmp_path: Path
) -> None:
    key = tmp_path / "xai.key"
    key.write_text(f"{OLD_KEY}\n")
    emulator.set(provider_keys={"xai": OLD_KEY})
    settings = provider_settings(emulator, output_dir, "xai", api_key=None, api_key_file=key)
    async with open_client(settings) as client:
        before = await client.call_tool("generate_image", {"prompt": "a fox"})
        key.write_text(f"{NEW_KEY}\n")
        emulator.set(provider_keys={"xai": NEW_KEY})
        after = await client.call_tool("generate_image", {"prompt": "a fox"})

    assert not before.is_error and not after.is_error, text_of(after)
    assert keys_sent(emulator) == [f"Bearer {OLD_KEY}", f"Bearer {OLD_KEY}", f"Bearer {NEW_KEY}"]


async def test_a_refused_key_that_renewing_does_not_change_is_reported_once(
    emulator: Emulator, output_dir: Path, tmp_path: Path
) -> None:
    command, key, runs = key_script(tmp_path)
    key.write_text(OLD_KEY)
    settings = provider_settings(emulator, output_dir, "xai", api_key=None, api_key_command=command)
    async with open_client(settings) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox"})

    assert result.is_error and "HTTP 401" in text_of(result)
    assert "Check that the API key in MCP_IMAGES_API_KEY_COMMAND is valid" in text_of(result)
    # Run for the model list, which is refused, and again after it; then again after the generation's 401. Each time
    # the same key comes back, so it is not sent again.
    assert runs.read_text() == "3" and len(keys_sent(emulator)) == 1
    assert OLD_KEY not in text_of(result)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (
            "import sys; sys.stderr.write('ERROR: Please run az login to setup account.'); sys.exit(1)",
            "The key command (MCP_IMAGES_API_KEY_COMMAND) failed with exit status 1: ERROR: Please run az login to "
            "setup account. Run it in a terminal to see why (a sign-in may have expired).",
        ),
        ("print('')", "The key command (MCP_IMAGES_API_KEY_COMMAND) printed nothing; it must print the key alone"),
        (
            "import time; time.sleep(120)",
            "The key command (MCP_IMAGES_API_KEY_COMMAND) did not finish within 0.5 s; check that it runs without "
            "asking for input (sign in first), or raise its timeout.",
        ),
    ],
)
async def test_a_key_command_that_fails_says_what_to_do(
    emulator: Emulator, output_dir: Path, tmp_path: Path, script: str, expected: str
) -> None:
    path = tmp_path / "key.py"
    path.write_text(script, encoding="utf-8")
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(path))}"
    settings = provider_settings(
        emulator, output_dir, "xai", api_key=None, api_key_command=command, key_command_timeout=0.5
    )
    async with open_client(settings) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox"})

    assert result.is_error and text_of(result).startswith(expected)
    assert emulator.requests_to("/images/generations") == []
