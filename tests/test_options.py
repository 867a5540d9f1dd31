"""Image options from the option table, as a client meets them: checked against the model's catalog entry (also a
user's models file), sent on the wire, kept in the sidecar and shown by list_models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.conftest import SettingsFactory, connect, text_of
from tests.fake_openai import Emulator
from tests.images import write_png

pytestmark = pytest.mark.anyio


def listed(structured: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    assert structured is not None
    return {model["name"]: model for model in structured["models"]}


async def test_input_fidelity_takes_the_values_the_models_file_gives(
    make_settings: SettingsFactory, emulator: Emulator, tmp_path: Path, home: Path
) -> None:
    models_file = tmp_path / "models.toml"
    models_file.write_text('[models."gpt-image-2"]\ninput_fidelities = ["high"]\n', encoding="utf-8")
    source = write_png(home / "face.png", (1024, 1024))
    async with connect(make_settings(models_file=models_file)) as client:
        refused = await client.call_tool(
            "edit_image",
            {"images": [str(source)], "prompt": "smile", "model": "gpt-image-2", "input_fidelity": "low"},
        )
        taken = await client.call_tool(
            "edit_image",
            {"images": [str(source)], "prompt": "smile", "model": "gpt-image-2", "input_fidelity": "high"},
        )

    assert refused.is_error
    assert text_of(refused).startswith("input_fidelity 'low' is not valid for gpt-image-2. Use one of: high.")
    assert not taken.is_error, text_of(taken)
    [request] = emulator.requests_to("/images/edits")
    assert request.form["input_fidelity"] == ["high"]


async def test_list_models_names_the_options_each_model_takes(client: Client) -> None:
    result = await client.call_tool("list_models", {})

    models = listed(result.structured_content)
    assert {"size", "quality", "output_format", "complexity", "input_fidelity"} <= set(
        models["gpt-image-2.6-flare"]["options"]
    )
    assert "complexity" not in models["gpt-image-2"]["options"] and "input_fidelity" in models["gpt-image-2"]["options"]
    assert models["gpt-6-luna"]["options"] == []
