"""Every provider a user pays for or runs locally, each as a one-provider server, through the MCP client against the
emulator playing that provider's documented wire shape (tests/fake_openai/providers.py): every tool it applies to,
and each provider's own quirks (Azure's deployments and dates, xAI's aspect ratios and URLs, Gemini's formats,
OpenRouter's Image API and stated costs, local servers' keyless requests and extras)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.fake_openai import Emulator, Fault
from tests.support.clock import FrozenClock
from tests.support.images import png_bytes, write_png
from tests.support.providers import provider_settings, session_log
from tests.support.results import entries, sidecar_of, text_of
from tests.support.servers import open_client

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Session:
    """What one provider is asked in a session: a generation, then (where it has them) an edit, a variation made
    through edits, and a question about the image."""

    generate: dict[str, Any]
    edit: dict[str, Any] | None
    vision: str | None
    """The vision model to ask (None: the provider serves none)."""
    settings: dict[str, Any] = field(default_factory=dict)


SESSIONS = {
    "azure": Session({"model": "gpt-image-1.5", "size": "1536x1024"}, {"model": "gpt-image-1.5"}, "gpt-6-luna"),
    "gemini": Session({"size": "1536x1024"}, {}, "gemini-3-flash"),
    "xai": Session({"size": "1024x1024", "quality": "low"}, {}, "grok-4"),
    "openrouter": Session({"model": "openai/gpt-image-2.6-flare"}, {"model": "microsoft/mai-image-2.7"}, None),
    "ollama": Session({"n": 2}, None, "llava", {"default_model": "x/z-image-turbo"}),
    "vllm-omni": Session({"seed": 7, "steps": 20}, {"seed": 7}, None),
    "localai": Session(
        {"size": "512x512", "steps": 12, "negative_prompt": "blur"}, None, "llava", {"default_model": "stablediffusion"}
    ),
}
"""A session per provider kind, its settings as its README recipe gives them. OpenRouter's vision is shown in the
several-providers tests; vLLM-Omni serves one image model and no vision."""


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, f"{tool}: {text_of(result)}"
    return result


@pytest.mark.parametrize("kind", list(SESSIONS))
async def test_every_tool_on_every_provider_kind(
    kind: str, emulator: Emulator, output_dir: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = SESSIONS[kind]
    settings = provider_settings(emulator, output_dir, kind, **session.settings)
    async with open_client(settings) as client:
        listed = (await call(client, "list_models", {})).structured_content
        made = await call(client, "generate_image", {"prompt": "a red kite over the sea"} | session.generate)
        image = entries(made)[0]["id"]
        if session.edit is not None:
            edited = await call(client, "edit_image", {"images": [image], "prompt": "add a boat"} | session.edit)
            varied = await call(client, "create_image_variation", {"image": image})
        else:
            refused = await client.call_tool("edit_image", {"images": [image], "prompt": "add a boat"})
        if session.vision is not None:
            seen = await call(client, "analyze_image", {"images": [image], "model": session.vision})
        usage = (await call(client, "usage_report", {})).structured_content
        stored = (await call(client, "list_images", {})).structured_content

    assert listed is not None and all(model["provider"] == kind for model in listed["models"])
    assert len(entries(made)) == made.structured_content["images"].__len__() >= 1
    assert Path(entries(made)[0]["path"]).read_bytes() in emulator.sent_images
    if session.edit is not None:
        assert entries(edited) and entries(varied)
        assert varied.structured_content["method"] == "edits"
    else:
        assert refused.is_error and "makes no image edits" in text_of(refused)
    if session.vision is not None:
        assert "image 1:" in text_of(seen)
    assert usage is not None and kind in usage["by_provider"]
    assert stored is not None and stored["total"] >= 1
    requests = emulator.requests
    keys = {request.headers.get("authorization") or request.headers.get("api-key") for request in requests}
    expected = emulator.key_for(kind)
    assert keys == ({f"Bearer {expected}"} if kind != "azure" else {expected}) if expected else {None}
    with capsys.disabled():
        print(f"\nThe emulator's log of a session with the {kind} provider:\n{session_log(emulator.requests)}")


# --- Azure OpenAI ---------------------------------------------------------------------------------------------------


async def test_azure_speaks_deployments_with_an_api_version_and_an_api_key_header(
    emulator: Emulator, output_dir: Path
) -> None:
    async with open_client(
        provider_settings(emulator, output_dir, "azure", api_version="2025-04-01-preview")
    ) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox", "model": "gpt-image-1.5"})

    assert not result.is_error, text_of(result)
    [request] = emulator.requests_to("/images/generations")
    assert request.path == "/azure/openai/deployments/gpt-image-1.5/images/generations"
    assert request.query == "api-version=2025-04-01-preview"
    assert request.headers["api-key"] == emulator.key_for("azure") and "authorization" not in request.headers
    assert emulator.requests_to("/models") == [], "Azure's list names base models, not deployments: never asked"


async def test_azure_v1_paths_and_an_entra_id_token(emulator: Emulator, output_dir: Path) -> None:
    """A base URL ending in /openai/v1 takes the v1 paths (no api-version); key_header = authorization sends an
    Entra ID token as Bearer."""
    settings = provider_settings(
        emulator,
        output_dir,
        "azure",
        base_url=f"{emulator.base_url_for('azure')}/openai/v1",
        key_header="authorization",
    )
    async with open_client(settings) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox", "model": "gpt-image-2.6-flare"})

    assert not result.is_error, text_of(result)
    [request] = emulator.requests_to("/images/generations")
    assert (request.path, request.query) == ("/azure/openai/v1/images/generations", "")
    assert request.headers["authorization"] == f"Bearer {emulator.key_for('azure')}"
    assert request.json is not None and request.json["model"] == "gpt-image-2.6-flare"


async def test_a_models_file_maps_a_catalog_model_to_an_azure_deployment(
    emulator: Emulator, output_dir: Path, tmp_path: Path
) -> None:
    emulator.set(azure_deployments={"images-prod": "gpt-image-1.5"})
    models_file = tmp_path / "models.toml"
    models_file.write_text('[models."gpt-image-1.5"]\ndeployment = "images-prod"\n', encoding="utf-8")
    async with open_client(provider_settings(emulator, output_dir, "azure", models_file=models_file)) as client:
        mapped = await client.call_tool("generate_image", {"prompt": "a fox", "model": "gpt-image-1.5"})
        unknown = await client.call_tool("generate_image", {"prompt": "a fox", "model": "images-staging"})

    assert not mapped.is_error, text_of(mapped)
    assert mapped.structured_content is not None and mapped.structured_content["model"] == "images-prod"
    assert emulator.requests_to("/images/generations")[0].path.endswith("/deployments/images-prod/images/generations")
    assert unknown.is_error and "DeploymentNotFound" in text_of(unknown)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (datetime(2026, 12, 5, tzinfo=UTC), "Warning: gpt-image-1.5 shuts down on 2026-12-16"),
        (datetime(2026, 12, 20, tzinfo=UTC), "gpt-image-1.5 was shut down by Microsoft (Azure OpenAI) on 2026-12-16"),
    ],
)
async def test_azure_keeps_its_own_dates(emulator: Emulator, output_dir: Path, today: datetime, expected: str) -> None:
    """gpt-image-1.5 shuts down on OpenAI on 2026-12-01 and on Azure on 2026-12-16: on Azure a call on 2026-12-05
    is made (with a warning), one after 2026-12-16 is refused before anything is sent."""
    settings = provider_settings(emulator, output_dir, "azure")
    async with open_client(settings, FrozenClock(today)) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox", "model": "gpt-image-1.5"})

    assert expected in text_of(result)
    assert bool(result.is_error) is (today.day == 20)
    assert len(emulator.requests_to("/images/generations")) == (0 if today.day == 20 else 1)


# --- xAI --------------------------------------------------------------------------------------------------------------


async def test_xai_gets_aspect_ratio_and_resolution_and_is_asked_for_base64(
    emulator: Emulator, output_dir: Path
) -> None:
    async with open_client(provider_settings(emulator, output_dir, "xai")) as client:
        wide = await client.call_tool("generate_image", {"prompt": "a fox", "size": "1536x1024"})
        tall = await client.call_tool("generate_image", {"prompt": "a fox", "size": "1080x1920", "n": 2})
        odd = await client.call_tool("generate_image", {"prompt": "a fox", "size": "1000x700"})
        huge = await client.call_tool("generate_image", {"prompt": "a fox", "size": "4096x4096"})

    assert not wide.is_error and not tall.is_error, text_of(wide) + text_of(tall)
    assert "size 1536x1024 was sent as aspect ratio 3:2 at resolution 2k." in text_of(wide)
    assert (entries(wide)[0]["width"], entries(wide)[0]["height"]) == (2048, 1365)
    assert [(image["width"], image["height"]) for image in entries(tall)] == [(1152, 2048), (1152, 2048)]
    bodies = [request.json for request in emulator.requests_to("/images/generations")]
    assert [
        body and {key: body.get(key) for key in ("aspect_ratio", "resolution", "response_format", "size")}
        for body in bodies
    ] == [
        {"aspect_ratio": "3:2", "resolution": "2k", "response_format": "b64_json", "size": None},
        {"aspect_ratio": "9:16", "resolution": "2k", "response_format": "b64_json", "size": None},
    ]
    assert odd.is_error and text_of(odd).startswith(
        "size '1000x700' is not valid for grok-imagine-image-2.0: its aspect ratio is none of those the model takes "
        "(1:1, 16:9, 9:16, 4:3, 3:4, 3:2, 2:3, 2:1, 1:2, 20:9, 9:19.5, auto)"
    )
    assert huge.is_error and "above 2048 px, the model's largest resolution (2k)" in text_of(huge)


async def test_xai_edits_take_up_to_three_references_and_no_mask(
    emulator: Emulator, output_dir: Path, home: Path
) -> None:
    sources = [str(write_png(home / f"ref{index}.png", (640, 480), (40 * index, 90, 160))) for index in range(4)]
    async with open_client(provider_settings(emulator, output_dir, "xai")) as client:
        three = await client.call_tool("edit_image", {"images": sources[:3], "prompt": "a collage"})
        four = await client.call_tool("edit_image", {"images": sources, "prompt": "a collage"})
        masked = await client.call_tool(
            "edit_image",
            {"images": sources[:1], "prompt": "sky", "mask_region": {"x": 0, "y": 0, "width": 1, "height": 0.5}},
        )

    assert not three.is_error, text_of(three)
    [request] = emulator.requests_to("/images/edits")
    assert len(request.files["image[]"]) == 3 and "mask" not in request.files
    assert request.form["response_format"] == ["b64_json"] and "size" not in request.form
    assert four.is_error and text_of(four) == "grok-imagine-image-2.0 edits take 1 to 3 images; got 4."
    assert masked.is_error and "which takes no mask" in text_of(masked)
    assert emulator.requests_to("/images/generations") == [], "references are never sent to generations"


async def test_an_xai_url_answer_is_downloaded_at_once(emulator: Emulator, output_dir: Path) -> None:
    """xAI answers with temporary URLs unless asked; should one come anyway, it is fetched before the answer ends."""
    picture = png_bytes((96, 64))
    url = emulator.serve_file("temporary.png", picture, "image/png")
    emulator.enqueue(Fault(status=200, path="/xai/v1/images/generations", body={"data": [{"url": url}]}))
    async with open_client(provider_settings(emulator, output_dir, "xai")) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox"})

    assert not result.is_error, text_of(result)
    assert Path(entries(result)[0]["path"]).read_bytes() == picture


# --- Google Gemini ----------------------------------------------------------------------------------------------------


async def test_gemini_answers_through_chat_and_its_type_comes_from_the_bytes(
    emulator: Emulator, output_dir: Path
) -> None:
    async with open_client(provider_settings(emulator, output_dir, "gemini")) as client:
        made = await client.call_tool("generate_image", {"prompt": "a fox", "size": "4096x1024"})
        formatted = await client.call_tool("generate_image", {"prompt": "a fox", "output_format": "webp"})

    assert not made.is_error, text_of(made)
    [request] = emulator.requests_to("/chat/completions")
    assert request.path == "/gemini/v1beta/openai/chat/completions"
    assert request.json is not None and request.json["model"] == "gemini-nano-banana-2.1"
    assert request.json["image_config"] == {"aspect_ratio": "4:1", "image_size": "4K"}
    assert entries(made)[0]["mime_type"] == "image/jpeg" and entries(made)[0]["path"].endswith(".jpg")
    assert formatted.is_error and text_of(formatted).startswith(
        "output_format is not supported by gemini-nano-banana-2.1; leave it out. No model in the catalog takes it."
    )


# --- OpenRouter -------------------------------------------------------------------------------------------------------


async def test_openrouter_image_api_edits_with_references_and_states_its_cost(
    emulator: Emulator, output_dir: Path, home: Path
) -> None:
    source = write_png(home / "room.png", (1024, 768))
    async with open_client(provider_settings(emulator, output_dir, "openrouter")) as client:
        result = await client.call_tool(
            "edit_image", {"images": [str(source)], "prompt": "paint it blue", "model": "microsoft/mai-image-2.7"}
        )
        small = await client.call_tool(
            "generate_image", {"prompt": "x", "model": "microsoft/mai-image-2.7", "size": "512x512"}
        )

    assert not result.is_error, text_of(result)
    [request] = [request for request in emulator.requests if request.path == "/openrouter/api/v1/images"]
    assert request.json is not None and [ref["type"] for ref in request.json["input_references"]] == ["image_url"]
    assert (
        base64.b64decode(request.json["input_references"][0]["image_url"]["url"].split(",")[1]) == source.read_bytes()
    )
    assert result.structured_content is not None and result.structured_content["cost"]["amount"] == 0.04
    assert "Cost: $0.040 (from usage)" in text_of(result)
    assert sidecar_of(entries(result)[0]["path"])["cost"]["basis"] == "the cost the provider reported for 1 request(s)"
    assert small.is_error and "both sides must be at least 768 px" in text_of(small)


async def test_openrouter_lists_what_its_other_image_models_take_and_that_is_checked(
    emulator: Emulator, output_dir: Path
) -> None:
    """A model the catalog does not describe is checked against OpenRouter's own listing (GET /images/models)."""
    async with open_client(provider_settings(emulator, output_dir, "openrouter")) as client:
        listed = await client.call_tool("list_models", {})
        refused = await client.call_tool(
            "generate_image", {"prompt": "a fox", "model": "bytedance-seed/seedream-4.5", "quality": "high"}
        )
        seeded = await client.call_tool(
            "generate_image", {"prompt": "a fox", "model": "bytedance-seed/seedream-4.5", "seed": 11}
        )

    assert "bytedance-seed/seedream-4.5 (seed, size)" in text_of(listed)
    assert refused.is_error and text_of(refused) == (
        "quality is not taken by bytedance-seed/seedream-4.5: the provider openrouter lists what it takes (seed, "
        "size); leave it out."
    )
    assert not seeded.is_error, text_of(seeded)
    [request] = [request for request in emulator.requests if request.path == "/openrouter/api/v1/images"]
    assert request.json is not None and request.json["seed"] == 11
    assert [request.path for request in emulator.requests if request.method == "GET"] == [
        "/openrouter/api/v1/models",
        "/openrouter/api/v1/images/models",
    ]


