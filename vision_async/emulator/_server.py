"""Serving the emulator over HTTP on loopback with uvicorn: in the foreground, or in a thread."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType

import uvicorn

from ._emulator import DroppedConnection, Emulator

__all__ = ["EmulatorServer", "serve"]


class _HideInjectedDrops(logging.Filter):
    """uvicorn logs an app exception with a traceback; an injected drop is not worth one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


logging.getLogger("uvicorn.error").addFilter(_HideInjectedDrops())


def _config(emulator: Emulator, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        emulator,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
    )


def serve(emulator: Emulator, *, host: str = "127.0.0.1", port: int = 5000, log_level: str = "info") -> None:
    """Serve until interrupted (the ``vision-async emulator`` command)."""
    uvicorn.Server(_config(emulator, host, port, log_level)).run()


class EmulatorServer:
    """The emulator on a free loopback port, in a background thread, for tests and benchmarks.

    ``with EmulatorServer() as server: VisionClient(server.url, "any-key")``
    """

    def __init__(self, emulator: Emulator | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator if emulator is not None else Emulator()
        self.host = host
        self._server = uvicorn.Server(_config(self.emulator, host, port, "warning"))
        self._thread: threading.Thread | None = None
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        self._thread = threading.Thread(target=self._server.run, name="vision-async-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator server did not start")
            time.sleep(0.005)
        sockets = self._server.servers[0].sockets
        self.port = int(sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
