"""The endpoint: where the v3.2 API lives, and whether it is safe to send a key there."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from .._errors import ConfigurationError

__all__ = ["API_PATH", "is_loopback_host", "root_url"]

#: Where the v3.2 API lives below the resource endpoint.
API_PATH = "/vision/v3.2"


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def root_url(endpoint: str, *, allow_insecure_http: bool) -> str:
    """The resource's root URL (every API version lives below it), refusing plain http except on loopback."""
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"endpoint must be an https:// URL, got {endpoint!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError("endpoint must not carry a query, fragment or credentials")
    if parts.scheme == "http" and not (is_loopback_host(parts.hostname) or allow_insecure_http):
        raise ConfigurationError(
            f"endpoint {endpoint!r} is plain http: the key would travel unencrypted. Use https://, "
            "or pass allow_insecure_http=True if you really mean it."
        )
    path = parts.path.rstrip("/")
    if path.endswith(API_PATH):
        path = path[: -len(API_PATH)]
    return f"{parts.scheme}://{parts.netloc}{path}"
