"""Transports: the default pool, any httpx transport, and aiohttp (the ``speed`` extra)."""

from __future__ import annotations

from .base import HttpxTransport, OutgoingRequest, RawResponse, Transport, TransportStats
from .pool import PoolTransport
from .select import ENV_TRANSPORT, make_transport

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
