"""The default transport: a connection pool that costs the same at 1 and at 256 requests in flight.

httpcore's pool scans every connection for every queued request (encode/httpcore#1035), so its
cost per request grows with concurrency. This pool does no scans:

- a semaphore (FIFO) admits at most ``max_connections`` requests at once, so at most that many
  connections exist (HTTP/1.1: one request per connection at a time);
- idle connections wait on a stack per origin (LIFO: the warmest socket is reused first, the
  coldest ones expire); taking one is a ``pop``, returning one an ``append``;
- each request runs under one cancel scope (``request.timeout`` bounds the pool wait, connect,
  TLS, send and the whole read), not one per socket read.

A request whose reused connection turns out to have been closed by the server (an error before
any byte of the answer arrived) is sent again at once on a fresh connection, outside the retry
policy, and counted in :meth:`PoolTransport.stats` as ``stale_resends``.

Works on asyncio and trio (anyio streams); TLS through ``ssl`` with httpx's trust defaults.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import ssl
import sys
import time
from collections.abc import AsyncGenerator
from urllib.parse import urlsplit

import anyio
import anyio.abc

from .._backends import current_loop, is_asyncio
from .._checks import is_int
from .._defaults import KEEPALIVE_EXPIRY
from .._errors import ConfigurationError, VisionError
from .._events import note
from .base import OutgoingRequest, RawResponse, TransportStats, closed_error
from .boundary import send_failure, translate_exception
from .connection import Connection
from .httpx_transport import HttpxTransport
from .proxy import DIRECT, ProxyConfig, ProxyRoutes
from .streams import open_stream

__all__ = ["PoolTransport"]

logger = logging.getLogger("vision_async.transport")

_Origin = tuple[str, str, int]  # scheme, host, port
# origin, Host header, and for plain http through a proxy: (absolute-form prefix, Proxy-Authorization)
_Known = tuple[_Origin, bytes, "tuple[bytes, tuple[tuple[str, object], ...]] | None"]
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _httpcore_is_mocked() -> bool:
    """True while a test double (respx) has replaced httpcore's pool: requests then go through
    httpx's own transport, so that code mocking "the default client" with respx keeps working."""
    module = sys.modules.get("httpcore._async.connection_pool")
    if module is None:
        return False
    method = module.AsyncConnectionPool.__dict__.get("handle_async_request")
    return getattr(method, "__module__", None) != "httpcore._async.connection_pool"


def _is_stale_failure(exc: BaseException) -> bool:
    """An error that says "the peer had closed this connection" (not a timeout)."""
    return not isinstance(exc, TimeoutError | VisionError) and translate_exception(exc, what="") is not None


