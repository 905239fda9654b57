"""The network seam: one request out, one fully read (and capped) response in.

The pipeline hands a transport an :class:`OutgoingRequest` (method, absolute URL, headers, body,
the attempt's timeout and a cap on the response body) and gets a :class:`RawResponse` back, or a
:class:`~vision_async.VisionError`. Secret header values travel as objects with a redacted repr
and a ``reveal()`` method; a transport reveals them only while writing them to the wire.

Transports:

- :class:`~vision_async._transports.pool.PoolTransport`: the default, a lean HTTP/1.1 pool on
  h11 and anyio (asyncio and trio).
- :class:`~vision_async._transports.httpx_transport.HttpxTransport`: wraps any
  ``httpx.AsyncBaseTransport`` (a user's own, ``httpx.MockTransport``, respx, the in-process emulator).
- :class:`~vision_async._transports.aiohttp.AiohttpTransport`: the ``speed`` extra (asyncio only).

The rest of this package, one concept a module: ``boundary`` (foreign exceptions become
vision_async exceptions, at the one boundary every transport's ``send`` ends in), ``body`` (the
response-body cap, one rule for every transport), ``factory`` (choosing a transport), ``pool``,
``connection`` and ``streams`` (the default pool), ``httpx_transport``, ``aiohttp``, and the proxy
and TLS modules (``proxy``, ``tunnel``, ``tls``, ``httpx_proxy``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote, urlsplit

from .._errors import ClientClosedError

__all__ = [
    "Borrowed",
    "closed_error",
    "HeaderValue",
    "OutgoingRequest",
    "RawResponse",
    "ResponseHeaders",
    "Revealable",
    "Transport",
    "TransportStats",
    "reveal",
]


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


def closed_error() -> ClientClosedError:
    """What a closed transport raises (and what a request raises whose transport closed under it)."""
    return ClientClosedError("the transport is closed")


class Borrowed:
    """A transport the user made: used, never closed by the client (the one way to say "not owned")."""

    __slots__ = ("_transport",)

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    @property
    def wrapped(self) -> Transport:
        return self._transport

    async def send(self, request: OutgoingRequest) -> RawResponse:
        return await self._transport.send(request)

    def stats(self) -> TransportStats:
        return self._transport.stats()

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"{self._transport!r} (not owned)"
