"""Byte streams for the default pool: a lean asyncio protocol, and anyio's streams for trio.

On asyncio, anyio's socket stream spends a loop iteration (a shielded checkpoint) on every send
and two guards on every read; at 256 requests in flight that is a large share of a request's
cost. :class:`AsyncioStream` is the minimum a one-request-at-a-time HTTP/1.1 connection needs:
it buffers what arrives (pausing the socket past :data:`HIGH_WATER` bytes, so a huge body never
piles up in memory), wakes the one reader, and knows at once when the peer has closed.

Both kinds answer the same four calls: ``send``, ``receive`` (``b""`` at end of stream),
``alive()`` and ``aclose()``. Errors are the OS's and anyio's own; the pool translates them.
"""

from __future__ import annotations

import asyncio
import collections
import select
import ssl
import typing

import anyio
import anyio.abc

from .._backends import is_asyncio

__all__ = ["AnyioStream", "AsyncioStream", "Stream", "open_stream"]

#: Bytes buffered before the socket is paused (resumed once the reader has taken them).
HIGH_WATER = 256 * 1024


class Stream(typing.Protocol):
    async def send(self, data: bytes) -> None: ...

    async def receive(self, max_bytes: int) -> bytes: ...

    def alive(self) -> bool: ...

    async def aclose(self) -> None: ...


class AsyncioStream(asyncio.Protocol):
    """An asyncio protocol used as a stream by one task at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._reading_paused = False
        self._eof = False
        self._error: BaseException | None = None
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._write_paused = False

    # -- protocol callbacks (the event loop calls these) ------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > HIGH_WATER and not self._reading_paused and self._transport is not None:
            self._reading_paused = True
            self._transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._eof = True
        if exc is not None and self._error is None:
            self._error = exc
        self._wake()
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the stream ---------------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        transport = self._transport
        if self._closed or transport is None or transport.is_closing():
            raise self._error or anyio.BrokenResourceError("the connection is closed")
        transport.write(data)
        while self._write_paused and not self._closed:
            self._writable = self._loop.create_future()
            await self._writable
        if self._closed and self._error is not None:
            raise self._error

    async def receive(self, max_bytes: int) -> bytes:
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._eof:
                return b""
            self._waiter = self._loop.create_future()
            await self._waiter
        data = self._chunks.popleft()
        self._buffered -= len(data)
        if self._reading_paused and self._buffered <= HIGH_WATER // 4 and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()
        return data

    def alive(self) -> bool:
        """Open, and nothing arrived unasked while idle (a server that closes says so at once)."""
        return not (self._eof or self._closed or self._chunks)

    async def aclose(self) -> None:
        if self._transport is not None and not self._closed:
            self._transport.abort()
        self._closed = True


class AnyioStream:
    """anyio's socket (or TLS) stream, for trio."""

    __slots__ = ("_socket", "_stream")

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self._stream = stream
        self._socket: typing.Any = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)

    async def send(self, data: bytes) -> None:
        await self._stream.send(data)

    async def receive(self, max_bytes: int) -> bytes:
        try:
            return await self._stream.receive(max_bytes)
        except anyio.EndOfStream:
            return b""

    def alive(self) -> bool:
        """False when the idle socket is readable: the server closed it (or sent something unasked)."""
        if self._socket is None:
            return True
        try:
            poller = select.poll()
            poller.register(self._socket, select.POLLIN)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.aclose_forcefully(self._stream)


async def open_stream(host: str, port: int, *, ssl_context: ssl.SSLContext | None, loop: object) -> Stream:
    """Connect (TLS when ``ssl_context`` is given) with the leanest stream for the running loop."""
    if is_asyncio(loop):
        protocol = AsyncioStream(loop)
        await loop.create_connection(
            lambda: protocol, host, port, ssl=ssl_context, server_hostname=host if ssl_context else None
        )
        return protocol
    if ssl_context is not None:
        tls = await anyio.connect_tcp(
            host, port, tls=True, ssl_context=ssl_context, tls_hostname=host, tls_standard_compatible=False
        )
        return AnyioStream(tls)
    return AnyioStream(await anyio.connect_tcp(host, port))
