"""The flow an assistant follows in one conversation: generate, edit by id, vary by URI, edit by path, save.

The emulator is OpenAI as of November 2026, with default settings throughout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.fake_openai import Emulator
from tests.support.results import text_of

pytestmark = pytest.mark.anyio


def only_image(result: Any) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    [entry] = result.structured_content["images"]
    return dict(entry)


async def test_generate_edit_vary_edit_save(client: Client, emulator: Emulator, home: Path) -> None:
    generated = only_image(await client.call_tool("generate_image", {"prompt": "a red barn", "size": "1024x1024"}))

    edited = only_image(
        await client.call_tool(
            "edit_image",
            {
                "images": [generated["id"]],
                "prompt": "make the sky purple",
                "mask_region": [{"shape": "rect", "x": 0, "y": 0, "width": 1, "height": 0.4}],
            },
        )
    )
    [edit_request] = emulator.requests_to("/images/edits")
    assert edit_request.files["image"][0].data == Path(generated["path"]).read_bytes()

    varied_result = await client.call_tool("create_image_variation", {"image": edited["uri"]})
    varied = only_image(varied_result)
    # dall-e-2, the only model with native variations, is shut down: the variation is emulated through edits.
    assert varied_result.structured_content is not None
    assert varied_result.structured_content["method"] == "edits"
    assert emulator.requests_to("/images/edits")[1].files["image"][0].data == Path(edited["path"]).read_bytes()

    final_result = await client.call_tool(
        "edit_image", {"images": [varied["path"]], "prompt": "add snow", "save_to": "~/barn/final.png"}
    )
    final = only_image(final_result)
    assert len(emulator.requests_to("/images/edits")) == 3
    assert emulator.requests_to("/images/edits")[2].files["image"][0].data == Path(varied["path"]).read_bytes()

    saved = home / "barn" / "final.png"
    assert saved.read_bytes() == Path(final["path"]).read_bytes()
    assert len({generated["id"], edited["id"], varied["id"], final["id"]}) == 4
    listing = await client.list_resources()
    assert [str(r.uri) for r in listing.resources] == [final["uri"], varied["uri"], edited["uri"], generated["uri"]]
