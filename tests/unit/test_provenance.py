"""Reading Content Credentials: found in each format that keeps them, verified, and refused once the bytes change."""

from __future__ import annotations

import struct
import zlib

import pytest

from mcp_server_images.imaging.provenance import carries_manifest, read_credentials
from tests.fake_openai.pictures import picture
from tests.support.credentials import ISSUER, signed


@pytest.mark.parametrize(
    ("image_format", "mime_type"), [("png", "image/png"), ("jpeg", "image/jpeg"), ("webp", "image/webp")]
)
def test_credentials_are_found_and_verified_in_every_format_providers_sign(image_format: str, mime_type: str) -> None:
    plain = picture(96, 64, output_format=image_format)

    credentials = read_credentials(signed(plain, mime_type), mime_type)

    assert (credentials.found, credentials.valid, credentials.trusted) == (True, True, False)
    assert (credentials.issuer, credentials.ai_generated) == (ISSUER, True)
    assert not carries_manifest(plain, mime_type)
    assert not read_credentials(plain, mime_type).found


def test_a_text_chunk_added_after_signing_makes_the_credentials_invalid() -> None:
    """What writing our metadata into a provider's PNG would do (the reason it goes to the sidecar instead)."""
    data = signed(picture(96, 64), "image/png")
    chunk = b"tEXt" + b"Comment\x00stored by mcp-server-images"
    header_end = 8 + 25  # signature, then the IHDR chunk
    tampered = data[:header_end] + struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk))
    tampered += data[header_end:]

    credentials = read_credentials(tampered, "image/png")

    assert (credentials.found, credentials.valid) == (True, False)
    assert "assertion.dataHash.mismatch" in credentials.problems
    assert "INVALID" in credentials.text()


def test_files_that_are_not_what_they_claim_have_no_credentials() -> None:
    for data, mime_type in [
        (b"", "image/png"),
        (b"\x89PNG\r\n\x1a\n\x00", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
    ]:
        assert not carries_manifest(data, mime_type)
    assert not carries_manifest(picture(8, 8, output_format="gif"), "image/gif")
