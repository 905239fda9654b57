"""Opening a connection through a forward proxy: ``CONNECT`` for https (then TLS to the endpoint,
verified against the endpoint's name), a plain connection to the proxy for http (absolute form).

Errors are typed here: an unreachable proxy is a :class:`ProxyError` (an APIConnectionError,
retried) naming ``host:port``; a ``407`` a :class:`ProxyAuthenticationError` (not retried); any
other status a :class:`ProxyError` with that status. Credentials never enter a message.
"""

from __future__ import annotations

import ssl

import anyio
import anyio.abc
from anyio.streams.tls import TLSStream

from .._backends import is_asyncio
from .._errors import ProxyAuthenticationError, ProxyError
from .proxy import ProxyConfig
from .streams import AnyioStream, AsyncioStream, Stream, open_stream

__all__ = ["open_through_proxy"]

_MAX_CONNECT_HEAD = 16 * 1024


async def _connect_proxy(proxy: ProxyConfig, loop: object) -> Stream:
    try:
        return await open_stream(proxy.host, proxy.port, ssl_context=None, loop=loop)
    except (OSError, anyio.BrokenResourceError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ProxyError(f"cannot connect to the proxy {proxy.where}: {reason}", proxy=proxy.where) from None


def _connect_head(proxy: ProxyConfig, host: str, port: int) -> bytes:
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy.authorization is not None:
        lines.append(f"Proxy-Authorization: {proxy.authorization.reveal()}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_head(stream: Stream, proxy: ProxyConfig) -> tuple[int, str]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = await stream.receive(4096)
        if not chunk:
            raise ProxyError(f"the proxy {proxy.where} closed the connection during CONNECT", proxy=proxy.where)
        data += chunk
        if len(data) > _MAX_CONNECT_HEAD:
            raise ProxyError(f"the proxy {proxy.where} sent an oversized CONNECT answer", proxy=proxy.where)
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit() or not parts[0].startswith("HTTP/"):
        raise ProxyError(f"the proxy {proxy.where} answered CONNECT with garbage", proxy=proxy.where)
    status = int(parts[1])
    if rest and status == 200:
        raise ProxyError(f"the proxy {proxy.where} sent data before the tunnel opened", proxy=proxy.where)
    return status, parts[2] if len(parts) > 2 else ""


def proxy_status_error(proxy: ProxyConfig, status: int, reason: str) -> ProxyError | ProxyAuthenticationError:
    if status == 407:
        return ProxyAuthenticationError(
            407,
            "ProxyAuthenticationRequired",
            message=f"the proxy {proxy.where} refused its credentials (407 Proxy Authentication Required)"
            if proxy.authorization is not None
            else f"the proxy {proxy.where} asks for credentials (407 Proxy Authentication Required)",
        )
    return ProxyError(
        f"the proxy {proxy.where} answered CONNECT with {status} {reason[:80]}".rstrip(),
        proxy=proxy.where,
        status_code=status,
    )


async def _start_tls(stream: Stream, host: str, context: ssl.SSLContext, loop: object) -> Stream:
    if isinstance(stream, AsyncioStream) and is_asyncio(loop):
        transport = stream._transport
        assert transport is not None
        tls_transport = await loop.start_tls(transport, stream, context, server_hostname=host)
        assert tls_transport is not None
        stream._transport = tls_transport
        return stream
    assert isinstance(stream, AnyioStream)
    wrapped = await TLSStream.wrap(stream._stream, hostname=host, ssl_context=context, standard_compatible=False)
    return AnyioStream(wrapped)


async def open_through_proxy(
    proxy: ProxyConfig, host: str, port: int, *, ssl_context: ssl.SSLContext | None, loop: object
) -> Stream:
    """A stream to ``host:port`` through ``proxy``: a tunnel for TLS, the proxy itself for http."""
    stream = await _connect_proxy(proxy, loop)
    if ssl_context is None:
        return stream
    try:
        await stream.send(_connect_head(proxy, host, port))
        status, reason = await _read_head(stream, proxy)
        if status != 200:
            raise proxy_status_error(proxy, status, reason)
        return await _start_tls(stream, host, ssl_context, loop)
    except BaseException as exc:
        await stream.aclose()
        if isinstance(exc, OSError | anyio.BrokenResourceError) and not isinstance(exc, ssl.SSLError):
            raise ProxyError(f"the connection to the proxy {proxy.where} broke", proxy=proxy.where) from None
        raise
