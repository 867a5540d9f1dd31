"""The emulator as OpenAI in November 2026: retired models, the model list, and what the new models take."""

from __future__ import annotations

import base64
import io
import xml.etree.ElementTree as ET
from typing import Any

import httpx2
import pytest
from PIL import Image

from tests.fake_openai import Emulator
from tests.fake_openai.contract import answer_violations, violations
from tests.support.upstream import post

GENERATIONS = "/images/generations"


def models(emulator: Emulator, key: str | None = None) -> httpx2.Response:
    headers = {"authorization": f"Bearer {key or emulator.api_key}"}
    return httpx2.get(f"{emulator.base_url}/models", headers=headers, timeout=30)


def generate(emulator: Emulator, **body: Any) -> httpx2.Response:
    return post(emulator, GENERATIONS, json={"prompt": "a fox", **body})


@pytest.mark.parametrize("model", ["dall-e-2", "dall-e-3", "gpt-image-1", "openai/dall-e-3"])
def test_shut_down_models_answer_like_the_real_api(emulator: Emulator, model: str) -> None:
    answer = generate(emulator, model=model)

    assert answer.status_code == 404
    bare = model.removeprefix("openai/")
    assert answer.json() == {
        "error": {
            "message": f"The model `{bare}` has been deprecated",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }


def test_a_gateway_still_serves_the_retired_models(emulator: Emulator) -> None:
    emulator.set(serves_retired=True)
    assert generate(emulator, model="dall-e-3", response_format="b64_json").status_code == 200
    variation = post(
        emulator,
        "/images/variations",
        data={"model": "dall-e-2", "response_format": "b64_json"},
        files=[("image", ("a.png", _png(64, 64), "image/png"))],
    )
    assert variation.status_code == 200


def test_the_model_list_has_shutdown_dates_in_the_contracts_shape(emulator: Emulator) -> None:
    answer = models(emulator)

    assert answer.status_code == 200
    body = answer.json()
    assert answer_violations("ListModelsResponse", body) == []
    assert answer_violations("ListModelsResponse", {"object": "list", "data": [{"id": 1}]}) != []
    dates = {model["id"]: model["shutdown_date"] for model in body["data"]}
    assert dates["gpt-image-1.5"] == dates["gpt-image-1-mini"] == dates["chatgpt-image-latest"] == "2026-12-01"
    assert dates["gpt-4o-mini"] == "2027-01-14" and dates["gpt-6-luna"] is None
    assert dates["gpt-image-2.6-flare"] is None
    assert not {"dall-e-2", "dall-e-3", "gpt-image-1"} & set(dates)

    emulator.set(serves_retired=True)
    retired = {model["id"]: model["shutdown_date"] for model in models(emulator).json()["data"]}
    assert retired["dall-e-3"] == "2026-05-12" and retired["gpt-image-1"] == "2026-10-23"


def test_the_model_list_can_be_set_or_broken(emulator: Emulator) -> None:
    emulator.set(served_models=["openai/gpt-image-2", {"id": "openai/dall-e-3", "object": "model", "created": 1}])
    assert [m["id"] for m in models(emulator).json()["data"]] == ["openai/gpt-image-2", "openai/dall-e-3"]
    assert generate(emulator, model="openai/dall-e-3", response_format="b64_json").status_code == 200
    missing = generate(emulator, model="openai/gpt-image-2.6-flare")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == (
        "The model `gpt-image-2.6-flare` does not exist or you do not have access to it."
    )

    assert models(emulator, key="sk-wrong").status_code == 401
    emulator.set(models_answer="404")
    assert models(emulator).status_code == 404
    emulator.set(models_answer="401")
    assert models(emulator).json()["error"]["code"] == "invalid_api_key"
    emulator.set(models_answer="html")
    html = models(emulator)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")


def test_gpt_image_2_6_answers_real_svg_and_animated_gif(emulator: Emulator) -> None:
    vector = generate(emulator, model="gpt-image-2.6-flare", output_format="svg", size="1536x1024", complexity="low")
    animated = generate(emulator, model="gpt-image-2.6-sunburst", output_format="gif", quality="max")

    assert vector.status_code == animated.status_code == 200
    root = ET.fromstring(base64.b64decode(vector.json()["data"][0]["b64_json"]))
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and (root.get("width"), root.get("height")) == ("1536", "1024")
    assert vector.json()["output_format"] == "svg"
    with Image.open(io.BytesIO(base64.b64decode(animated.json()["data"][0]["b64_json"]))) as image:
        assert (image.format, getattr(image, "n_frames", 1)) == ("GIF", 4)
    assert emulator.contract_violations == [], "the overlay covers the new parameters"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": "gpt-image-2", "background": "transparent"}, "background", "invalid_value"),
        ({"model": "gpt-image-2", "quality": "xhigh"}, "quality", "invalid_value"),
        ({"model": "gpt-image-2.5-flare", "complexity": "low"}, "complexity", "unknown_parameter"),
        ({"model": "gpt-image-2.5-flare", "output_format": "gif"}, "output_format", "invalid_value"),
        ({"model": "gpt-image-2.6-flare", "complexity": "extreme"}, "complexity", "invalid_value"),
        ({"model": "gpt-image-2.6-flare", "size": "512x512"}, "size", "invalid_value"),
        ({"model": "gpt-image-2.6-flare", "seed": 7}, "seed", "unknown_parameter"),
    ],
)
def test_new_parameters_are_checked_per_model(emulator: Emulator, body: dict[str, Any], param: str, code: str) -> None:
    answer = generate(emulator, **body)

    assert answer.status_code == 400
    assert (answer.json()["error"]["param"], answer.json()["error"]["code"]) == (param, code)
    emulator.reset()  # some of these break the contract on purpose


def test_svg_and_gif_are_for_generations_only(emulator: Emulator) -> None:
    answer = post(
        emulator,
        "/images/edits",
        data={"prompt": "x", "model": "gpt-image-2.6-flare", "output_format": "svg"},
        files=[("image", ("a.png", _png(64, 64), "image/png"))],
    )
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "output_format"
    assert violations("/v1/images/edits", {"prompt": "x", "image": "<binary>", "output_format": "svg"}) != []
    emulator.reset()


def test_a_local_servers_model_takes_a_seed_and_repeats_its_image(emulator: Emulator) -> None:
    assert generate(emulator, model="local-diffusion").status_code == 404, "not one of OpenAI's models"
    emulator.set(served_models=["local-diffusion"])

    images = [
        generate(emulator, model="local-diffusion", seed=seed).json()["data"][0]["b64_json"] for seed in (1, 1, 2)
    ]

    assert images[0] == images[1] != images[2]
    assert violations("/v1/images/generations", {"prompt": "x", "seed": -1}) != []


def test_the_overlay_adds_only_what_came_later() -> None:
    later = {"prompt": "x", "model": "gpt-image-2.6-flare", "quality": "max", "complexity": "high"}
    assert violations("/v1/images/generations", later | {"output_format": "gif"}) == []
    assert violations("/v1/images/edits", later | {"image": "<binary>"}) == []
    assert violations("/v1/images/generations", {"prompt": "x", "quality": "ultra"}) != []
    assert violations("/v1/images/generations", {"prompt": "x", "complexity": "extreme"}) != []


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(buffer, format="PNG")
    return buffer.getvalue()
