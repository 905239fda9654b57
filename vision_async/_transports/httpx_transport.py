"""Any httpx transport behind the vision_async transport protocol, and httpx's own pool."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from .base import OutgoingRequest, RawResponse, ResponseHeaders, TransportStats, reveal
from .body import declared_length, read_capped
from .boundary import send_failure

if TYPE_CHECKING:  # httpx and ssl are imported only by the code that uses them: `import vision_async` stays light
    import ssl

    import httpx

__all__ = ["HttpxTransport", "default_transport"]


def default_transport(*, max_connections: int, verify: ssl.SSLContext | bool = True) -> httpx.AsyncHTTPTransport:
    """httpx's own pooled transport (``transport="httpx"``)."""
    import httpx

    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.AsyncHTTPTransport(limits=limits, verify=verify, retries=0)


def _httpx_request(request: OutgoingRequest) -> httpx.Request:
    # Secrets are revealed here, in a frame that has returned before anything is sent.
    import httpx  # loaded already: the transport being wrapped is an httpx one

    timeout = request.timeout
    extensions = (
        {"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}}
        if timeout is not None
        else {}
    )
    return httpx.Request(
        request.method,
        request.url,
        headers=[(name, reveal(value)) for name, value in request.headers],
        content=request.content,
        extensions=extensions,
    )


class HttpxTransport:
    """Sends requests through an ``httpx.AsyncBaseTransport`` and reads the answer up to its cap."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport

    @property
    def wrapped(self) -> httpx.AsyncBaseTransport:
        return self._transport

    async def send(self, request: OutgoingRequest) -> RawResponse:
        """Send ``request`` and read its body; ``request.timeout`` bounds the whole exchange."""
        try:
            with anyio.fail_after(request.timeout):
                return await self._exchange(request)
        except Exception as exc:
            error = send_failure(exc, request)
            if error is exc:
                raise
            raise error from exc

    async def _exchange(self, request: OutgoingRequest) -> RawResponse:
        response = await self._transport.handle_async_request(_httpx_request(request))
        try:
            content = await read_capped(
                response.aiter_bytes(),
                status=response.status_code,
                declared=declared_length(response.headers.get("content-length")),
                limit=request.max_body,
            )
        finally:
            await response.aclose()
        headers = ResponseHeaders(response.headers.multi_items())
        return RawResponse(response.status_code, response.reason_phrase, headers, content)

    def stats(self) -> TransportStats:
        """Connection counts when the wrapped transport is httpx's own pool, else zeros."""
        pool = getattr(self._transport, "_pool", None)
        connections = getattr(pool, "connections", None)
        if not isinstance(connections, list):
            return TransportStats(0, 0, 0, 0)
        idle = sum(1 for connection in connections if connection.is_idle())
        return TransportStats(len(connections), idle, 0, 0)

    async def aclose(self) -> None:
        """Close the wrapped transport (a user's own comes wrapped in ``Borrowed``, never closed)."""
        await self._transport.aclose()
