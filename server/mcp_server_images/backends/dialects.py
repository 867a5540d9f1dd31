"""How each provider kind speaks the OpenAI-shaped APIs: where its key goes, where a request goes, and what its
image endpoints do differently. The request bodies are OpenAI's (the backends build them); a dialect adjusts them.

- Azure OpenAI / Foundry: the key in an `api-key` header (an Entra ID token as `Authorization: Bearer`, with
  key_header = "authorization"); deployment-scoped paths `/openai/deployments/{deployment}/images/generations
  ?api-version=...` (edits and chat likewise), or, when the base URL ends in `/openai/v1`, the newer v1 paths with
  the deployment as `model` (world-2026-12.md: docs.openclaw.ai providers/openai/azure and microsoft-foundry,
  learn.microsoft.com Foundry docs).
- xAI: `aspect_ratio` and `resolution` instead of `size`; answers with temporary URLs unless asked for
  `b64_json`, which is asked; edits take up to 3 references and no mask (docs.x.ai image generation).
- Google Gemini: the OpenAI-compatible endpoint with a Bearer key; it ignores `output_format`, so the type of an
  answer is read from its bytes (the store probes every image) (Gemini API changelog).
- OpenRouter: its Image API, `POST /images` with JSON for generations and edits alike (references as
  `input_references`, no mask), answering `b64_json` with the call's `cost` in its usage (openrouter.ai docs;
  the request and answer fields as the typed SDK realmorrisliu/openrouter-rs src/api/images.rs reads them).
- Local servers: no key; Ollama makes one image per request and has no edits; LocalAI calls the step count
  `step` where vLLM-Omni calls it `num_inference_steps` (docs.vllm.ai vllm-omni; localai.io).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..catalog.sizes import aspect_request
from ..catalog.spec import ModelSpec
from ..errors import ConfigurationError
from ..providers import Endpoint, KeyHeader, ProviderKind

AZURE_V1 = "/openai/v1"
"""A base URL ending here takes Azure's v1 paths, which need no api-version."""
DEPLOYMENT_SCOPED = ("/images/generations", "/images/edits", "/images/variations", "/chat/completions")
XAI_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "2:1", "1:2", "20:9", "9:19.5", "auto")
XAI_RESOLUTIONS = ("1k", "2k")
"""What xAI takes instead of a size (docs.x.ai image generation, world-2026-12.md), for a model the catalog does not
describe; a catalogued model's own lists come first."""


@dataclass(frozen=True)
class Dialect:
    """The wire quirks of one provider kind."""

    kind: ProviderKind
    key_header: KeyHeader = "authorization"
    aspect_sizes: bool = False
    """Sizes go as `aspect_ratio` and `resolution` (xAI)."""
    asks_b64: bool = False
    """Every Images API request asks for `response_format: b64_json` (the default answer is a temporary URL)."""
    takes_masks: bool = True
    image_route: str | None = None
    """One JSON endpoint for generations and edits (OpenRouter's `/images`); None: OpenAI's paths."""
    streams: bool = True
    """Whether its Images API streams partial images the way OpenAI's does."""
    per_request: int | None = None
    """Most images one Images API request makes (Ollama: 1); None: what the model takes."""
    reports_cost: bool = False
    """Its answers' usage carries the call's `cost` in USD (OpenRouter)."""
    variations: bool = False
    """Whether its Images API has `/images/variations` (dall-e-2's: OpenAI's, and gateways that still route it)."""
    renamed: Mapping[str, str] = field(default_factory=dict)
    """Image options it names differently on the wire, by the option table's wire name."""

    def headers(self, key: str | None, header: KeyHeader | None = None) -> dict[str, str]:
        """The auth header for a key; none without one (local servers)."""
        if key is None:
            return {}
        if (header or self.key_header) == "api-key":
            return {"api-key": key}
        return {"authorization": f"Bearer {key}"}

    def adapt(self, body: dict[str, Any], spec: ModelSpec | None) -> list[str]:
        """Change an Images API body (generations or edits, as JSON or multipart text) into this provider's form;
        the notes say what the user should know about it."""
        notes: list[str] = []
        for name, wire in self.renamed.items():
            if name in body:
                body[wire] = body.pop(name)
        if self.asks_b64:
            body["response_format"] = "b64_json"
        size = body.get("size")
        if self.aspect_sizes and isinstance(size, str):
            del body["size"]
            ratios = spec.aspect_ratios if spec is not None and spec.aspect_ratios else XAI_RATIOS
            resolutions = spec.resolutions if spec is not None and spec.resolutions else XAI_RESOLUTIONS
            ratio, resolution = aspect_request(size, ratios, resolutions)
            body["aspect_ratio"] = ratio
            if resolution is not None:
                body["resolution"] = resolution
                notes.append(f"size {size} was sent as aspect ratio {ratio} at resolution {resolution}.")
        return notes


DIALECTS: Mapping[ProviderKind, Dialect] = {
    ProviderKind.OPENAI: Dialect(ProviderKind.OPENAI, variations=True),
    ProviderKind.DEDALUS: Dialect(ProviderKind.DEDALUS, variations=True),
    ProviderKind.CUSTOM: Dialect(ProviderKind.CUSTOM, variations=True),
    ProviderKind.AZURE: Dialect(ProviderKind.AZURE, key_header="api-key"),
    ProviderKind.XAI: Dialect(ProviderKind.XAI, aspect_sizes=True, asks_b64=True, takes_masks=False, streams=False),
    ProviderKind.OPENROUTER: Dialect(
        ProviderKind.OPENROUTER, takes_masks=False, image_route="/images", streams=False, reports_cost=True
    ),
    ProviderKind.OLLAMA: Dialect(ProviderKind.OLLAMA, takes_masks=False, streams=False, per_request=1),
    ProviderKind.VLLM_OMNI: Dialect(ProviderKind.VLLM_OMNI, takes_masks=False, streams=False),
    ProviderKind.LOCALAI: Dialect(
        ProviderKind.LOCALAI, takes_masks=False, streams=False, renamed={"num_inference_steps": "step"}
    ),
}


def dialect_of(kind: ProviderKind) -> Dialect:
    """The kind's dialect; OpenAI's own where nothing differs (Gemini's chat)."""
    return DIALECTS.get(kind, Dialect(kind))


def url_of(endpoint: Endpoint, path: str, model: str | None) -> str:
    """Where a request for `path` (`/images/generations`, `/chat/completions`, `/models`, ...) goes."""
    base = endpoint.base_url
    if endpoint.provider is not ProviderKind.AZURE or base.endswith(AZURE_V1):
        image_route = dialect_of(endpoint.provider).image_route
        if image_route is not None and path in ("/images/generations", "/images/edits"):
            return f"{base}{image_route}"
        return f"{base}{path}"
    version = f"api-version={quote(endpoint.api_version or '', safe='')}"
    if path in DEPLOYMENT_SCOPED:
        if not model:
            raise ConfigurationError(f"A request to {path} on Azure needs a deployment name as its model.")
        return f"{base}/openai/deployments/{quote(model, safe='')}{path}?{version}"
    return f"{base}/openai{path}?{version}"