# --- local servers --------------------------------------------------------------------------------------------------


async def test_ollama_needs_no_key_and_makes_one_image_per_request(emulator: Emulator, output_dir: Path) -> None:
    async with open_client(provider_settings(emulator, output_dir, "ollama")) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox", "model": "x/z-image-turbo", "n": 3})
        unnamed = await client.call_tool("generate_image", {"prompt": "a fox"})

    assert not result.is_error, text_of(result)
    requests = emulator.requests_to("/images/generations")
    assert [request.json and request.json["n"] for request in requests[:3]] == [1, 1, 1]
    assert all("authorization" not in request.headers for request in emulator.requests)
    assert unnamed.is_error and text_of(unnamed) == (
        "No model was named, and the default gpt-image-2.6-flare is not served by ollama, which serves "
        "x/z-image-turbo, llava. Name one as model, or set MCP_IMAGES_DEFAULT_MODEL (with several providers, generate "
        "in the [defaults] of the providers file)."
    )


async def test_vllm_omni_uses_its_one_model_and_takes_seed_and_steps(emulator: Emulator, output_dir: Path) -> None:
    async with open_client(provider_settings(emulator, output_dir, "vllm-omni")) as client:
        first = await client.call_tool("generate_image", {"prompt": "a fox", "seed": 5, "steps": 30})
        again = await client.call_tool("generate_image", {"prompt": "a fox", "seed": 5, "steps": 30})

    assert not first.is_error, text_of(first)
    assert "using Qwen/Qwen-Image, the only model this server serves" in text_of(first)
    assert Path(entries(first)[0]["path"]).read_bytes() == Path(entries(again)[0]["path"]).read_bytes()
    request = emulator.requests_to("/images/generations")[0]
    assert request.json is not None and (request.json["seed"], request.json["num_inference_steps"]) == (5, 30)


