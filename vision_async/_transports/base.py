"""The network seam: one request out, one fully read (and capped) response in.

The pipeline hands a transport an :class:`OutgoingRequest` (method, absolute URL, headers, body,
the attempt's timeout and a cap on the response body) and gets a :class:`RawResponse` back, or a
:class:`~vision_async.VisionError`. Secret header values travel as objects with a redacted repr
and a ``reveal()`` method; a transport reveals them only while writing them to the wire.

Transports:

- :class:`~vision_async._transports.pool.PoolTransport`: the default, a lean HTTP/1.1 pool on
  h11 and anyio (asyncio and trio).
- :class:`HttpxTransport`: wraps any ``httpx.AsyncBaseTransport`` (a user's own,
  ``httpx.MockTransport``, respx, the in-process emulator).
- :class:`~vision_async._transports.aiohttp.AiohttpTransport`: the ``speed`` extra (asyncio only).

:func:`~.foreign.translate_exception` is the one place where foreign exceptions (httpx, httpcore, h11,
aiohttp, anyio, OSError) become vision_async exceptions; every transport raises its result with
``raise ... from exc`` after :func:`scrub_traceback` has cleared the foreign frames' locals.
"""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlsplit

import anyio

if TYPE_CHECKING:  # httpx and ssl are imported only by the code that uses them: `import vision_async` stays light
    import ssl

    import httpx

from .._errors import (
    APITimeoutError,
    ClientClosedError,
    ResponseTooLargeError,
    VisionError,
    redact_error,
)
from .._secrets import Redactor
from .foreign import describe, translate_exception

__all__ = [
    "ERROR_BODY_CAP",
    "HeaderValue",
    "HttpxTransport",
    "OutgoingRequest",
    "RawResponse",
    "ResponseHeaders",
    "Revealable",
    "Transport",
    "TransportStats",
    "default_transport",
    "describe",
    "read_capped",
    "reveal",
    "send_failure",
    "scrub_traceback",
    "translate_exception",
    "translate_failure",
]

#: At most this much of a non-2xx body is read (enough for any error JSON or gateway page).
ERROR_BODY_CAP = 64 * 1024


class Revealable(Protocol):
    """A secret header value: its repr is redacted; ``reveal()`` gives the wire value."""

    def reveal(self) -> str: ...


HeaderValue = str | Revealable


def reveal(value: HeaderValue) -> str:
    return value if isinstance(value, str) else value.reveal()


@dataclass(slots=True)
class OutgoingRequest:
    """Everything a transport needs to send one attempt."""

    method: str
    url: str  # absolute, query string already encoded
    headers: tuple[tuple[str, HeaderValue], ...]
    content: bytes | None
    timeout: float | None  # bounds the whole exchange: pool wait, connect, send, wait, read
    max_body: int | None  # the response body may not be larger (None: no cap)

    def __repr__(self) -> str:  # never show header values or the body
        return f"OutgoingRequest({self.method} {self.url.split('?', 1)[0]})"

    @property
    def what(self) -> str:
        """``METHOD /path`` for messages."""
        return f"{self.method} {unquote(urlsplit(self.url).path)}"


class ResponseHeaders(Mapping[str, str]):
    """Response headers, looked up case-insensitively; repeated headers are joined with ", "."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        merged: dict[str, str] = {}
        for name, value in items:
            key = name.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        self._items = merged

    @classmethod
    def from_lowercase_bytes(cls, items: Iterable[tuple[bytes, bytes]]) -> ResponseHeaders:
        """From h11's already lower-cased ``(name, value)`` byte pairs."""
        self = cls.__new__(cls)
        merged: dict[str, str] = {}
        for raw_name, raw_value in items:
            name = raw_name.decode("latin-1")
            value = raw_value.decode("latin-1")
            merged[name] = f"{merged[name]}, {value}" if name in merged else value
        self._items = merged
        return self

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return self._items.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"ResponseHeaders({self._items!r})"


@dataclass(slots=True)
class RawResponse:
    """A fully read response. ``headers`` looks names up case-insensitively."""

    status_code: int
    reason: str
    headers: Mapping[str, str]
    content: bytes

    def __repr__(self) -> str:  # the body and headers may echo a secret back: never show them
        return f"RawResponse({self.status_code}, {len(self.content)} bytes)"


@dataclass(frozen=True, slots=True)
class TransportStats:
    """A snapshot of a transport's connections (zeros where a wrapped transport cannot tell)."""

    open_connections: int  # connections open now, busy or idle
    idle_connections: int  # of which idle in the pool
    connections_opened: int  # since the transport was made
    stale_resends: int  # requests resent at once because a reused connection had been closed by the server


