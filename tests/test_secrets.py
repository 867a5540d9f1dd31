"""No secret the upstream echoes gets any further: not into results, logs, sidecars or errors, in any encoding.

A hostile or broken upstream (or a proxy in front of it) echoes the API key and the server's HTTP token back in
every place it can: error bodies (JSON-escaped, percent-encoded), the request id header, revised prompts, stream
error events and chat answers. Every provider path that takes a key (tests/support/provider_paths.py) echoes its
own key in the request id of its answers and in an error body.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from mcp.types import CallToolResult

from tests.fake_openai import Emulator, Fault
from tests.support.images import png_bytes, write_png
from tests.support.provider_paths import KEYED, PROVIDER_PATHS
from tests.support.results import entries, sidecar_of, text_of
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio

GENERATIONS = "/v1/images/generations"
TOKEN = "mcp/token+secret-5f1c"


def json_escaped(secret: str) -> str:
    """Every character as a \\u escape, as a JSON encoder is free to write it."""
    return "".join(f"\\u{ord(char):04x}" for char in secret)


def percent_encoded(secret: str) -> str:
    return "".join(f"%{byte:02X}" for byte in secret.encode())


def spellings(secret: str) -> list[str]:
    return [secret, json_escaped(secret), percent_encoded(secret), secret.replace("/", "\\/")]


def assert_nowhere(secrets: list[str], results: list[CallToolResult], output_dir: Path, logs: str) -> None:
    shown = json.dumps([result.model_dump(mode="json") for result in results])
    stored = "".join(path.read_text() for path in output_dir.rglob("*.json")) if output_dir.exists() else ""
    for secret in secrets:
        for spelling in spellings(secret):
            assert spelling not in shown
            assert spelling not in stored
            assert spelling not in logs


async def test_an_error_body_echoing_the_secrets_in_any_encoding_is_redacted(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    key = emulator.api_key
    message = (
        f"Incorrect API key {json_escaped(key)} (also {percent_encoded(key)}, {key.upper()}); "
        f"token {TOKEN.replace('/', chr(92) + '/')} or {percent_encoded(TOKEN).lower()}"
    )
    body = '{"error": {"message": "' + message + '", "type": "invalid_request_error", "param": null, "code": null}}'
    emulator.enqueue(Fault(status=401, path=GENERATIONS, body=body, headers={"content-type": "application/json"}))

    async with open_client(make_settings(auth_token=TOKEN)) as client:
        result = await client.call_tool("generate_image", {"prompt": "a calm sea"})

    assert result.is_error
    assert text_of(result).startswith("The image API refused the request (HTTP 401): Incorrect API key [redacted] (")
    assert key.upper() in text_of(result), "only the secret itself is redacted, not look-alikes"
    assert text_of(result).count("[redacted]") == 4
    assert_nowhere([key, TOKEN], [result], output_dir, debug_logs.text)


async def test_request_ids_revised_prompts_stream_errors_and_chat_answers_are_redacted(
    make_settings: SettingsFactory,
    emulator: Emulator,
    output_dir: Path,
    home: Path,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    key = emulator.api_key
    echo = f"{key} and {TOKEN}"
    image = base64.b64encode(png_bytes()).decode()
    answer = {"created": 1, "data": [{"b64_json": image, "revised_prompt": f"a calm sea, signed {echo}"}]}
    emulator.enqueue(Fault(status=200, path=GENERATIONS, body=answer, headers={"x-request-id": f"req_{key}"}))
    event = {"type": "error", "error": {"type": "server_error", "code": "boom", "message": f"failed for {echo}"}}
    stream = f"event: error\ndata: {json.dumps(event)}\n\n"
    emulator.enqueue(Fault(status=200, path=GENERATIONS, body=stream, headers={"content-type": "text/event-stream"}))
    chat = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": echo}}],
    }
    emulator.enqueue(Fault(status=200, path="/v1/chat/completions", body=chat, headers={"x-request-id": TOKEN}))
    picture = write_png(home / "sea.png")

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        return None

    emulator.set(serves_retired=True)  # dall-e-3 answers with a revised prompt
    async with open_client(make_settings(auth_token=TOKEN), mode="legacy") as client:
        made = await client.call_tool("generate_image", {"prompt": "a calm sea", "model": "dall-e-3"})
        streamed = await client.call_tool("generate_image", {"prompt": "a calm sea"}, progress_callback=progress)
        seen = await client.call_tool("analyze_image", {"images": [str(picture)]})

    assert not made.is_error, text_of(made)
    assert made.structured_content is not None
    [entry] = made.structured_content["images"]
    assert entry["revised_prompt"] == "a calm sea, signed [redacted] and [redacted]"
    sidecar = json.loads(Path(entry["path"]).with_suffix(".json").read_text())
    assert sidecar["request_id"] == "req_[redacted]"
    assert sidecar["revised_prompt"] == entry["revised_prompt"]
    assert "(request id req_[redacted])" in debug_logs.text, "the request id is logged, redacted"
    assert streamed.is_error
    assert "The image stream reported an error: failed for [redacted] and [redacted]" in text_of(streamed)
    assert not seen.is_error, text_of(seen)
    assert text_of(seen) == "[redacted] and [redacted]"
    assert_nowhere([key, TOKEN], [made, streamed, seen], output_dir, debug_logs.text)


@pytest.mark.parametrize("name", KEYED)
async def test_no_provider_key_gets_into_results_errors_logs_sidecars_or_the_ledger(
    make_settings: SettingsFactory,
    emulator: Emulator,
    output_dir: Path,
    home: Path,
    tmp_path: Path,
    debug_logs: pytest.LogCaptureFixture,
    name: str,
) -> None:
    path = PROVIDER_PATHS[name]
    key = emulator.key_for(path.provider)
    assert key is not None
    emulator.set(**path.switches)
    emulator.set(echo_keys=True)
    message = f"Incorrect API key {key} (also {json_escaped(key)}, {percent_encoded(key)})"
    error = '{"error": {"message": "' + message + '", "type": "invalid_request_error", "param": null, "code": null}}'
    async with open_client(make_settings(**path.settings(emulator, tmp_path))) as client:
        made = await client.call_tool(path.tool, path.call(home))
        emulator.enqueue(
            Fault(status=400, path=path.upstream, body=error, headers={"content-type": "application/json"})
        )
        refused = await client.call_tool(path.tool, path.call(home))

    assert not made.is_error, text_of(made)
    assert sidecar_of(entries(made)[0]["path"])["request_id"] == "req-[redacted]", "the echo arrived, redacted"
    assert refused.is_error and "Incorrect API key [redacted] (also [redacted], [redacted])" in text_of(refused)
    assert_nowhere([key], [made, refused], output_dir, debug_logs.text)
