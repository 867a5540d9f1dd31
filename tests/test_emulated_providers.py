"""The emulator's own reading of the providers it plays (fake_openai/providers.py), checked directly: the server's
provider tests are only as good as these answers."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.fake_openai import Emulator, contract


def post(emulator: Emulator, provider: str, path: str, headers: dict[str, str], **request: Any) -> httpx2.Response:
    return httpx2.post(f"{emulator.base_url_for(provider)}{path}", headers=headers, timeout=30, **request)


def bearer(emulator: Emulator, provider: str) -> dict[str, str]:
    return {"authorization": f"Bearer {emulator.key_for(provider)}"}


def test_a_local_server_takes_no_key_and_refuses_one(emulator: Emulator) -> None:
    body = {"model": "Qwen/Qwen-Image", "prompt": "a fox"}
    keyless = post(emulator, "vllm-omni", "/images/generations", {}, json=body)
    keyed = post(emulator, "vllm-omni", "/images/generations", {"authorization": "Bearer sk-anything"}, json=body)

    assert keyless.status_code == 200 and keyless.json()["data"][0]["b64_json"]
    assert keyed.status_code == 401


def test_azure_wants_its_api_version_and_its_api_key_header(emulator: Emulator) -> None:
    path = "/openai/deployments/gpt-image-1.5/images/generations"
    body = {"prompt": "a fox"}
    key = {"api-key": emulator.key_for("azure") or ""}
    versioned = post(emulator, "azure", f"{path}?api-version=2025-04-01-preview", key, json=body)
    unversioned = post(emulator, "azure", path, key, json=body)
    wrong = post(emulator, "azure", f"{path}?api-version=2025-04-01-preview", {"api-key": "nope"}, json=body)
    emulator.reset()  # the unversioned request is, rightly, recorded as a violation

    assert versioned.status_code == 200
    assert unversioned.status_code == 404 and unversioned.json()["error"]["message"] == "Resource not found"
    assert wrong.status_code == 401


def test_xai_takes_aspect_ratio_and_refuses_size(emulator: Emulator) -> None:
    body = {"model": "grok-imagine-image-2.0", "prompt": "a fox"}
    wide = post(emulator, "xai", "/images/generations", bearer(emulator, "xai"), json=body | {"aspect_ratio": "16:9"})
    sized = post(emulator, "xai", "/images/generations", bearer(emulator, "xai"), json=body | {"size": "1024x1024"})

    assert wide.status_code == 200 and wide.json()["data"][0]["url"].startswith(f"{emulator.origin}/files/")
    assert sized.status_code == 400 and sized.json()["error"]["message"] == "Argument not supported: size"


@pytest.mark.parametrize(
    ("path", "schema", "body"),
    [
        ("/v1/images/generations", None, {"prompt": "x", "aspect_ratio": "16:9"}),
        ("/v1/images/generations", None, {"prompt": "x", "num_inference_steps": 20}),
        ("/xai/v1/images/generations", "XaiImageRequest", {"prompt": "x", "negative_prompt": "blur"}),
        ("/openrouter/api/v1/images", "OpenRouterImageRequest", {"model": "m", "prompt": "x", "mask": "m"}),
    ],
)
def test_a_providers_field_sent_elsewhere_breaks_the_contract(
    path: str, schema: str | None, body: dict[str, Any]
) -> None:
    assert contract.violations(path, body, schema) != []


@pytest.mark.parametrize(
    ("schema", "body"),
    [
        (
            "XaiImageRequest",
            {"prompt": "x", "aspect_ratio": "9:19.5", "resolution": "2k", "response_format": "b64_json"},
        ),
        ("LocalImageRequest", {"prompt": "x", "seed": 1, "num_inference_steps": 20, "negative_prompt": "blur"}),
        (
            "OpenRouterImageRequest",
            {"model": "m", "prompt": "x", "input_references": [{"type": "image_url", "image_url": {"url": "data:"}}]},
        ),
    ],
)
def test_each_providers_own_fields_pass_its_own_contract(schema: str, body: dict[str, Any]) -> None:
    assert contract.violations("/any", body, schema) == []
