"""Checks request bodies against the official OpenAI OpenAPI contract (shared/contracts/openai-openapi.yaml).

The emulator is our own reading of the API; this check keeps it honest by validating every request it receives
against OpenAI's published schemas, so a request that only the emulator would accept fails the test. What the API
gained after the vendored contract is laid over it by `contract_overlay`, each addition with its source. Unknown
top-level parameters count as mismatches too, because the real API answers them with "Unknown parameter".
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from . import contract_overlay

SPEC_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "contracts" / "openai-openapi.yaml"
SPEC_URI = "urn:openai-openapi"

OPERATIONS = {
    "/v1/images/generations": "CreateImageRequest",
    "/v1/images/edits": "CreateImageEditRequest",
    "/v1/images/variations": "CreateImageVariationRequest",
    "/v1/chat/completions": "CreateChatCompletionRequest",
    "/v1/responses": "CreateResponse",
}


def _json_schema(node: Any) -> Any:
    """OpenAPI's `nullable: true` (still used in this 3.1 document) as JSON Schema's null alternative."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items()}
    if converted.pop("nullable", False) is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def require_spec() -> None:
    """Fail with one message naming the missing file and the fix, before anything needs the contract."""
    if not SPEC_PATH.is_file():
        raise FileNotFoundError(
            f"The OpenAPI contract is missing at {SPEC_PATH}; the test emulator checks every request against it. "
            "Check out the project's shared/ folder beside this repository (as ../shared) and run the tests again."
        )


@cache
def _spec() -> dict[str, Any]:
    require_spec()
    with SPEC_PATH.open("rb") as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    contract_overlay.apply(loaded)
    converted: dict[str, Any] = _json_schema(loaded)
    return converted


@cache
def _validator(schema_name: str) -> tuple[Draft202012Validator, frozenset[str]]:
    spec = _spec()
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(spec))
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
    properties = frozenset(_all_properties(spec["components"]["schemas"][schema_name], spec))
    return Draft202012Validator(schema, registry=registry), properties


def properties(schema_name: str) -> frozenset[str]:
    """The property names of one of the contract's schemas (with the overlay), e.g. `ImageGenTool`."""
    spec = _spec()
    return frozenset(_all_properties(spec["components"]["schemas"][schema_name], spec))


def _all_properties(schema: dict[str, Any], spec: dict[str, Any]) -> set[str]:
    """Property names of a schema, following allOf/anyOf and $refs (chat requests are composed with allOf)."""
    if "$ref" in schema:
        target: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _all_properties(target, spec)
    names = set(schema.get("properties", {}))
    for key in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(key, []):
            names |= _all_properties(part, spec)
    return names


PROVIDER_SCHEMAS = (
    "XaiImageRequest",
    "XaiImageEditRequest",
    "LocalImageRequest",
    "LocalImageEditRequest",
    "OpenRouterImageRequest",
)
"""The providers' own request schemas the overlay adds."""


def load() -> None:
    """Parse the contract and build every validator now (once per process), so no request pays for it."""
    for schema_name in (*OPERATIONS.values(), *PROVIDER_SCHEMAS):
        _validator(schema_name)


INTEGER_FIELDS = frozenset({"n", "output_compression", "partial_images", "seed", "num_inference_steps", "step"})
BOOLEAN_FIELDS = frozenset({"stream"})


def multipart_body(form: dict[str, list[str]], files: dict[str, list[bytes]]) -> dict[str, Any]:
    """A multipart request as the JSON object its schema describes: typed fields, files as binary strings."""
    body: dict[str, Any] = {}
    for name, values in form.items():
        value: Any = values[-1]
        if name in INTEGER_FIELDS:
            value = int(value) if value.lstrip("-").isdigit() else value
        elif name in BOOLEAN_FIELDS:
            value = {"true": True, "false": False}.get(value, value)
        body[name] = value
    for name, parts in files.items():
        placeholders = ["<binary>" for _ in parts]
        if name.endswith("[]"):
            body[name.removesuffix("[]")] = placeholders
        else:
            body[name] = placeholders[0] if len(placeholders) == 1 else placeholders
    return body


def violations(path: str, body: dict[str, Any], schema_name: str | None = None) -> list[str]:
    """Readable mismatches between a request body and the contract for its path (or the schema named, for the
    providers' own paths)."""
    schema_name = schema_name or OPERATIONS.get(path)
    if schema_name is None:
        return [f"{path}: not an operation of the contract"]
    validator, properties = _validator(schema_name)
    found = [
        f"{path}: {'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
        for error in validator.iter_errors(copy.deepcopy(body))
    ]
    found += [f"{path}: unknown parameter {name!r}" for name in body if name not in properties]
    return found


def answer_violations(schema_name: str, body: Any) -> list[str]:
    """Mismatches between one of the emulator's own answers and the contract's schema for it."""
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(_spec()))
    validator = Draft202012Validator({"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}, registry=registry)
    return [
        f"{schema_name}: {'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
        for error in validator.iter_errors(body)
    ]
