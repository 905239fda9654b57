"""Choosing a transport: the one factory the client calls."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .._backends import AIOHTTP_TRIO_MESSAGE, trio_running
from .._defaults import KEEPALIVE_EXPIRY
from .._errors import ConfigurationError
from .base import Borrowed, Transport
from .httpx_transport import HttpxTransport, default_transport
from .proxy import DIRECT, ProxyRoutes

if TYPE_CHECKING:
    import ssl

    import httpx

__all__ = ["ENV_TRANSPORT", "TRANSPORT_NAMES", "make_transport"]

#: Environment variable that picks the transport when the client is given none.
ENV_TRANSPORT = "VISION_ASYNC_TRANSPORT"
#: The names ``transport=`` (and the environment variable) accept.
TRANSPORT_NAMES = ("default", "aiohttp", "httpx")


def _named(
    name: str,
    *,
    max_connections: int,
    verify: ssl.SSLContext | bool,
    keepalive_expiry: float,
    proxy: ProxyRoutes = DIRECT,
) -> Transport:
    choice = name.strip().lower()
    if choice in ("", "default"):
        from .pool import PoolTransport  # imported with the first client: `import vision_async` stays light

        pool: Transport = PoolTransport(
            max_connections=max_connections, keepalive_expiry=keepalive_expiry, verify=verify, proxy=proxy
        )
        return pool
    if choice == "httpx":
        if proxy.any:
            from .httpx_proxy import RoutedHttpxTransport

            routed = RoutedHttpxTransport(routes=proxy, max_connections=max_connections, verify=verify)
            return HttpxTransport(routed)
        return HttpxTransport(default_transport(max_connections=max_connections, verify=verify))
    if choice == "aiohttp":
        if trio_running():
            raise ConfigurationError(AIOHTTP_TRIO_MESSAGE)
        try:
            from .aiohttp import AiohttpTransport
        except ImportError as exc:
            raise ConfigurationError("transport='aiohttp' needs aiohttp: pip install 'vision-async[speed]'") from exc
        return AiohttpTransport(max_connections=max_connections, verify=verify, proxy=proxy)
    raise ConfigurationError(f"unknown transport {name!r}; expected one of {', '.join(TRANSPORT_NAMES)}")


def make_transport(
    transport: httpx.AsyncBaseTransport | Transport | str | None,
    *,
    max_connections: int,
    verify: ssl.SSLContext | bool = True,
    keepalive_expiry: float = KEEPALIVE_EXPIRY,
    environ: Mapping[str, str] | None = None,
    proxy: ProxyRoutes = DIRECT,
) -> Transport:
    """The transport a client sends through; the client closes it (a no-op for borrowed ones).

    - ``None``: the transport named by ``$VISION_ASYNC_TRANSPORT`` if set, else the default pool
      (:class:`PoolTransport`, asyncio and trio).
    - ``"default"``, ``"aiohttp"`` (the ``speed`` extra, asyncio only: ConfigurationError under
      trio or when aiohttp is missing), ``"httpx"`` (httpx's own pool).
    - an ``httpx.AsyncBaseTransport`` (respx, MockTransport, the emulator's): wrapped, never closed.
    - a vision_async transport (``PoolTransport``, ``AiohttpTransport``): used, never closed.
    """
    options = {
        "max_connections": max_connections,
        "verify": verify,
        "keepalive_expiry": keepalive_expiry,
        "proxy": proxy,
    }
    if transport is None:
        name = (os.environ if environ is None else environ).get(ENV_TRANSPORT, "")
        return _named(name, **options)  # type: ignore[arg-type]
    if isinstance(transport, str):
        return _named(transport, **options)  # type: ignore[arg-type]
    httpx = sys.modules.get("httpx")  # not loaded: the transport cannot be an httpx one
    if httpx is not None and isinstance(transport, httpx.AsyncBaseTransport):
        return Borrowed(HttpxTransport(transport))
    if callable(getattr(transport, "send", None)) and callable(getattr(transport, "aclose", None)):
        if not callable(getattr(transport, "stats", None)):
            raise ConfigurationError(f"{type(transport).__name__} lacks stats(); it is not a vision_async transport")
        return Borrowed(transport)  # type: ignore[arg-type]  # it has the methods (checked above)
    raise ConfigurationError(
        "transport must be None, a name (" + ", ".join(TRANSPORT_NAMES) + "), an httpx.AsyncBaseTransport "
        f"or a vision_async transport, got {type(transport).__name__}"
    )
