"""Content Credentials (C2PA) in stored images: whether an image carries them, who signed them, whether they hold.

OpenAI's and Google's image APIs sign what they make: a C2PA manifest in a `caBX` chunk of a PNG, an APP11
segment of a JPEG or a `C2PA` chunk of a WebP, bound to the file's bytes by a hash. Anything that rewrites the
file (a text chunk added, a re-encode) breaks or drops it, which is why the store keeps the provider's bytes as
they came and our own metadata in the sidecar, and why previews and converted copies are derived images that
carry none.

Finding a manifest takes a walk over the file's chunks. Reading and verifying it takes Adobe's c2pa-python (the
`provenance` extra); without it a manifest is reported as present but not checked.
"""

from __future__ import annotations

import io
import json
import logging
import struct
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_APP11 = 0xEB
AI_SOURCE_TYPES = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia")
"""IPTC digital source types of images a model made (wholly, or in part)."""
INSTALL_HINT = "install mcp-server-images[provenance] to check them"


@dataclass(frozen=True)
class Credentials:
    """What the Content Credentials of one image say, as stored in its sidecar (`credentials`)."""

    found: bool
    checked: bool = True
    """False when a manifest is there but c2pa-python is not installed to read it."""
    valid: bool | None = None
    """Its signature and the hash of the image's bytes verify (None when not checked)."""
    trusted: bool | None = None
    """The signer's certificate chains to the C2PA trust list (None when not checked)."""
    issuer: str | None = None
    """The organization of the signing certificate, e.g. "OpenAI"."""
    generator: str | None = None
    """The software that made the claim."""
    signed_at: str | None = None
    ai_generated: bool | None = None
    """Its actions say a model made the image (IPTC trainedAlgorithmicMedia)."""
    problems: list[str] = field(default_factory=list)
    """Failed checks, as c2pa names them (`assertion.dataHash.mismatch`: the bytes changed after signing)."""

    def public(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_sidecar(cls, data: dict[str, Any]) -> Credentials:
        return cls(**{key: value for key, value in data.items() if key in cls.__dataclass_fields__})

    def text(self) -> str:
        """One line for people: "Content Credentials: issued by OpenAI, AI-generated, signature valid (...)"."""
        if not self.checked:
            return f"Content Credentials: present, not checked ({INSTALL_HINT})."
        facts = [f"issued by {self.issuer}" if self.issuer else "issuer not named"]
        facts += [f"made with {self.generator}"] if self.generator else []
        facts += [f"signed {self.signed_at}"] if self.signed_at else []
        facts += ["AI-generated"] if self.ai_generated else []
        if not self.valid:
            verdict = "INVALID: the image changed after it was signed, or the signature does not verify"
            return f"Content Credentials: {', '.join(facts)}; {verdict} ({', '.join(self.problems)})."
        trust = "signer on the C2PA trust list" if self.trusted else "signer not on the C2PA trust list"
        return f"Content Credentials: {', '.join(facts)}; signature valid ({trust})."


NONE = Credentials(found=False)


def read_credentials(data: bytes, mime_type: str) -> Credentials:
    """The Content Credentials embedded in `data`: none, present but not checked, or read and verified."""
    if not carries_manifest(data, mime_type):
        return NONE
    try:
        import c2pa  # optional: the `provenance` extra
    except ImportError:
        return Credentials(found=True, checked=False)
    try:
        with c2pa.Reader(mime_type, io.BytesIO(data)) as reader:
            store = json.loads(reader.json())
    except Exception as exc:  # c2pa's own errors: a manifest it cannot parse
        log.info("Content Credentials could not be read: %s", exc)
        return Credentials(found=True, valid=False, trusted=False, problems=[f"unreadable: {exc}"])
    return _summary(store)


def _summary(store: dict[str, Any]) -> Credentials:
    manifest: dict[str, Any] = store.get("manifests", {}).get(store.get("active_manifest"), {})
    signature = manifest.get("signature_info") or {}
    state = store.get("validation_state")
    failures = store.get("validation_results", {}).get("activeManifest", {}).get("failure", [])
    problems = [entry["code"] for entry in failures if entry.get("code") != "signingCredential.untrusted"]
    generators = manifest.get("claim_generator_info") or []
    generator = generators[0].get("name") if generators else manifest.get("claim_generator")
    return Credentials(
        found=True,
        valid=state in ("Valid", "Trusted") and not problems,
        trusted=state == "Trusted",
        issuer=signature.get("issuer"),
        generator=generator,
        signed_at=signature.get("time"),
        ai_generated=_made_by_a_model(manifest),
        problems=problems,
    )


def _made_by_a_model(manifest: dict[str, Any]) -> bool:
    for assertion in manifest.get("assertions", []):
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                if str(action.get("digitalSourceType", "")).endswith(AI_SOURCE_TYPES):
                    return True
    return False


def carries_manifest(data: bytes, mime_type: str) -> bool:
    """Whether the file has a C2PA manifest where its format keeps one (reads chunk headers only)."""
    if mime_type == "image/png":
        return b"caBX" in _png_chunks(data)
    if mime_type == "image/jpeg":
        return any(marker == JPEG_APP11 and b"c2pa" in body for marker, body in _jpeg_segments(data))
    if mime_type == "image/webp":
        return b"C2PA" in _riff_chunks(data)
    return False


def _png_chunks(data: bytes) -> list[bytes]:
    kinds: list[bytes] = []
    offset = len(PNG_SIGNATURE) if data.startswith(PNG_SIGNATURE) else len(data)
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        kinds.append(kind)
        if kind == b"IEND":
            break
        offset += 12 + length
    return kinds


def _jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """The APPn segments before the image data: (marker, first bytes of the body)."""
    segments: list[tuple[int, bytes]] = []
    offset = 2 if data.startswith(b"\xff\xd8") else len(data)
    while offset + 4 <= len(data) and data[offset] == 0xFF:
        marker = data[offset + 1]
        if marker == 0xDA:  # start of scan: no more metadata segments
            break
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        segments.append((marker, data[offset + 4 : offset + 4 + min(length, 64)]))
        offset += 2 + length
    return segments


def _riff_chunks(data: bytes) -> list[bytes]:
    kinds: list[bytes] = []
    offset = 12 if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else len(data)
    while offset + 8 <= len(data):
        kind, length = struct.unpack("<4sI", data[offset : offset + 8])
        kinds.append(kind)
        offset += 8 + length + (length & 1)
    return kinds
