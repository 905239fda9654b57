"""Proxies: the URL given to ``proxy=``, the environment's variables, and ``NO_PROXY`` matching.

Read as curl and httpx read them: ``HTTPS_PROXY`` for https endpoints, ``HTTP_PROXY`` for http
ones, ``ALL_PROXY`` as the fallback; the lower-case form wins where both are set. ``NO_PROXY`` is a
comma-separated list of hosts, domain suffixes (with or without a leading dot), ``*``, IP addresses
and CIDR ranges, each with an optional ``:port``. Loopback endpoints are never proxied from the
environment (only when ``proxy=`` names a proxy). The environment is read once, when the client is
made. Credentials in a proxy URL are kept as a :class:`~vision_async._secrets.Secret`.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from .._errors import ConfigurationError
from .._secrets import Secret

__all__ = ["FROM_ENV", "ProxyConfig", "ProxyRoutes", "is_loopback", "parse_proxy", "routes"]


class _FromEnv:
    __slots__ = ()

    def __repr__(self) -> str:
        return "FROM_ENV"

    def __reduce__(self) -> str:  # unpickled as the one FROM_ENV (a Resource sent to a Spark executor)
        return "FROM_ENV"


#: The default of ``proxy=``: take the proxy from the environment (unless ``trust_env=False``).
FROM_ENV = _FromEnv()


@dataclass(frozen=True)
class ProxyConfig:
    """One forward proxy. ``authorization`` is the ``Proxy-Authorization`` value (a Secret)."""

    scheme: str
    host: str
    port: int
    authorization: Secret | None = field(default=None, repr=False, compare=False)

    @property
    def url(self) -> str:
        """The proxy's URL without its credentials (safe to show)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def where(self) -> str:
        """``host:port``, for error messages."""
        return f"{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"ProxyConfig({self.url!r}{', with credentials' if self.authorization else ''})"


def parse_proxy(url: str, *, source: str = "proxy=") -> ProxyConfig:
    """A proxy URL (``http://user:password@host:port``) as a :class:`ProxyConfig`."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(f"{source} must be a proxy URL such as http://host:3128")
    text = url.strip()
    if "://" not in text:
        text = "http://" + text  # curl's reading of a bare host:port
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ConfigurationError(f"{source}: not a valid proxy URL") from None
    scheme = parts.scheme.lower()
    if scheme != "http":
        raise ConfigurationError(f"{source}: only http:// proxies are supported, got {scheme}://")
    if not parts.hostname:
        raise ConfigurationError(f"{source}: the proxy URL has no host")
    authorization = None
    if parts.username is not None or parts.password is not None:
        user = unquote(parts.username or "")
        password = unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        authorization = Secret(f"Basic {token}")
        del password, token
    return ProxyConfig(scheme, parts.hostname, port or 80, authorization)


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class _NoProxyRule:
    host: str  # lower-case, no leading dot; "" for a network rule
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    port: int | None

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            try:
                return ipaddress.ip_address(host) in self.network
            except ValueError:
                return False
        return host == self.host or host.endswith("." + self.host)


def _no_proxy_rules(value: str) -> tuple[bool, tuple[_NoProxyRule, ...]]:
    """(everything, rules) for a ``NO_PROXY`` value."""
    rules = []
    for raw in value.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True, ()
        port: int | None = None
        if entry.startswith("["):  # [v6]:port
            close = entry.find("]")
            rest = entry[close + 1 :]
            entry, port = entry[1:close], int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
        elif entry.count(":") == 1:
            name, _, digits = entry.partition(":")
            if digits.isdigit():
                entry, port = name, int(digits)
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            network = None
        rules.append(_NoProxyRule("" if network else entry.lstrip(".").lstrip("*").lstrip("."), network, port))
    return False, tuple(rules)


def _env(environ: Mapping[str, str], name: str) -> str | None:
    """The lower-case variable if set (even empty), else the upper-case one (curl's order)."""
    value = environ.get(name.lower())
    if value is None:
        value = environ.get(name.upper())
    return value


@dataclass(frozen=True)
class ProxyRoutes:
    """Which proxy (if any) each endpoint goes through; decided once per endpoint origin."""

    http: ProxyConfig | None = None
    https: ProxyConfig | None = None
    explicit: bool = False  # from proxy=: loopback goes through it too
    everything_direct: bool = False
    no_proxy: tuple[_NoProxyRule, ...] = ()
    #: Per resource (``Resource(proxy=...)``): the routes of that origin.
    overrides: Mapping[tuple[str, str, int], ProxyRoutes] = field(default_factory=dict)

    def for_origin(self, scheme: str, host: str, port: int) -> ProxyConfig | None:
        override = self.overrides.get((scheme, host, port))
        if override is not None:
            return override.for_origin(scheme, host, port)
        proxy = self.https if scheme == "https" else self.http
        if proxy is None:
            return None
        if self.explicit:
            return proxy
        if self.everything_direct or is_loopback(host):
            return None
        name = host.strip("[]").lower().rstrip(".")
        if any(rule.matches(name, port) for rule in self.no_proxy):
            return None
        return proxy

    @property
    def any(self) -> bool:
        return self.http is not None or self.https is not None or any(r.any for r in self.overrides.values())


#: No proxy at all.
DIRECT = ProxyRoutes()


def routes(proxy: object, *, trust_env: bool, environ: Mapping[str, str]) -> ProxyRoutes:
    """The routes for ``proxy=`` (a URL, ``None``, or :data:`FROM_ENV`) and the environment."""
    if proxy is None:
        return DIRECT
    if proxy is not FROM_ENV:
        if not isinstance(proxy, str):
            raise ConfigurationError(f"proxy= must be a proxy URL, None, or left out; got {type(proxy).__name__}")
        config = parse_proxy(proxy)
        return ProxyRoutes(http=config, https=config, explicit=True)
    if not trust_env:
        return DIRECT
    fallback = _env(environ, "ALL_PROXY") or None
    chosen: dict[str, ProxyConfig | None] = {}
    for scheme in ("http", "https"):
        variable = f"{scheme.upper()}_PROXY"
        value = _env(environ, variable) or fallback
        chosen[scheme] = parse_proxy(value, source=f"${variable}") if value else None
    if chosen["http"] is None and chosen["https"] is None:
        return DIRECT
    everything, rules = _no_proxy_rules(_env(environ, "NO_PROXY") or "")
    return ProxyRoutes(http=chosen["http"], https=chosen["https"], everything_direct=everything, no_proxy=rules)
