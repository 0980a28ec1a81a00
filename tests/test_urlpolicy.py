"""The untrusted-URL policy: schemes, metadata hosts, and which addresses are public."""

from __future__ import annotations

import pytest

from editforge.sources.urlpolicy import BlockedUrlError, UrlPolicy


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.5.5.5", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.10.10", "100.64.0.1", "0.0.0.0",
     "::1", "fe80::1", "fc00::5", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "224.0.0.1"],
)  # fmt: skip
def test_non_public_addresses_are_refused_by_default(address: str) -> None:
    with pytest.raises(BlockedUrlError, match="address"):
        UrlPolicy().check_address("example.org", address)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_pass(address: str) -> None:
    UrlPolicy().check_address("example.org", address)


def test_a_local_mirror_opens_private_addresses_but_never_metadata() -> None:
    mirror = UrlPolicy(allow_private=True)
    for address in ("127.0.0.1", "10.1.2.3", "::1", "192.168.0.2"):
        mirror.check_address("mirror", address)
    for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "::ffff:169.254.169.254"):
        with pytest.raises(BlockedUrlError, match="metadata"):
            mirror.check_address("mirror", address)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/a.jpg", "/etc/passwd", "data:image/png;base64,AA", "http://"]
)
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(BlockedUrlError, match="only http and https"):
        UrlPolicy().check_url(url)


def test_metadata_host_names_and_bad_ports_are_refused() -> None:
    with pytest.raises(BlockedUrlError, match="metadata"):
        UrlPolicy(allow_private=True).check_url("http://metadata.google.internal/computeMetadata/v1/")
    with pytest.raises(BlockedUrlError, match="bad port"):
        UrlPolicy().check_url("http://example.org:99999/a.png")
    UrlPolicy().check_url("https://ml-site.cdn-apple.com/datasets/pico-banana-300k/nb/jsonl/sft.jsonl")
