"""The network seam: one request out through an ``httpx.AsyncBaseTransport``, one response in.

``httpx.AsyncClient`` is deliberately not used: its per-request overhead (cookie jar, event hooks,
redirect machinery, a pool scan per request) is the bottleneck under concurrency. Requests are
built by the caller and handed straight to a transport, which stays the one seam for networking:
a user's own transport, ``httpx.MockTransport``, respx, or the in-process emulator.

This is the one place where foreign exceptions (httpx, httpcore, anyio, OSError) become
vision_async exceptions, each with ``raise ... from exc``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import anyio
import httpx

from .._errors import APIConnectionError, APITimeoutError, ResponseValidationError, VisionError

__all__ = ["RawResponse", "Transport", "default_transport", "translate_exception"]

# Exceptions from these packages are networking failures, whatever their class.
_NETWORK_MODULES = frozenset({"httpx", "httpcore", "h11", "h2"})


@dataclass(slots=True)
class RawResponse:
    """A fully read response."""

    status_code: int
    reason: str
    headers: httpx.Headers
    content: bytes


def default_transport(
    *, max_connections: int, verify: ssl.SSLContext | bool = True, http2: bool = False
) -> httpx.AsyncHTTPTransport:
    """The transport a client makes (and closes) when it is given none."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.AsyncHTTPTransport(limits=limits, verify=verify, http2=http2, retries=0)


def translate_exception(exc: BaseException, *, what: str) -> VisionError | None:
    """The vision_async exception for a foreign one raised while sending, or ``None``.

    ``None`` means "not a networking failure": the original exception propagates untouched
    (a bug in a user's transport should not be disguised as a connection error).
    """
    if isinstance(exc, VisionError):
        return exc
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return APITimeoutError(f"{what}: timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.DecodingError):
        return ResponseValidationError(f"{what}: the response body could not be decoded ({exc})")
    if (
        isinstance(exc, anyio.BrokenResourceError | anyio.ClosedResourceError | anyio.EndOfStream | OSError)
        or type(exc).__module__.split(".")[0] in _NETWORK_MODULES
    ):
        return APIConnectionError(f"{what}: {type(exc).__name__}: {exc}")
    return None


class Transport:
    """Sends requests through an ``httpx.AsyncBaseTransport`` and reads the whole answer."""

    def __init__(self, transport: httpx.AsyncBaseTransport, *, owned: bool) -> None:
        self._transport = transport
        self._owned = owned

    async def send(self, request: httpx.Request, *, timeout: float | None) -> RawResponse:
        """Send ``request`` and read its body; ``timeout`` bounds the whole exchange."""
        what = f"{request.method} {request.url.path}"
        try:
            with anyio.fail_after(timeout):
                response = await self._transport.handle_async_request(request)
                try:
                    content = await response.aread()
                finally:
                    await response.aclose()
        except TimeoutError as exc:  # our own fail_after: the attempt timeout
            raise APITimeoutError(f"{what}: no complete answer within the attempt timeout of {timeout}s") from exc
        except Exception as exc:
            mapped = translate_exception(exc, what=what)
            if mapped is None:
                raise
            raise mapped from exc
        return RawResponse(response.status_code, response.reason_phrase, response.headers, content)

    async def aclose(self) -> None:
        """Close the transport if this client made it; never a transport it was given."""
        if self._owned:
            await self._transport.aclose()
