"""Servers pointed at the providers the emulator plays (fake_openai/providers.py), and the emulator's log of a
session as a person reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp_server_images.settings import Settings
from tests.fake_openai import Emulator, RecordedRequest

SHOWN_FIELDS = (
    "model",
    "n",
    "size",
    "aspect_ratio",
    "resolution",
    "quality",
    "response_format",
    "seed",
    "num_inference_steps",
    "step",
    "negative_prompt",
    "modalities",
    "image_config",
)
"""The request fields a session log shows (prompts and images are left out)."""


def provider_settings(emulator: Emulator, output_dir: Path, kind: str, **overrides: Any) -> Settings:
    """Settings of a one-provider server for a provider the emulator plays, with the key it expects (none for a
    local server)."""
    key = emulator.key_for(kind)
    values: dict[str, Any] = {"provider": kind, "base_url": emulator.base_url_for(kind), "output_dir": output_dir}
    if key is not None:
        values["api_key"] = key
    return Settings(**(values | overrides))


def session_log(requests: list[RecordedRequest]) -> str:
    """One line per request, as the emulator received it: method, path and query, how it was authorised (never the
    key), the fields that matter and the images it carried."""
    return "\n".join(f"{number}. {_line(request)}" for number, request in enumerate(requests, start=1))


def _line(request: RecordedRequest) -> str:
    where = f"{request.path}?{request.query}" if request.query else request.path
    if "api-key" in request.headers:
        auth = "api-key header"
    elif "authorization" in request.headers:
        auth = "Bearer"
    else:
        auth = "no key"
    body = request.json if request.json is not None else {name: values[-1] for name, values in request.form.items()}
    fields = ", ".join(f"{name}={body[name]}" for name in SHOWN_FIELDS if name in body)
    images = sum(len(parts) for name, parts in request.files.items() if name.startswith("image"))
    images += len(body.get("input_references") or []) if isinstance(body, dict) else 0
    carried = f", {images} image(s)" if images else ""
    return f"{request.method} {where} [{auth}]" + (f" {fields}" if fields else "") + carried
