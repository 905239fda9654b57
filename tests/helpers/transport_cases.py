"""Helpers shared by the transport tests (no tests here): requests with a secret header, the
transports under test, and raw-socket faults beyond tests/hostile_server.py's."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anyio
import pytest

from tests.helpers.hostile_server import TAG_BODY, Connection, Fault, ReceivedRequest
from vision_async._transports.base import OutgoingRequest, Transport
from vision_async._transports.pool import PoolTransport

KEY = "k3y-that-must-never-leak-0123456789"
TAG_JSON = json.dumps(TAG_BODY).encode()


class Secret:
    """A secret header value, as the pipeline hands it over."""

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"


def tag_request(
    base: str, *, timeout: float | None = 5.0, max_body: int | None = 1 << 20, content: bytes | None = None
) -> OutgoingRequest:
    """POST /vision/v3.2/tag with the key as a secret header."""
    return OutgoingRequest(
        "POST",
        base + "/vision/v3.2/tag?language=en",
        (
            ("Accept", "application/json"),
            ("Content-Type", "application/json"),
            ("Ocp-Apim-Subscription-Key", Secret(KEY)),
        ),
        content if content is not None else b'{"url":"https://example.com/cat.jpg"}',
        timeout,
        max_body,
    )


def make(kind: str, **options: Any) -> Transport:
    """A transport of ``kind`` ("pool" or "aiohttp")."""
    if kind == "pool":
        return PoolTransport(**options)
    from vision_async._transports.aiohttp import AiohttpTransport

    options.pop("keepalive_expiry", None)
    return AiohttpTransport(**options)


def kinds_for(backend: str) -> list[str]:
    return ["pool", "aiohttp"] if backend == "asyncio" else ["pool"]


#: Every (backend, transport) pair that can run, as one parametrization: a failure names both
#: (aiohttp runs on asyncio only). Overrides the ``anyio_backend`` fixture's own parameters.
BACKEND_KINDS = pytest.mark.parametrize(
    ("anyio_backend", "kind"),
    [(backend, kind) for backend in ("asyncio", "trio") for kind in kinds_for(backend)],
    ids=lambda value: str(value),
)


# -- more faults ------------------------------------------------------------------------------------


def close_on_reuse() -> Fault:
    """Answer the first request of each connection; on the next one, read it and close without
    a word (a keep-alive connection the server had already given up on)."""
    served: set[int] = set()

    async def fault(conn: Connection, request: ReceivedRequest) -> None:
        if request.connection in served:
            await conn.close()
            return
        served.add(request.connection)
        await conn.respond(200, TAG_BODY)

    return fault


def huge_body(size: int, *, declare: bool, code: int = 200) -> Fault:
    """``size`` bytes of JSON-ish padding, with a Content-Length or chunked, sent as fast as the
    client reads (one 64 KiB buffer reused: the server itself allocates next to nothing)."""
    block = b" " * 65536

    async def fault(conn: Connection, request: ReceivedRequest) -> None:
        framing = f"Content-Length: {size}" if declare else "Transfer-Encoding: chunked"
        await conn.send(f"HTTP/1.1 {code} X\r\nContent-Type: application/json\r\n{framing}\r\n\r\n".encode())
        sent = 0
        chunk_head = f"{len(block):x}\r\n".encode()
        try:
            while sent < size:
                if declare:
                    await conn.send(block)
                else:
                    conn.writer.write(chunk_head)
                    conn.writer.write(block)
                    await conn.send(b"\r\n")
                sent += len(block)
            if not declare:
                await conn.send(b"0\r\n\r\n")
        except (ConnectionError, OSError):
            pass
        await conn.close()

    return fault


def slow_ok(delay: float = 0.01) -> Fault:
    """A normal answer after ``delay`` seconds (so that requests overlap)."""

    async def fault(conn: Connection, request: ReceivedRequest) -> None:
        await asyncio.sleep(delay)
        await conn.respond(200, TAG_BODY)

    return fault


async def gather(*calls: Any) -> list[Any]:
    """Run coroutine functions concurrently; results (or exceptions) in order."""
    results: list[Any] = [None] * len(calls)

    async def run(index: int, call: Any) -> None:
        try:
            results[index] = await call()
        except Exception as exc:
            results[index] = exc

    async with anyio.create_task_group() as tg:
        for index, call in enumerate(calls):
            tg.start_soon(run, index, call)
    return results
