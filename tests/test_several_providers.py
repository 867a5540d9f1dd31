"""Several providers in one server (a providers file): a call's model goes to the provider that serves it, or the
one it names (model@provider); a cloud and a local provider side by side; list_models, defaults, costs, budgets and
doctor per provider. The local providers run on a second emulator, on an origin of their own."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mcp_server_images.providers_file import read_providers
from mcp_server_images.settings import Settings
from tests.fake_openai import Emulator, Fault
from tests.support.providers import session_log
from tests.support.results import entries, text_of
from tests.support.servers import open_client, run_command

pytestmark = pytest.mark.anyio


def providers_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "providers.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def side_by_side(
    emulator: Emulator, second_emulator: Emulator, tmp_path: Path, output_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """OpenAI and xAI on the first emulator, vLLM-Omni and LocalAI (keyless, local) on the second."""
    monkeypatch.setenv("TEAM_OPENAI_KEY", emulator.api_key)
    monkeypatch.setenv("XAI_API_KEY", emulator.key_for("xai") or "")
    path = providers_file(
        tmp_path,
        f"""
[defaults]
generate = "gpt-image-2.6-flare"
vision = "grok-4@xai"

[providers.openai]
base_url = "{emulator.base_url}"
key_env = "TEAM_OPENAI_KEY"
daily_budget = 1.0

[providers.xai]
base_url = "{emulator.base_url_for("xai")}"

[providers.local]
kind = "vllm-omni"
base_url = "{second_emulator.base_url_for("vllm-omni")}"

[providers.sd]
kind = "localai"
base_url = "{second_emulator.base_url_for("localai")}"
""",
    )
    return Settings(providers_file=path, output_dir=output_dir)


async def test_generate_on_openai_edit_on_a_local_server_analyze_on_xai(
    side_by_side: Settings, emulator: Emulator, second_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    async with open_client(side_by_side) as client:
        made = await client.call_tool("generate_image", {"prompt": "a lighthouse at dusk"})
        image = entries(made)[0]["id"]
        edited = await client.call_tool(
            "edit_image", {"images": [image], "prompt": "add a boat", "model": "Qwen/Qwen-Image", "seed": 3}
        )
        seen = await client.call_tool("analyze_image", {"images": [entries(edited)[0]["id"]]})
        usage = (await client.call_tool("usage_report", {})).structured_content

    assert not made.is_error and not edited.is_error and not seen.is_error, text_of(made) + text_of(edited)
    assert made.structured_content is not None and made.structured_content["model"] == "gpt-image-2.6-flare"
    assert "Sent to the provider openai." in text_of(made)
    assert "Sent to the provider local (vllm-omni)." in text_of(edited)
    [generation] = emulator.requests_to("/v1/images/generations")
    [edit] = second_emulator.requests_to("/vllm-omni/v1/images/edits")
    [question] = emulator.requests_to("/xai/v1/chat/completions")
    assert generation.headers["authorization"] == f"Bearer {emulator.api_key}"
    assert "authorization" not in edit.headers and edit.form["seed"] == ["3"]
    assert edit.files["image"][0].data == Path(entries(made)[0]["path"]).read_bytes()
    assert question.json is not None and question.json["model"] == "grok-4"
    assert "image 1:" in text_of(seen)
    assert usage is not None and set(usage["by_provider"]) == {"openai", "local"}
    with capsys.disabled():
        print("\nThe emulators' log of one server with OpenAI, xAI and a local vLLM-Omni side by side:")
        print("(cloud emulator)\n" + session_log([r for r in emulator.requests if not r.path.endswith("/models")]))
        print(
            "(local emulator)\n" + session_log([r for r in second_emulator.requests if not r.path.endswith("/models")])
        )


async def test_each_provider_trusts_only_its_own_origin_for_urls_it_answers(
    side_by_side: Settings, emulator: Emulator, second_emulator: Emulator
) -> None:
    """LocalAI on the second emulator answers with URLs on its own loopback origin: fetched. The same kind of URL in
    OpenAI's answer (another provider's origin, on loopback) is refused: each provider's origin is its own."""
    elsewhere = second_emulator.serve_file("elsewhere.png", b"\x89PNG not fetched", "image/png")
    emulator.enqueue(Fault(status=200, path="/v1/images/generations", body={"data": [{"url": elsewhere}]}))
    async with open_client(side_by_side) as client:
        local = await client.call_tool(
            "generate_image", {"prompt": "a fox", "model": "stablediffusion@sd", "size": "512x512"}
        )
        foreign = await client.call_tool("generate_image", {"prompt": "a fox", "model": "gpt-image-2@openai"})

    assert not local.is_error, text_of(local)
    assert Path(entries(local)[0]["path"]).read_bytes() == second_emulator.sent_images[0]
    assert foreign.is_error and "Refusing to fetch an image from 127.0.0.1" in text_of(foreign)
    assert second_emulator.requests_to("/files/elsewhere.png") == []