async def test_local_extras_are_refused_where_the_provider_takes_none(
    make_settings: Any, emulator: Emulator, output_dir: Path
) -> None:
    async with (
        open_client(make_settings()) as openai,
        open_client(provider_settings(emulator, output_dir, "vllm-omni")) as vllm,
    ):
        steps = await openai.call_tool("generate_image", {"prompt": "a fox", "steps": 20})
        negative = await vllm.call_tool("generate_image", {"prompt": "a fox", "negative_prompt": "blur"})

    assert steps.is_error and text_of(steps) == (
        "steps is not taken by the openai provider's API; leave it out. It works on localai, vllm-omni servers (and "
        "gateways given by URL) with a model that takes it."
    )
    assert negative.is_error and text_of(negative).startswith(
        "negative_prompt is not taken by the vllm-omni provider's API; leave it out. It works on localai servers"
    )
    assert [request for request in emulator.requests if not request.path.endswith("/models")] == []


async def test_localai_answers_urls_on_its_own_host_and_names_steps_its_way(
    emulator: Emulator, output_dir: Path
) -> None:
    """LocalAI answers with URLs on localhost: its own origin is trusted for them without allowing private URLs in
    general; the step count goes as LocalAI's `step`."""
    settings = provider_settings(emulator, output_dir, "localai", allow_private_urls=False)
    async with open_client(settings) as client:
        result = await client.call_tool(
            "generate_image",
            {"prompt": "a fox", "model": "stablediffusion", "size": "512x512", "steps": 25, "negative_prompt": "blur"},
        )

    assert not result.is_error, text_of(result)
    [request] = emulator.requests_to("/images/generations")
    assert request.json is not None and request.json["step"] == 25 and "num_inference_steps" not in request.json
    assert request.json["negative_prompt"] == "blur"
    assert [r.path.startswith("/files/") for r in emulator.requests].count(True) == 1
    assert Path(entries(result)[0]["path"]).read_bytes() == emulator.sent_images[0]


async def test_a_base_url_without_a_key_sends_none(emulator: Emulator, output_dir: Path) -> None:
    settings = provider_settings(emulator, output_dir, "vllm-omni", provider=emulator.base_url_for("vllm-omni"))
    async with open_client(settings) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox", "model": "Qwen/Qwen-Image"})

    assert not result.is_error, text_of(result)
    assert all("authorization" not in request.headers for request in emulator.requests)