class PoolTransport:
    """The default HTTP/1.1 connection pool (see the module docstring)."""

    def __init__(
        self,
        *,
        max_connections: int = 100,
        keepalive_expiry: float = KEEPALIVE_EXPIRY,
        verify: ssl.SSLContext | bool = True,
        proxy: ProxyRoutes = DIRECT,
    ) -> None:
        if not is_int(max_connections) or max_connections < 1:
            raise ConfigurationError(f"max_connections must be an int >= 1, got {max_connections!r}")
        self._max = max_connections
        self._keepalive = float(keepalive_expiry)
        self._verify = verify
        self._ssl_context: ssl.SSLContext | None = verify if isinstance(verify, ssl.SSLContext) else None
        self._slots: anyio.Semaphore | None = None  # made on first use, inside the event loop
        self._loop: object = None  # that event loop (asyncio loop or trio token)
        self._loop_watch: AsyncGenerator[None, None] | None = None  # closes its connections when it ends
        self._on_asyncio = False
        self._idle: dict[_Origin, list[Connection]] = {}
        self._busy: set[Connection] = set()
        self._origins: dict[str, _Known] = {}
        self._routes = proxy
        self._proxies: dict[_Origin, ProxyConfig | None] = {}
        self._open = 0
        self._idle_count = 0
        self._opened = 0
        self._stale_resends = 0
        self._closed = False
        self._httpx: HttpxTransport | None = None  # only while respx (or the like) mocks httpcore

    def __repr__(self) -> str:
        return f"PoolTransport(max_connections={self._max}, open={self._open})"

    def stats(self) -> TransportStats:
        return TransportStats(self._open, self._idle_count, self._opened, self._stale_resends)

    # -- sending ---------------------------------------------------------------------------

    async def send(self, request: OutgoingRequest) -> RawResponse:
        """Send ``request`` on a pooled connection and read the answer (capped)."""
        if self._closed:
            raise closed_error()
        if _httpcore_is_mocked():
            return await self._through_httpx().send(request)
        url = request.url
        cut = url.find("/", url.find("//") + 2)
        prefix, target = (url, "/") if cut < 0 else (url[:cut], url[cut:])
        known = self._origins.get(prefix)
        if known is None:
            known = self._origin(prefix)
        origin, host, absolute = known
        wire = request
        if absolute is not None:  # plain http through a proxy: absolute form, and its credentials
            target = prefix + target
            wire = self._to_proxy(origin, request)
        slots = self._slots
        if slots is None or self._loop is not current_loop():
            slots = await self._start_in_this_loop()
        try:
            if self._on_asyncio:  # asyncio's own timeout: a fifth of the cost of an anyio cancel scope
                async with asyncio.timeout(request.timeout), slots:
                    response = await self._send_on(origin, host, target.encode("ascii"), wire)
            else:
                with anyio.fail_after(request.timeout):
                    async with slots:
                        response = await self._send_on(origin, host, target.encode("ascii"), wire)
        except Exception as exc:
            error = send_failure(exc, request, closed=self._closed)
            if error is exc:
                raise
            raise error from exc
        if absolute is not None and response.status_code == 407:
            from .tunnel import proxy_status_error

            proxy = self._proxies[origin]
            assert proxy is not None
            raise proxy_status_error(proxy, 407, response.reason)
        return response

    def _to_proxy(self, origin: _Origin, request: OutgoingRequest) -> OutgoingRequest:
        """The request with the proxy's Proxy-Authorization, when it has credentials."""
        proxy = self._proxies[origin]
        assert proxy is not None
        if proxy.authorization is None:
            return request
        return dataclasses.replace(request, headers=(*request.headers, ("Proxy-Authorization", proxy.authorization)))

    async def _send_on(self, origin: _Origin, host: bytes, target: bytes, request: OutgoingRequest) -> RawResponse:
        method = request.method.encode("ascii")
        connection = await self._checkout(origin) or await self._connect(origin)
        while True:
            try:
                response, reusable = await connection.exchange(
                    method, target, host, request.headers, request.content, request.max_body
                )
            except BaseException as exc:
                await self._discard(connection)
                if not (connection.reused and connection.received == 0 and _is_stale_failure(exc)) or self._closed:
                    raise
                self._stale_resends += 1
                note("vision_async.stale_resend", {"server.address": host.decode("ascii", "replace")})
                logger.debug("%s: the server had closed a pooled connection; resending on a new one", request.what)
                connection = await self._connect(origin)
                continue
            if reusable and not self._closed:
                self._checkin(connection)
            else:
                await self._discard(connection)
            return response

    def _through_httpx(self) -> HttpxTransport:
        if self._httpx is None:
            import httpx

            limits = httpx.Limits(max_connections=self._max, max_keepalive_connections=self._max)
            self._httpx = HttpxTransport(httpx.AsyncHTTPTransport(limits=limits, verify=self._verify))
        return self._httpx

    async def _start_in_this_loop(self) -> anyio.Semaphore:
        """First use, or first use in another event loop (``asyncio.run`` twice with one client).

        Connections belong to the loop that opened them and can be closed only there, so each loop
        gets a watch that closes them when that loop ends (see :meth:`_watch_loop`).
        """
        if self._open:  # only when the old loop ended without finalizing its async generators
            logger.warning(
                "the pool is used in a new event loop; %d connections of the old one were left open "
                "(that loop ended without finalizing async generators: close the client in the loop that used it)",
                self._open,
            )
            self._idle.clear()
            self._busy.clear()
            self._open = self._idle_count = 0
        self._loop = current_loop()
        self._on_asyncio = is_asyncio(self._loop)
        self._slots = anyio.Semaphore(self._max, fast_acquire=True)
        self._loop_watch = self._watch_loop()
        await self._loop_watch.__anext__()
        return self._slots

    async def _watch_loop(self) -> AsyncGenerator[None, None]:
        """Stays suspended for the life of the loop it was started in. asyncio and trio close a
        suspended async generator when its loop ends (``asyncio.run``, ``asyncio.Runner``,
        ``anyio.run``, ``trio.run``), which closes the pool's connections of that loop, in it."""
        loop = self._loop
        try:
            yield
        finally:
            if self._loop is loop:
                await self._close_connections()

    def _origin(self, prefix: str) -> _Known:
        parts = urlsplit(prefix)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ConfigurationError(f"cannot send to {prefix!r}: only http:// and https:// URLs with a host")
        port = parts.port or _DEFAULT_PORTS[scheme]
        host_header = parts.netloc.rsplit("@", 1)[-1].encode("idna")
        origin = (scheme, parts.hostname, port)
        proxy = self._routes.for_origin(scheme, parts.hostname, port) if self._routes.any else None
        self._proxies[origin] = proxy
        absolute = None
        if proxy is not None and scheme == "http":
            extra = (("Proxy-Authorization", proxy.authorization),) if proxy.authorization is not None else ()
            absolute = (f"http://{host_header.decode('ascii')}".encode("ascii"), extra)
        known: _Known = (origin, host_header, absolute)
        if len(self._origins) < 64:
            self._origins[prefix] = known
        return known

    # -- the pool ------------------------------------------------------------------------------

    async def _checkout(self, origin: _Origin) -> Connection | None:
        stack = self._idle.get(origin)
        if not stack:
            return None
        now = time.monotonic()
        while stack:
            connection = stack.pop()
            self._idle_count -= 1
            if connection.expires_at > now and connection.looks_alive():
                self._busy.add(connection)
                return connection
            self._open -= 1
            await connection.aclose()
        return None

    def _checkin(self, connection: Connection) -> None:
        self._busy.discard(connection)
        connection.expires_at = time.monotonic() + self._keepalive
        self._idle.setdefault(connection.key, []).append(connection)
        self._idle_count += 1

    async def _connect(self, origin: _Origin) -> Connection:
        if self._closed:
            raise closed_error()
        if self._open >= self._max:
            await self._evict_one()
        scheme, host, port = origin
        self._open += 1
        proxy = self._proxies.get(origin)
        try:
            if proxy is None:
                stream = await open_stream(
                    host, port, ssl_context=self._context() if scheme == "https" else None, loop=self._loop
                )
            else:
                from .tunnel import open_through_proxy

                stream = await open_through_proxy(
                    proxy, host, port, ssl_context=self._context() if scheme == "https" else None, loop=self._loop
                )
        except BaseException:
            self._open -= 1
            raise
        self._opened += 1
        connection = Connection(stream, origin)
        self._busy.add(connection)
        if self._closed:
            await self._discard(connection)
            raise closed_error()
        return connection

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = trust_context(self._verify)
        return self._ssl_context

    async def _evict_one(self) -> None:
        """Make room for a connection to a new origin: drop the coldest idle connection."""
        for stack in self._idle.values():
            if stack:
                connection = stack.pop(0)
                self._idle_count -= 1
                self._open -= 1
                await connection.aclose()
                return

    async def _discard(self, connection: Connection) -> None:
        if connection in self._busy:
            self._busy.discard(connection)
            self._open -= 1
        await connection.aclose()

    async def aclose(self) -> None:
        """Close every connection, idle or busy; requests in flight end with ClientClosedError."""
        if self._closed:
            return
        self._closed = True
        if self._httpx is not None:
            await self._httpx.aclose()
        await self._close_connections()

    async def _close_connections(self) -> None:
        connections = [c for stack in self._idle.values() for c in stack] + list(self._busy)
        self._idle.clear()
        self._busy.clear()
        self._idle_count = 0
        self._open = 0
        for connection in connections:
            await connection.aclose()


def trust_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext:
    """The TLS context for ``verify``, with httpx's trust defaults: ``$SSL_CERT_FILE``, else
    ``$SSL_CERT_DIR``, else certifi's bundle; ``False`` checks nothing.

    Written out rather than taken from ``httpx.create_ssl_context``: importing httpx for these
    lines would add about 100 ms to the first call of every process that never uses httpx.
    """
    if isinstance(verify, ssl.SSLContext):
        return verify
    if not verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    for variable in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        where = os.environ.get(variable)
        if not where:
            continue
        try:
            if variable == "SSL_CERT_FILE":
                return ssl.create_default_context(cafile=where)
            if not os.path.isdir(where):  # OpenSSL would only fail at the handshake
                raise FileNotFoundError(f"no such directory: {where!r}")
            return ssl.create_default_context(capath=where)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            # A broken trust store is a configuration to fix, not a network failure to retry.
            raise ConfigurationError(f"${variable}={where!r} cannot be used as trusted CAs: {exc}") from None
    import certifi

    return ssl.create_default_context(cafile=certifi.where())