async def test_a_model_two_providers_serve_must_be_named_with_its_provider(
    emulator: Emulator, tmp_path: Path, output_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", emulator.api_key)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", emulator.key_for("azure") or "")
    emulator.set(served_models=["gpt-image-2.6-flare", "gpt-6-luna"])
    path = providers_file(
        tmp_path,
        f"""
[providers.openai]
base_url = "{emulator.base_url}"

[providers.azure]
base_url = "{emulator.base_url_for("azure")}"
models = ["gpt-image-1.5", "gpt-image-2.6-flare"]
""",
    )
    async with open_client(Settings(providers_file=path, output_dir=output_dir)) as client:
        ambiguous = await client.call_tool("generate_image", {"prompt": "a fox", "model": "gpt-image-2.6-flare"})
        named = await client.call_tool("generate_image", {"prompt": "a fox", "model": "gpt-image-2.6-flare@azure"})
        only_azure = await client.call_tool("generate_image", {"prompt": "a fox", "model": "gpt-image-1.5"})
        nowhere = await client.call_tool("generate_image", {"prompt": "a fox", "model": "acme/painter"})

    assert ambiguous.is_error and text_of(ambiguous) == (
        "gpt-image-2.6-flare is served by more than one provider of this server (openai, azure); say which: "
        "gpt-image-2.6-flare@openai or gpt-image-2.6-flare@azure."
    )
    assert not named.is_error and not only_azure.is_error, text_of(named) + text_of(only_azure)
    paths = [request.path for request in emulator.requests_to("/images/generations")]
    assert paths == [
        "/azure/openai/deployments/gpt-image-2.6-flare/images/generations",
        "/azure/openai/deployments/gpt-image-1.5/images/generations",
    ]
    assert nowhere.is_error and text_of(nowhere) == (
        "No provider of this server serves acme/painter (openai: gpt-image-2.6-flare; azure: gpt-image-1.5, "
        "gpt-image-2.6-flare). Name a model one of them serves (list_models shows them), or give the provider as "
        "model@NAME."
    )


async def test_list_models_shows_each_model_with_its_provider_and_the_defaults_across_them(
    side_by_side: Settings,
) -> None:
    async with open_client(side_by_side) as client:
        result = await client.call_tool("list_models", {})

    assert result.structured_content is not None
    listed = {(model["name"], model["provider"]): model for model in result.structured_content["models"]}
    assert listed[("gpt-image-2.6-flare", "openai")]["default"] is True
    assert listed[("grok-imagine-image-2.0", "xai")]["default"] is False
    assert ("gpt-image-2.6-flare", "xai") not in listed
    lines = text_of(result).splitlines()
    assert lines[0].endswith(" models, from each provider's model list:")
    assert any(line.startswith("- gpt-image-2.6-flare@openai (default) [image; active]") for line in lines)
    assert "local (vllm-omni) serves Qwen/Qwen-Image: models the catalog does not describe" in text_of(result)


