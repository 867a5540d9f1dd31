"""Ed25519 signatures of catalog documents: who may change the catalog of every server that follows a feed.

A feed document is signed over its exact bytes; the signature is published beside it (the document's URL plus
`.sig`) as the base64 of its 64 bytes. A public key is written as the base64 of its raw 32 bytes, the form
`MCP_IMAGES_CATALOG_KEYS` takes. A private key file (for `mcp-server-images catalog sign`) is either PEM (PKCS #8,
as `openssl genpkey -algorithm ed25519` writes it) or exactly the 32 raw bytes of the key.

The project's own public keys ship in `SHIPPED_KEYS`. None ships yet: the project has no signing key, so its
default feed stays off until a release carries one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SHIPPED_KEYS: tuple[str, ...] = ()
"""The project's public keys (base64 of 32 raw bytes) that sign its published catalog; empty until it has one."""
KEY_BYTES = 32
SIGNATURE_BYTES = 64


class SigningKeyError(ConfigurationError):
    """A key or key file that cannot be used; the message says which and what form is expected."""


def public_key(text: str) -> Ed25519PublicKey:
    """A public key from the base64 of its 32 raw bytes."""
    raw = _base64(text.strip(), f"The catalog key {text.strip()!r}")
    if len(raw) != KEY_BYTES:
        raise SigningKeyError(
            f"The catalog key {text.strip()!r} is {len(raw)} bytes; a public key is the base64 of 32 raw bytes "
            "(what `mcp-server-images catalog sign` prints)."
        )
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # only where a key is configured

    return Ed25519PublicKey.from_public_bytes(raw)


def trusted_keys(extra: str, shipped: Iterable[str] = SHIPPED_KEYS) -> list[Ed25519PublicKey]:
    """The shipped keys and those of a comma-separated list (MCP_IMAGES_CATALOG_KEYS)."""
    return [public_key(text) for text in (*shipped, *extra.split(",")) if text.strip()]


def verify(document: bytes, signature: bytes, keys: Sequence[Ed25519PublicKey]) -> bool:
    """Whether one of the keys signed the document's exact bytes; `signature` is the `.sig` file as published."""
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(raw) != SIGNATURE_BYTES:
        return False
    from cryptography.exceptions import InvalidSignature

    for key in keys:
        try:
            key.verify(raw, document)
        except InvalidSignature:
            continue
        return True
    return False


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """A private key from a file: PEM (PKCS #8) or exactly 32 raw bytes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"Cannot read the private key file {path}: {exc.strerror or exc}.") from exc
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if len(data) == KEY_BYTES:
        return Ed25519PrivateKey.from_private_bytes(data)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(
            f"{path} is neither a PEM private key without a password nor 32 raw bytes ({exc}). Make one with: "
            "openssl genpkey -algorithm ed25519 -out catalog-key.pem"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} holds a {type(key).__name__}, not an Ed25519 key.")
    return key


def sign(document: bytes, key: Ed25519PrivateKey) -> bytes:
    """The `.sig` file's content for a document: the base64 of the signature, and a line end."""
    return base64.b64encode(key.sign(document)) + b"\n"


def public_text(key: Ed25519PrivateKey) -> str:
    """The public half of a private key as MCP_IMAGES_CATALOG_KEYS takes it."""
    from cryptography.hazmat.primitives import serialization

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SigningKeyError(f"{what} is not base64 ({exc}).") from exc
