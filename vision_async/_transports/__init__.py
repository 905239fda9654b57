"""Transports: the default pool, any httpx transport, and aiohttp (the ``speed`` extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import OutgoingRequest, RawResponse, Transport, TransportStats
from .factory import ENV_TRANSPORT, make_transport
from .httpx_transport import HttpxTransport

if TYPE_CHECKING:
    from .pool import PoolTransport

__all__ = [
    "ENV_TRANSPORT",
    "HttpxTransport",
    "OutgoingRequest",
    "PoolTransport",
    "RawResponse",
    "Transport",
    "TransportStats",
    "make_transport",
]


def __getattr__(name: str) -> object:
    # The pool (h11, asyncio's streams) is imported when the first client makes one.
    if name == "PoolTransport":
        from .pool import PoolTransport

        return PoolTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
