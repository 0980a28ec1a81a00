"""Which URLs an untrusted list may make editforge fetch, and from which addresses.

A URL list (or a release manifest) is someone else's file: a row pointing at `http://169.254.169.254/`
or at a service on the building's private network would turn a dataset build into a request forgery.
So only http(s) is fetched, and every address a host name resolves to must be a public one — checked
at connect time for every connection, redirects included, and the connection goes to the very address
that was checked (a second DNS answer cannot swap it). `allow_private` opens private and loopback
addresses for a local mirror; the cloud metadata endpoints stay closed even then: no mirror lives there.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

ALLOWED_SCHEMES = ("http", "https")
# Instance-metadata services (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba, Oracle): credentials live there.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "instance-data"})


class BlockedUrlError(OSError):
    """A URL or address the policy refuses; permanent: asking again gives the same answer."""


class UrlPolicy(BaseModel):
    """How untrusted URLs are fetched: what is allowed, how long and how big a download may be."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow_private: bool = False  # loopback / private / link-local addresses (a local mirror)
    max_bytes: int = Field(default=30 * 1024 * 1024, gt=0)
    deadline_s: float = Field(default=60.0, gt=0)  # the whole download, redirects and body included
    connect_timeout_s: float = Field(default=10.0, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    tries: int = Field(default=2, ge=1)  # in-run tries of a transient failure; the next run tries again
    retry_wait_s: float = Field(default=2.0, ge=0)  # first backoff; a Retry-After is honoured up to max_wait_s
    max_wait_s: float = Field(default=30.0, ge=0)
    per_host_rps: float | None = Field(default=50.0, gt=0)  # politeness: requests per second to one host

    def check_url(self, url: str) -> None:
        """Raise BlockedUrlError for a URL that is not http(s) with a host, or names a metadata host."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.hostname:
            raise BlockedUrlError(f"{url}: only http and https URLs are fetched")
        if parts.hostname.lower().rstrip(".") in METADATA_HOSTS:
            raise BlockedUrlError(f"{url}: {parts.hostname} is a cloud metadata service")
        try:
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:
            raise BlockedUrlError(f"{url}: bad port") from None

    def check_address(self, host: str, address: str) -> None:
        """Raise BlockedUrlError unless `address` (one that `host` resolved to) may be connected to."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if ip in METADATA_ADDRESSES:
            raise BlockedUrlError(f"{host} resolves to {ip}, a cloud metadata address")
        if ip.is_multicast:  # never a web server; 224.0.0.1 even counts as "global"
            raise BlockedUrlError(f"{host} resolves to {ip}, a multicast address")
        if not self.allow_private and not ip.is_global:
            kind = (
                "loopback" if ip.is_loopback
                else "link-local" if ip.is_link_local
                else "private" if ip.is_private
                else "non-public"
            )  # fmt: skip
            raise BlockedUrlError(
                f"{host} resolves to {ip}, a {kind} address (pass --allow-private-urls for a local mirror)"
            )
