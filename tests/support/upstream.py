"""Talking to the emulated upstream directly: raw requests as any API client sends them, and answers a test
scripts in place of the emulator's own (`emulator.enqueue(Fault(status=200, body=b64_answer(...)))`)."""

from __future__ import annotations

import base64
from typing import Any

import httpx2

from tests.fake_openai import Emulator


def post(emulator: Emulator, path: str, **request: Any) -> httpx2.Response:
    """POST to the emulated API with its key; `request` as httpx2 takes it (json, files, data)."""
    headers = {"authorization": f"Bearer {emulator.api_key}"}
    return httpx2.post(f"{emulator.base_url}{path}", headers=headers, timeout=30, **request)


def b64_answer(*images: bytes, **fields: Any) -> dict[str, Any]:
    """An Images API answer carrying these bytes as `b64_json` items, whatever they hold; `fields` add to it
    (`usage`, ...)."""
    return {"created": 1, "data": [{"b64_json": base64.b64encode(image).decode()} for image in images], **fields}