async def test_a_providers_budget_refuses_before_anything_is_sent_and_the_others_go_on(
    side_by_side: Settings, emulator: Emulator, second_emulator: Emulator
) -> None:
    async with open_client(side_by_side) as client:
        costly = await client.call_tool(
            "generate_image", {"prompt": "a fox", "model": "gpt-image-2.6-flare", "quality": "high", "n": 5}
        )
        local = await client.call_tool("generate_image", {"prompt": "a fox", "model": "Qwen/Qwen-Image"})
        report = await client.call_tool("usage_report", {})

    assert costly.is_error and "of the daily budget of provider openai of $1.000 is spent" in text_of(costly)
    assert "raise its budget in the providers file" in text_of(costly)
    assert emulator.requests_to("/images/generations") == []
    assert not local.is_error, text_of(local)
    assert report.structured_content is not None
    assert report.structured_content["provider_budgets"]["openai"]["today"]["cap"] == 1.0
    assert "Provider openai today: $0.000 of $1.000 ($1.000 left)." in text_of(report)


async def test_a_broken_providers_file_stops_the_start_naming_what_to_fix(tmp_path: Path, output_dir: Path) -> None:
    path = providers_file(tmp_path, '[providers.Local]\nkind = "vllm-omni"\n')
    with pytest.raises(Exception, match=r"\[providers.Local\] in .*: a provider's name is lower-case letters"):
        async with open_client(Settings(providers_file=path, output_dir=output_dir)):
            pass


@pytest.mark.subprocess
def test_doctor_checks_each_provider(
    emulator: Emulator, second_emulator: Emulator, tmp_path: Path, output_dir: Path
) -> None:
    path = providers_file(
        tmp_path,
        f"""
[defaults]
edit = "Qwen/Qwen-Image@local"

[providers.openai]
base_url = "{emulator.base_url}"
key_env = "TEAM_OPENAI_KEY"

[providers.xai]
base_url = "{emulator.base_url_for("xai")}"
key_env = "TEAM_XAI_KEY"

[providers.local]
kind = "vllm-omni"
base_url = "{second_emulator.base_url_for("vllm-omni")}"
""",
    )
    env = {
        "MCP_IMAGES_PROVIDERS_FILE": str(path),
        "MCP_IMAGES_OUTPUT_DIR": str(output_dir),
        "TEAM_OPENAI_KEY": emulator.api_key,
    }
    result = run_command("doctor", "--json", env=env, timeout=120)
    checks: dict[str, Any] = {check["name"]: check for check in json.loads(result.stdout)["checks"]}

    assert result.returncode == 1, result.stdout
    assert checks["api key (openai)"]["detail"] == f"provider openai at {emulator.base_url}, key from TEAM_OPENAI_KEY"
    assert checks["provider (openai)"]["status"] == "ok"
    assert checks["api key (xai)"]["status"] == "fail" and "Set TEAM_XAI_KEY" in checks["api key (xai)"]["fix"]
    assert checks["provider (xai)"]["status"] == "skip"
    assert checks["api key (local)"]["detail"].endswith(", no key (none needed)")
    assert (
        checks["provider (local)"]["detail"]
        == f"{second_emulator.base_url_for('vllm-omni')} answered with 1 models and accepted the key"
    )
    assert checks["generate model"]["detail"] == "gpt-image-2.6-flare is served by openai"
    assert checks["edit model"]["detail"] == "Qwen/Qwen-Image is served"
    assert str(emulator.key_for("xai")) not in result.stdout and emulator.api_key not in result.stdout


def test_the_readme_example_of_a_providers_file_reads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    [example] = [block for block in re.findall(r"```toml\n(.*?)```", readme, re.S) if "[providers.openai]" in block]
    configured = read_providers(providers_file(tmp_path, example), Settings())

    assert [(endpoint.name, endpoint.provider.value) for endpoint in configured.endpoints] == [
        ("openai", "openai"),
        ("azure", "azure"),
        ("local", "vllm-omni"),
    ]
    assert configured.endpoints[1].key_header == "authorization" and configured.endpoints[1].models == ("images-prod",)
    assert configured.defaults["edit"] == "Qwen/Qwen-Image@local"
