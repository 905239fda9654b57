"""The ``"httpx"`` transport with proxies: one httpx pool per route (direct, or each proxy),
picked per request origin by :class:`~vision_async._transports.proxy.ProxyRoutes`."""

from __future__ import annotations

import ssl

import httpx

from .._errors import ProxyError
from .proxy import ProxyConfig, ProxyRoutes
from .tunnel import proxy_status_error

__all__ = ["RoutedHttpxTransport"]


class RoutedHttpxTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, routes: ProxyRoutes, max_connections: int, verify: ssl.SSLContext | bool) -> None:
        self._routes = routes
        self._limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._verify = verify
        self._direct = httpx.AsyncHTTPTransport(limits=self._limits, verify=verify, retries=0)
        self._through: dict[ProxyConfig, httpx.AsyncHTTPTransport] = {}
        self._choice: dict[tuple[str, str, int], ProxyConfig | None] = {}

    def __repr__(self) -> str:
        return "RoutedHttpxTransport()"

    def _pool(self, proxy: ProxyConfig) -> httpx.AsyncHTTPTransport:
        pool = self._through.get(proxy)
        if pool is None:
            headers = {"Proxy-Authorization": proxy.authorization.reveal()} if proxy.authorization else None
            pool = httpx.AsyncHTTPTransport(
                limits=self._limits, verify=self._verify, retries=0, proxy=httpx.Proxy(proxy.url, headers=headers)
            )
            self._through[proxy] = pool
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        if key not in self._choice:
            self._choice[key] = self._routes.for_origin(*key)
        proxy = self._choice[key]
        if proxy is None:
            return await self._direct.handle_async_request(request)
        try:
            response = await self._pool(proxy).handle_async_request(request)
        except httpx.ProxyError as exc:
            status = _status_of(exc)
            if status is not None:
                raise proxy_status_error(proxy, status, "") from None
            raise ProxyError(f"cannot connect to the proxy {proxy.where}", proxy=proxy.where) from None
        except httpx.ConnectError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise
            raise ProxyError(f"cannot connect to the proxy {proxy.where}", proxy=proxy.where) from None
        if url.scheme == "http" and response.status_code == 407:
            await response.aclose()
            raise proxy_status_error(proxy, 407, "")
        return response

    async def aclose(self) -> None:
        await self._direct.aclose()
        for pool in self._through.values():
            await pool.aclose()


def _status_of(exc: httpx.ProxyError) -> int | None:
    """httpcore's message is ``407 Proxy Authentication Required``: the status is its first word."""
    head = str(exc).split(" ", 1)[0]
    return int(head) if head.isdigit() else None
