"""Every way a paid image request reaches a provider the emulator plays (fake_openai/providers.py): the table the
promise tests run over, so that a provider path added to the server is added here once and is then checked for
every promise it touches (the ledger entry before the send, every good image kept, the model named is the model
sent, no key in anything the server says or writes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tests.fake_openai import Emulator, RecordedRequest, Switches
from tests.fake_openai.providers import PLAYED
from tests.support.images import write_png


@dataclass(frozen=True)
class ProviderPath:
    """One paid request to one provider: the call that sends it, where it arrives, and the model as the provider's
    wire names it."""

    provider: str
    tool: str
    model: str
    """The model as the user names it."""
    upstream: str
    """The path the paid request arrives at (without a query)."""
    wire_model: str
    """The model as the request names it: in the body, the image tool's `model` (Responses) or the Azure
    deployment in the path."""
    base_path: str = ""
    """What follows the provider's base URL in the settings (Azure's `/openai/v1`)."""
    arguments: dict[str, Any] = field(default_factory=dict)
    switches: Switches = field(default_factory=Switches)
    models_file: str | None = None
    """A models file the server is started with (an Azure deployment named otherwise than its model)."""
    one_per_request: bool = False
    """The provider makes one image per request (Ollama): two images are two requests of one image each."""

    def settings(self, emulator: Emulator, folder: Path) -> dict[str, Any]:
        """The settings fields that point a server at this provider, with the key it expects; a models file is
        written into `folder`."""
        values: dict[str, Any] = {
            "provider": self.provider,
            "base_url": emulator.base_url_for(self.provider) + self.base_path,
            "api_key": emulator.key_for(self.provider),
        }
        if self.models_file is not None:
            models = folder / "models.toml"
            models.write_text(self.models_file, encoding="utf-8")
            values["models_file"] = models
        return values

    def call(self, home: Path, **more: Any) -> dict[str, Any]:
        """The tool's arguments: a prompt, the model, an image to edit where the tool takes one, and `more`."""
        arguments = {"prompt": "a fox in the snow", "model": self.model, **self.arguments, **more}
        if self.tool == "edit_image":
            arguments["images"] = [str(write_png(home / "cat.png", (256, 256)))]
        return arguments

    def two_images(self) -> dict[str, Any]:
        """The arguments that make a call get two images: `n` on an Images API (two requests where the provider
        makes one image per request); a chat or Responses answer carries as many as the emulator's item_faults."""
        return {} if self.upstream.endswith(("/chat/completions", "/responses")) else {"n": 2}

    def sent_model(self, request: RecordedRequest) -> str | None:
        """The image model a request to this path named."""
        if "/openai/deployments/" in request.path:
            return unquote(request.path.split("/openai/deployments/", 1)[1].split("/", 1)[0])
        if request.json is not None and request.path.endswith("/responses"):
            tools = [tool for tool in request.json.get("tools", []) if tool.get("type") == "image_generation"]
            return str(tools[0].get("model")) if tools else None
        if request.json is not None:
            return str(request.json.get("model"))
        return request.form.get("model", [None])[-1]


PROD_DEPLOYMENT = '[models."gpt-image-1.5"]\ndeployment = "images-prod"\n'
PROVIDER_PATHS = {
    "azure-generate": ProviderPath(
        "azure",
        "generate_image",
        "gpt-image-1.5",
        "/azure/openai/deployments/images-prod/images/generations",
        "images-prod",
        switches=Switches(azure_deployments={"images-prod": "gpt-image-1.5"}),
        models_file=PROD_DEPLOYMENT,
    ),
    "azure-edit": ProviderPath(
        "azure", "edit_image", "gpt-image-1.5", "/azure/openai/deployments/gpt-image-1.5/images/edits", "gpt-image-1.5"
    ),
    "azure-v1-generate": ProviderPath(
        "azure",
        "generate_image",
        "gpt-image-1.5",
        "/azure/openai/v1/images/generations",
        "gpt-image-1.5",
        base_path="/openai/v1",
    ),
    "azure-responses": ProviderPath(
        "azure",
        "generate_image",
        "gpt-image-1.5",
        "/azure/openai/responses",
        "gpt-image-1.5",
        arguments={"api": "responses"},
    ),
    "gemini-generate": ProviderPath(
        "gemini",
        "generate_image",
        "gemini-nano-banana-2.1",
        "/gemini/v1beta/openai/chat/completions",
        "gemini-nano-banana-2.1",
    ),
    "gemini-edit": ProviderPath(
        "gemini",
        "edit_image",
        "gemini-nano-banana-2.1",
        "/gemini/v1beta/openai/chat/completions",
        "gemini-nano-banana-2.1",
    ),
    "xai-generate": ProviderPath(
        "xai", "generate_image", "grok-imagine-image-2.0", "/xai/v1/images/generations", "grok-imagine-image-2.0"
    ),
    "xai-edit": ProviderPath(
        "xai", "edit_image", "grok-imagine-image-2.0", "/xai/v1/images/edits", "grok-imagine-image-2.0"
    ),
    "openrouter-images-generate": ProviderPath(
        "openrouter", "generate_image", "gpt-image-2.6-flare", "/openrouter/api/v1/images", "openai/gpt-image-2.6-flare"
    ),
    "openrouter-images-edit": ProviderPath(
        "openrouter",
        "edit_image",
        "openai/gpt-image-2.6-flare",
        "/openrouter/api/v1/images",
        "openai/gpt-image-2.6-flare",
    ),
    "openrouter-chat-generate": ProviderPath(
        "openrouter",
        "generate_image",
        "gemini-nano-banana-2.1",
        "/openrouter/api/v1/chat/completions",
        "google/gemini-nano-banana-2.1",
    ),
    "ollama-generate": ProviderPath(
        "ollama",
        "generate_image",
        "x/z-image-turbo",
        "/ollama/v1/images/generations",
        "x/z-image-turbo",
        one_per_request=True,
    ),
    "vllm-omni-generate": ProviderPath(
        "vllm-omni", "generate_image", "Qwen/Qwen-Image", "/vllm-omni/v1/images/generations", "Qwen/Qwen-Image"
    ),
    "vllm-omni-edit": ProviderPath(
        "vllm-omni", "edit_image", "Qwen/Qwen-Image", "/vllm-omni/v1/images/edits", "Qwen/Qwen-Image"
    ),
    "localai-generate": ProviderPath(
        "localai", "generate_image", "stablediffusion", "/localai/v1/images/generations", "stablediffusion"
    ),
}
"""Every provider path that sends a paid image request, by name: each provider's Images API (Azure's
deployment-scoped and v1 paths, xAI's, OpenRouter's `/images`, the local servers'), Chat Completions image output
(Gemini, OpenRouter) and the Responses API (Azure), generations and, where the provider edits, edits. Variations
on these providers are made through their edits, so they take the edit rows' paths. OpenRouter's rows name models
with and without their vendor prefix, so that the prefix the wire needs is checked too."""

KEYED = [name for name, path in PROVIDER_PATHS.items() if PLAYED[path.provider].key is not None]
"""The paths whose provider takes a key (local servers take none)."""
