"""One HTTP/1.1 connection: write a request with h11, read the answer up to its cap.

Used only by :class:`~vision_async._transports.pool.PoolTransport`, which guarantees that a
connection serves one request at a time; so there are no locks here, and no per-read timeouts
(the pool bounds the whole exchange with one cancel scope).
"""

from __future__ import annotations

from typing import Any

import h11

from .base import HeaderValue, RawResponse, ResponseHeaders
from .body import body_cap, too_large
from .streams import Stream

__all__ = ["READ_SIZE", "Connection", "encode_headers"]

READ_SIZE = 64 * 1024
#: Largest response head (status line and headers) accepted.
MAX_HEAD_SIZE = 64 * 1024
_SMALL_BODY = 16 * 1024  # bodies up to this size go out in the same write as the head


def encode_headers(
    host: bytes, headers: tuple[tuple[str, HeaderValue], ...], content: bytes | None
) -> list[tuple[bytes, bytes]]:
    """The wire headers. Secret values are revealed here; the caller passes the result straight
    to h11 without keeping it in a variable."""
    wire = [(b"Host", host)]
    for name, value in headers:
        wire.append((name.encode("latin-1"), (value if isinstance(value, str) else value.reveal()).encode("latin-1")))
    if content is not None:
        wire.append((b"Content-Length", str(len(content)).encode()))
    return wire


class Connection:
    """An open connection. ``requests`` counts the requests it has been given (reused if > 1);
    ``received`` counts the bytes read since the current request was written."""

    __slots__ = ("_h11", "_stream", "expires_at", "key", "received", "requests")

    def __init__(self, stream: Stream, key: tuple[str, str, int]) -> None:
        self._stream = stream
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_SIZE)
        self.key = key
        self.requests = 0
        self.received = 0
        self.expires_at = 0.0

    @property
    def reused(self) -> bool:
        return self.requests > 1

    def looks_alive(self) -> bool:
        """False when the idle connection was closed by the server (or it sent something unasked
        for); either way it cannot carry another request."""
        return self._stream.alive()

    async def exchange(
        self,
        method: bytes,
        target: bytes,
        host: bytes,
        headers: tuple[tuple[str, HeaderValue], ...],
        content: bytes | None,
        max_body: int | None,
    ) -> tuple[RawResponse, bool]:
        """Send one request and read its answer; returns it and whether the connection can be
        reused. Raises h11/anyio/OS errors as they come (the pool translates them)."""
        self.requests += 1
        self.received = 0
        conn = self._h11
        stream = self._stream
        # The head (with the key) exists only as an argument in flight, never as a local here.
        await stream.send(self._head(method, target, host, headers, content))
        if content is not None and len(content) > _SMALL_BODY:
            for chunk in conn.send_with_data_passthrough(h11.Data(data=content)) or ():
                await stream.send(chunk)
            await stream.send(conn.send(h11.EndOfMessage()))

        event: Any
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                await self._receive()
            elif type(event) is h11.Response:
                break
            elif type(event) is not h11.InformationalResponse:  # ConnectionClosed (h11 raises first)
                raise h11.RemoteProtocolError(f"unexpected {type(event).__name__} before the response")
        status = event.status_code
        response_headers = ResponseHeaders.from_lowercase_bytes(event.headers)
        reason = event.reason.decode("latin-1")

        success = 200 <= status < 300
        cap = body_cap(status, max_body)
        if success and cap is not None:
            declared = response_headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > cap:
                raise too_large(int(declared), cap)
        parts: list[Any] = []
        size = 0
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                await self._receive()
                continue
            kind = type(event)
            if kind is h11.Data:
                data = event.data
                size += len(data)
                if cap is not None and size > cap:
                    if success:
                        raise too_large(None, cap)
                    parts.append(data[: len(data) - (size - cap)])
                    return RawResponse(status, reason, response_headers, b"".join(parts)), False
                parts.append(data)
            elif kind is h11.EndOfMessage:
                break
            else:
                raise h11.RemoteProtocolError(f"unexpected {kind.__name__} in the response body")
        body = b"".join(parts)
        reusable = conn.our_state is h11.DONE and conn.their_state is h11.DONE
        if reusable:
            conn.start_next_cycle()
        return RawResponse(status, reason, response_headers, body), reusable

    def _head(
        self,
        method: bytes,
        target: bytes,
        host: bytes,
        headers: tuple[tuple[str, HeaderValue], ...],
        content: bytes | None,
    ) -> bytes:
        """The request head, with a small body and the end of message; a big body is left for the
        caller to send. Secrets are revealed in this frame, which returns before any I/O."""
        conn = self._h11
        data = conn.send(h11.Request(method=method, target=target, headers=encode_headers(host, headers, content)))
        if content is not None and len(content) > _SMALL_BODY:
            return data
        if content:
            data += conn.send(h11.Data(data=content))
        return data + conn.send(h11.EndOfMessage())

    async def _receive(self) -> None:
        data = await self._stream.receive(READ_SIZE)
        self.received += len(data)
        self._h11.receive_data(data)

    async def aclose(self) -> None:
        """Close at once, without waiting on the peer; safe to call while cancelled."""
        await self._stream.aclose()
