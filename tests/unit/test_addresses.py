"""Which addresses the URL fetcher refuses, and under which name: the label decides whether
MCP_IMAGES_ALLOW_PRIVATE_URLS may let an address through (loopback and private only)."""

from __future__ import annotations

import pytest

from mcp_server_images.inputs.fetch import address_problem


@pytest.mark.parametrize(
    ("address", "label"),
    [
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("2001:4860:4860::8888", None),
        ("::ffff:8.8.8.8", None),
        ("127.0.0.1", "loopback"),
        ("127.8.9.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("::ffff:169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("100.64.0.1", "non-global"),
    ],
)
def test_address_classification(address: str, label: str | None) -> None:
    problem = address_problem(address)
    assert (None if problem is None else problem.description.split(" ", 1)[1]) == (label and f"{label} address")
    assert problem is None or problem.allowable == (label in ("loopback", "private"))


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "240.0.0.1", "255.255.255.255", "169.254.169.254", "fe80::1"])
def test_special_ranges_stay_refused_when_private_urls_are_allowed(address: str) -> None:
    problem = address_problem(address)
    assert problem is not None and not problem.allowable
