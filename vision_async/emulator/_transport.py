"""The emulator in process, as an httpx transport: no sockets, same wire protocol."""

from __future__ import annotations

import httpx

from ._emulator import DroppedConnection, Emulator

__all__ = ["EmulatorTransport"]


class EmulatorTransport(httpx.AsyncBaseTransport):
    """Sends requests straight into an :class:`Emulator`.

    A dropped connection (fault injection) surfaces as ``httpx.RemoteProtocolError``, as it
    would from a real socket; a hung response hangs until the caller's timeout cancels it.
    """

    def __init__(self, emulator: Emulator | None = None) -> None:
        self.emulator = emulator if emulator is not None else Emulator()
        self._asgi = httpx.ASGITransport(app=self.emulator)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._asgi.handle_async_request(request)
        except DroppedConnection as exc:
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body") from exc

    async def aclose(self) -> None:
        await self._asgi.aclose()