class Transport(Protocol):
    """What the pipeline sends through."""

    async def send(self, request: OutgoingRequest) -> RawResponse: ...

    async def aclose(self) -> None: ...

    def stats(self) -> TransportStats: ...


def default_transport(
    *, max_connections: int, verify: ssl.SSLContext | bool = True, http2: bool = False
) -> httpx.AsyncHTTPTransport:
    """httpx's own pooled transport (kept for callers that want httpcore's pool or HTTP/2)."""
    import httpx

    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.AsyncHTTPTransport(limits=limits, verify=verify, http2=http2, retries=0)


# -- the one boundary (what is foreign is recognised in .foreign) --------------------------------


def scrub_traceback(exc: BaseException) -> None:
    """Clear the locals of every finished frame on ``exc``'s traceback (and its causes').

    A foreign exception raised while a request was written has the wire headers (the key or
    token) in the locals of library frames; a locals-capturing renderer (Sentry, rich) would
    show them under the VisionError that chains to it.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__


def translate_failure(exc: Exception, request: OutgoingRequest, *, closed: bool = False) -> VisionError | None:
    """What a transport raises (``from exc``) for ``exc``, or ``None`` to let ``exc`` through.

    ClientClosedError when the transport was closed under the request; else the translated
    error, with the request's own secrets redacted from its message (a server or proxy may echo
    them into the text that the foreign exception quotes), and ``exc``'s frames scrubbed.
    """
    mapped = ClientClosedError("the transport was closed") if closed else translate_exception(exc, what=request.what)
    if mapped is None:
        return None
    scrub_traceback(exc)
    secrets = [value.reveal() for _, value in request.headers if not isinstance(value, str)]
    if secrets:
        redact = Redactor(secrets)
        for error in [mapped, *_chain(exc)]:
            redact_error(error, redact)
    return mapped


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def send_failure(exc: Exception, request: OutgoingRequest, *, closed: bool = False) -> Exception:
    """The one boundary every transport's ``send`` ends in: what to raise for ``exc``.

    The attempt timeout (a ``TimeoutError`` from the transport's own deadline) becomes
    :class:`APITimeoutError`; a VisionError stays itself; a foreign networking error is translated
    (:func:`translate_failure`); anything else is ``exc`` itself (a bug is not disguised).
    The caller raises the result ``from exc`` unless it is ``exc``.
    """
    if isinstance(exc, TimeoutError):
        scrub_traceback(exc)
        return timeout_error(request)
    if isinstance(exc, VisionError):
        return exc
    mapped = translate_failure(exc, request, closed=closed)
    return exc if mapped is None else mapped


def timeout_error(request: OutgoingRequest) -> APITimeoutError:
    return APITimeoutError(f"{request.what}: no complete answer within the attempt timeout of {request.timeout}s")


def too_large(declared: int | None, limit: int) -> ResponseTooLargeError:
    if declared is not None:
        return ResponseTooLargeError(
            f"the response declares {declared} bytes, above the cap of {limit} bytes", limit=limit
        )
    return ResponseTooLargeError(f"the response grew past the cap of {limit} bytes; reading stopped", limit=limit)


def declared_length(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else None


async def read_capped(chunks: AsyncIterable[bytes], *, status: int, declared: int | None, limit: int | None) -> bytes:
    """Read a body from ``chunks``, never holding much more than the cap.

    A 2xx body larger than ``limit`` raises :class:`ResponseTooLargeError` (before reading, when
    the length is declared). Any other body is cut at :data:`ERROR_BODY_CAP` (or ``limit``, if
    smaller) without an error: the caller still builds the status error from what was read.
    """
    success = 200 <= status < 300
    cap = limit if success else min(limit, ERROR_BODY_CAP) if limit is not None else ERROR_BODY_CAP
    if success and cap is not None and declared is not None and declared > cap:
        raise too_large(declared, cap)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if cap is not None and size > cap:
            if success:
                raise too_large(None, cap)
            parts.append(chunk[: len(chunk) - (size - cap)])
            break
        parts.append(chunk)
    return b"".join(parts)


# -- any httpx transport --------------------------------------------------------------------


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

    def __init__(self, transport: httpx.AsyncBaseTransport, *, owned: bool) -> None:
        self._transport = transport
        self._owned = owned

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
        """Close the transport if this client made it; never a transport it was given."""
        if self._owned:
            await self._transport.aclose()
