"""The high-throughput transport (the ``speed`` extra): aiohttp's C-accelerated HTTP/1.1 client.

asyncio only. Turn it on with ``VisionClient(..., transport="aiohttp")`` (or the
``VISION_ASYNC_TRANSPORT=aiohttp`` environment variable); under trio it is refused with a
:class:`~vision_async.ConfigurationError`. It behaves like the default pool: the same caps on
response bodies, the same resend of a request whose reused connection the server had closed
(counted as ``stale_resends``), the same typed errors (aiohttp's are mapped below, explicitly).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import ssl
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import aiohttp.client_exceptions
import aiohttp.streams
import anyio
from multidict import CIMultiDict, CIMultiDictProxy

from .._backends import AIOHTTP_TRIO_MESSAGE
from .._checks import is_int
from .._errors import ConfigurationError, ProxyError
from .base import OutgoingRequest, RawResponse, ResponseHeaders, TransportStats, closed_error, reveal
from .body import body_cap, too_large
from .boundary import aiohttp_errors, send_failure, translate_aiohttp_exception
from .proxy import DIRECT, ProxyConfig, ProxyRoutes
from .tunnel import proxy_status_error

__all__ = ["AIOHTTP_ERRORS", "AiohttpTransport", "translate_aiohttp_exception"]

logger = logging.getLogger("vision_async.transport")

#: aiohttp's exception classes and what each becomes (the table lives in .foreign, with the others).
AIOHTTP_ERRORS = aiohttp_errors()

# Set by the connector on every connection hand-out, read by the request that got it.
_reused: contextvars.ContextVar[bool] = contextvars.ContextVar("vision_async_aiohttp_reused", default=False)


class _Connector(aiohttp.TCPConnector):
    """Tells the request whether its connection has served a request before."""

    opened = 0

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
        connection = await super().connect(req, traces, timeout)
        protocol = connection.protocol
        used = getattr(protocol, "_vision_async_used", False)
        _reused.set(used)
        if not used:
            self.opened += 1
            protocol._vision_async_used = True  # type: ignore[union-attr]
        return connection


def _running_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise ConfigurationError(AIOHTTP_TRIO_MESSAGE) from None


class AiohttpTransport:
    """Sends through one ``aiohttp.ClientSession`` (made on first use, inside the event loop)."""

    def __init__(
        self, *, max_connections: int = 100, verify: ssl.SSLContext | bool = True, proxy: ProxyRoutes = DIRECT
    ) -> None:
        if not is_int(max_connections) or max_connections < 1:
            raise ConfigurationError(f"max_connections must be an int >= 1, got {max_connections!r}")
        self._max = max_connections
        self._ssl: ssl.SSLContext | bool = verify
        self._routes = proxy
        self._proxy_for: dict[str, ProxyConfig | None] = {}
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: anyio.Semaphore | None = None
        self._connector: _Connector | None = None
        self._stale_resends = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"AiohttpTransport(max_connections={self._max})"

    def _open_session(self) -> aiohttp.ClientSession:
        """On first use, or in another event loop than before (the old session cannot be used,
        nor closed, from this one: it is dropped)."""
        self._loop = _running_loop()
        self._slots = None
        self._connector = _Connector(limit=self._max, limit_per_host=0, ssl=self._ssl, enable_cleanup_closed=False)
        self._session = aiohttp.ClientSession(
            connector=self._connector,
            timeout=aiohttp.ClientTimeout(total=None),
            skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            raise_for_status=False,
        )
        return self._session

    def _admission(self) -> anyio.Semaphore:
        """At most max_connections requests reach aiohttp at once, admitted first come, first
        served: aiohttp's own connector lets a newcomer take a freed connection ahead of those
        already waiting, which starves some requests for seconds when requests outnumber
        connections."""
        if self._slots is None:
            self._slots = anyio.Semaphore(self._max, fast_acquire=True)
        return self._slots

    def stats(self) -> TransportStats:
        connector = self._connector
        if connector is None or connector.closed:
            return TransportStats(0, 0, connector.opened if connector else 0, self._stale_resends)
        idle_lists: Any = getattr(connector, "_conns", {})
        idle = sum(len(items) for items in idle_lists.values())
        busy = len(getattr(connector, "_acquired", ()))
        return TransportStats(idle + busy, idle, connector.opened, self._stale_resends)

    async def send(self, request: OutgoingRequest) -> RawResponse:
        """Send ``request`` and read the answer (capped); ``request.timeout`` bounds it all."""
        if self._closed:
            raise closed_error()
        session = self._session
        if session is None or self._loop is not _running_loop():
            session = self._open_session()
        try:
            async with asyncio.timeout(request.timeout), self._admission():
                while True:
                    try:
                        return await self._exchange(session, request)
                    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                        # Sent on a pooled connection the server had closed: send again at once
                        # (on the next pooled one, at worst until a fresh connection is used).
                        if not _reused.get() or isinstance(exc, aiohttp.ClientConnectorError) or self._closed:
                            raise
                        self._stale_resends += 1
                        logger.debug("%s: the server had closed a pooled connection; resending", request.what)
        except Exception as exc:
            error = send_failure(exc, request, closed=self._closed)
            if error is exc:
                raise
            if isinstance(exc, aiohttp.ClientResponseError):
                _forget_request_headers(exc)
            raise error from exc

    async def _exchange(self, session: aiohttp.ClientSession, request: OutgoingRequest) -> RawResponse:
        _reused.set(False)
        proxy = self._proxy(request.url) if self._routes.any else None
        if proxy is None:
            return await self._exchange_via(session, request, None)
        try:
            response = await self._exchange_via(session, request, proxy)
        except aiohttp.ClientHttpProxyError as exc:
            raise proxy_status_error(proxy, exc.status, "") from None
        except aiohttp.ClientProxyConnectionError:
            raise ProxyError(f"cannot connect to the proxy {proxy.where}", proxy=proxy.where) from None
        if response.status_code == 407 and request.url.startswith("http:"):
            raise proxy_status_error(proxy, 407, "")
        return response

    def _proxy(self, url: str) -> ProxyConfig | None:
        prefix = url[: url.find("/", url.find("//") + 2)]
        if prefix not in self._proxy_for:
            parts = urlsplit(prefix)
            scheme = parts.scheme.lower()
            port = parts.port or (443 if scheme == "https" else 80)
            self._proxy_for[prefix] = self._routes.for_origin(scheme, parts.hostname or "", port)
        return self._proxy_for[prefix]

    async def _exchange_via(
        self, session: aiohttp.ClientSession, request: OutgoingRequest, proxy: ProxyConfig | None
    ) -> RawResponse:
        extra: dict[str, Any] = {}
        if proxy is not None:
            extra["proxy"] = proxy.url
            if proxy.authorization is not None:
                extra["proxy_headers"] = {"Proxy-Authorization": proxy.authorization.reveal()}
                if request.url.startswith("http:"):  # aiohttp sends proxy_headers only with CONNECT
                    extra["headers"] = [
                        *((name, reveal(value)) for name, value in request.headers),
                        ("Proxy-Authorization", proxy.authorization.reveal()),
                    ]
        async with session.request(
            request.method,
            request.url,
            headers=extra.pop("headers", None) or [(name, reveal(value)) for name, value in request.headers],
            data=request.content,
            allow_redirects=False,
            **extra,
        ) as response:
            _reused.set(False)  # an answer has begun: from here on, a failure is never resent
            status = response.status
            success = 200 <= status < 300
            cap = body_cap(status, request.max_body)
            declared = response.content_length
            if cap is None or (declared is not None and declared <= cap):
                body = await response.read()
            else:
                if success and declared is not None:
                    response.close()
                    raise too_large(declared, cap)
                body = await _read_capped(response, cap, success)
            headers = ResponseHeaders(response.headers.items())
            return RawResponse(status, response.reason or "", headers, body)

    async def aclose(self) -> None:
        """Close the session and its connections; requests in flight end with ClientClosedError."""
        if self._closed:
            return
        self._closed = True
        if self._session is not None:
            await self._session.close()


async def _read_capped(response: aiohttp.ClientResponse, cap: int, success: bool) -> bytes:
    parts: list[bytes] = []
    size = 0
    stream = response.content
    while True:
        chunk = await stream.readany()
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > cap:
            response.close()  # the rest is never read; the connection is not reused
            if success:
                raise too_large(None, cap)
            parts.append(chunk[: len(chunk) - (size - cap)])
            return b"".join(parts)
        parts.append(chunk)


def _forget_request_headers(exc: aiohttp.ClientResponseError) -> None:
    """aiohttp keeps the request's headers (the key) on the exception, in its repr: drop them."""
    info = exc.request_info
    exc.request_info = info._replace(headers=CIMultiDictProxy(CIMultiDict()))
