"""What differs between asyncio and trio, in one place (as anyio keeps its ``_backends``).

Everything else in the package is written against anyio. The few spots that pick a cheaper
backend-specific path (asyncio's own timeout in the default pool, trio's own cancel scope per call,
the lean asyncio stream of the default pool) ask here which backend is running; the private stdlib call that makes
that question free of exceptions (``asyncio._get_running_loop``) lives here alone.

Neither backend is imported here: a backend that is running has been imported already, so
``sys.modules`` is asked instead (``import vision_async`` stays light, and trio stays optional).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypeGuard

import anyio

if TYPE_CHECKING:
    import asyncio

__all__ = ["asyncio_loop", "call_cancel_scope", "current_loop", "is_asyncio", "trio_running"]

AIOHTTP_TRIO_MESSAGE = (
    "the aiohttp transport runs on asyncio only; under trio use the default transport (transport=None)"
)


def asyncio_loop() -> Any:
    """The running asyncio event loop, or ``None`` (under trio, or outside any loop).

    ``asyncio._get_running_loop`` is the exception-free form of ``get_running_loop``: on the hot
    path a raised and caught ``RuntimeError`` per call under trio would cost more than the call.
    """
    module = sys.modules.get("asyncio")
    return None if module is None else module._get_running_loop()


def trio_running() -> bool:
    """True inside ``trio.run`` (whether or not anyio started it)."""
    trio = sys.modules.get("trio")
    if trio is None:
        return False
    try:
        trio.lowlevel.current_trio_token()
    except RuntimeError:
        return False
    return True


def current_loop() -> object:
    """The running event loop's identity: the asyncio loop, else trio's token.

    Connections and semaphores belong to one loop; comparing this with the one they were made in
    tells a pool that it is used by a new loop (``asyncio.run`` twice with one client).
    """
    loop = asyncio_loop()
    if loop is not None:
        return loop
    import trio

    return trio.lowlevel.current_trio_token()


def is_asyncio(loop: object) -> TypeGuard[asyncio.AbstractEventLoop]:
    """True if ``loop`` (from :func:`current_loop`) is an asyncio event loop."""
    module = sys.modules.get("asyncio")
    return module is not None and isinstance(loop, module.AbstractEventLoop)


def call_cancel_scope() -> Any:
    """A cancel scope for one call: anyio's on asyncio, trio's own under trio (cheaper there)."""
    if asyncio_loop() is not None:
        return anyio.CancelScope()
    trio = sys.modules.get("trio")
    return trio.CancelScope() if trio is not None else anyio.CancelScope()
