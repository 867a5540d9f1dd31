"""Content Credentials (C2PA) the suite signs itself, as OpenAI and Google sign their images: a certificate chain
made here (a CA and an ES256 leaf of the organization "Test Images Inc"), and c2pa-python's Builder to sign.

A test CA is not on the C2PA trust list, so the credentials read back as valid but untrusted.
"""

from __future__ import annotations

import datetime
import io
import json
from functools import cache, lru_cache

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ISSUER = "Test Images Inc"
GENERATOR = "Test Images API"
AI_MADE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
VALID_FROM = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
"""Fixed, and valid for twenty years: the suite passes on any date (the clock a year ahead too)."""


def _name(common: str, organization: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common), x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)]
    )


def _usage(*, sign_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not sign_certificates,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certificates,
        crl_sign=sign_certificates,
        encipher_only=False,
        decipher_only=False,
    )


@cache
def signer_info() -> c2pa.C2paSignerInfo:
    """The signing certificate chain (leaf, then CA) and its key, as c2pa wants them."""
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name, leaf_name = _name("Test Root CA", "Test CA"), _name("Test Images Signer", ISSUER)
    until = VALID_FROM + datetime.timedelta(days=7300)
    ca = (
        x509.CertificateBuilder(subject_name=ca_name, issuer_name=ca_name, public_key=ca_key.public_key())
        .serial_number(1)
        .not_valid_before(VALID_FROM)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(sign_certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder(subject_name=leaf_name, issuer_name=ca_name, public_key=leaf_key.public_key())
        .serial_number(2)
        .not_valid_before(VALID_FROM)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    key = leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return c2pa.C2paSignerInfo(alg=b"es256", sign_cert=chain, private_key=key, ta_url=None)


@lru_cache(maxsize=32)
def signed(data: bytes, mime_type: str) -> bytes:
    """`data` with Content Credentials saying a model of "Test Images Inc" made it."""
    manifest = {
        "claim_generator_info": [{"name": GENERATOR, "version": "1.0"}],
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": AI_MADE}]}}
        ],
    }
    target = io.BytesIO()
    with c2pa.Signer.from_info(signer_info()) as signer, c2pa.Builder(json.dumps(manifest)) as builder:
        builder.sign(signer, mime_type, io.BytesIO(data), target)
    return target.getvalue()
