"""A hostile HTTP/1.1 server on a real loopback socket, for what an ASGI app cannot express.

It runs its own asyncio loop in a thread, so the client under test may run on asyncio or trio.
Each request it receives is answered by the next :data:`Fault` of its script (the last one
repeats): a normal answer, a reset before or after the headers, a hang, a slow drip, a body cut
short or longer than announced, a redirect, an echo of the request headers, and so on. It counts
connections and requests, so that tests can assert how often a client tried.

    with HostileServer(reset_before_headers(), ok()) as server:
        client = VisionClient(server.url, KEY, ...)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

__all__ = ["Connection", "Fault", "HostileServer", "ReceivedRequest", "refused_url"]

TAG_BODY: dict[str, Any] = {
    "tags": [{"name": "grass", "confidence": 0.99}],
    "requestId": "req-hostile",
    "metadata": {"width": 64, "height": 64, "format": "Png"},
    "modelVersion": "2021-04-01",
}


@dataclass(slots=True)
class ReceivedRequest:
    """One request as the server read it off the wire."""

    method: str
    path: str
    headers: dict[str, str]
    head: bytes
    body: bytes
    connection: int


@dataclass(slots=True)
class Connection:
    """The server side of one TCP connection."""

    number: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    keep_alive: bool = True

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def respond(
        self,
        status: int,
        body: bytes | str | dict[str, Any] = b"",
        *,
        reason: str = "",
        headers: dict[str, str] | None = None,
        content_length: int | None = None,
        send_body: bytes | None = None,
    ) -> None:
        """Write a whole answer; ``content_length`` may lie, ``send_body`` overrides what is sent."""
        if isinstance(body, dict):
            body = json.dumps(body)
            headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        data = body.encode() if isinstance(body, str) else body
        all_headers = {"Content-Length": str(len(data) if content_length is None else content_length)}
        all_headers.update(headers or {})
        head = f"HTTP/1.1 {status} {reason or _REASONS.get(status, 'Whatever')}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in all_headers.items()) + "\r\n"
        await self.send(head.encode("latin-1") + (data if send_body is None else send_body))

    def reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0)."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()
        self.keep_alive = False

    async def close(self) -> None:
        """Close cleanly (FIN), without a word."""
        self.keep_alive = False
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


#: A fault: how one request is answered (or not).
Fault = Callable[[Connection, ReceivedRequest], Awaitable[None]]

_REASONS = {
    200: "OK",
    302: "Found",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class HostileServer:
    """A raw HTTP/1.1 server on 127.0.0.1 that answers each request with the next fault."""

    def __init__(self, *script: Fault) -> None:
        self._script: list[Fault] = list(script) or [ok()]
        self._index = 0
        self.requests: list[ReceivedRequest] = []
        self.connections = 0
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *faults: Fault) -> None:
        """Answer the next requests with ``faults`` (the last one repeats)."""
        with self._lock:
            self._script = list(faults)
            self._index = 0

    def wait_until_open(self, count: int, *, within: float = 5.0) -> int:
        """Wait (real time: the client's sockets close at their own pace) until at most ``count``
        client connections are open on the server side; returns how many are open."""
        deadline = time.monotonic() + within
        while True:
            open_now = len(self._tasks)  # one task per open connection
            if open_now <= count or time.monotonic() >= deadline:
                return open_now
            time.sleep(0.005)

    def _next_fault(self) -> Fault:
        with self._lock:
            fault = self._script[min(self._index, len(self._script) - 1)]
            self._index += 1
            return fault

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> HostileServer:
        self._thread = threading.Thread(target=self._run, name="hostile-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("the hostile server did not start")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._connected, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
            server.close()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=2)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        with self._lock:
            self.connections += 1
            number = self.connections
        conn = Connection(number, reader, writer)
        try:
            while conn.keep_alive:
                request = await _read_request(reader, number)
                if request is None:
                    break
                with self._lock:
                    self.requests.append(request)
                await self._next_fault()(conn, request)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        except asyncio.CancelledError:
            pass  # the server is stopping; this task ends here, quietly (it is nobody's child)
        finally:
            self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()


async def _read_request(reader: asyncio.StreamReader, connection: int) -> ReceivedRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body = await reader.readexactly(length) if length else b""
    return ReceivedRequest(method, path, headers, head, body, connection)


def refused_url() -> str:
    """A loopback URL on which nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- faults --------------------------------------------------------------------------------------

_FOREVER = 3600.0


def ok(body: dict[str, Any] | None = None, *, headers: dict[str, str] | None = None) -> Fault:
    """A normal 200 JSON answer (a tag result by default), connection kept alive."""

    async def fault(conn: Connection, request: ReceivedRequest) -> None:
        await conn.respond(200, body if body is not None else TAG_BODY, headers=headers)

    return fault


def status(code: int, body: bytes | str | dict[str, Any] = b"", *, headers: dict[str, str] | None = None) -> Fault:
    """An answer with any status, body and headers."""

    async def fault(conn: Connection, request: ReceivedRequest) -> None:
        await conn.respond(code, body, headers=headers)

    return fault


def azure_error(code: int, outer: str, inner: str | None = None, *, headers: dict[str, str] | None = None) -> Fault:
    """An error in the v3.2 shape ``{"error": {"code", "message", "innererror"}}``."""
    error: dict[str, Any] = {"code": outer, "message": f"{outer} happened"}
    if inner is not None:
        error["innererror"] = {"code": inner, "message": f"inner {inner}"}
    return status(code, {"error": error, "requestId": "req-err"}, headers=headers)


def reset_before_headers() -> Fault:
    """Read the request, then reset the connection without a byte of answer."""

    async def fault(conn: Connection, request: ReceivedRequest) -> None:
        conn.reset()

    return fault


def reset_mid_body() -> Fault:
    """Send the headers and part of the body, then reset."""

    async def fault(conn: Connection, request: ReceivedRequest) -> None:
        await conn.respond(200, json.dumps(TAG_BODY), send_body=json.dumps(TAG_BODY).encode()[:20])
        await asyncio.sleep(0.005)
        conn.reset()

    return fault


def hang_headers() -> Fault:
    """Read the request and never answer."""

    async def fault(conn: Connection, request: ReceivedRequest) -> None:
        await asyncio.sleep(_FOREVER)

    return fault


def stall_body() -> Fault:
    """Send the headers and part of the body, then nothing more (the connection stays open)."""

    async def fault(conn: Connection, request: ReceivedRequest) -> None:
        await conn.respond(200, json.dumps(TAG_BODY), send_body=json.dumps(TAG_BODY).encode()[:20])
        await asyncio.sleep(_FOREVER)

    return fault


def drip(interval: float = 0.005) -> Fault:
    """Slowloris: the answer one byte at a time, ``interval`` seconds apart, padded to last."""

    async def fault(conn: Connection, request: ReceivedRequest) -> None:
        body = json.dumps(TAG_BODY) + " " * 100_000
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        for byte in (head + body).encode():
            await conn.send(bytes([byte]))
            await asyncio.sleep(interval)

    return fault


def truncate() -> Fault:
    """Announce the whole body, send part of it, and close cleanly (FIN)."""

    async def fault(conn: Connection, request: ReceivedRequest) -> None:
        await conn.respond(200, json.dumps(TAG_BODY), send_body=json.dumps(TAG_BODY).encode()[:20])
        await conn.close()

    return fault


def length_lie(declared: int = 20) -> Fault:
    """Announce a Content-Length shorter than the body that follows (the rest poisons the
    connection), then close."""

    async def fault(conn: Connection, request: ReceivedRequest) -> None:
        await conn.respond(200, json.dumps(TAG_BODY), content_length=declared)
        await conn.close()

    return fault


def non_json_200() -> Fault:
    """A 200 whose body is an HTML page."""
    return status(200, "<html><body>Welcome to nginx!</body></html>", headers={"Content-Type": "text/html"})


def html_5xx(code: int = 502) -> Fault:
    """A gateway's HTML error page."""
    page = f"<html><head><title>{code}</title></head><body><h1>{code} Bad Gateway</h1><hr>nginx</body></html>"
    return status(code, page, headers={"Content-Type": "text/html"})


def rate_limited(headers: dict[str, str] | None = None, body: str | None = None) -> Fault:
    """A 429 with the given Retry-After headers and/or body text."""
    message = body if body is not None else "Rate limit is exceeded."
    return status(429, {"error": {"code": "429", "message": message}}, headers=headers)


def redirect(location: str, code: int = 302) -> Fault:
    """A redirect elsewhere."""
    return status(code, b"", headers={"Location": location})


def reflect(code: int = 500, *, html: bool = True) -> Fault:
    """An error page that echoes the request head, headers included (a careless gateway); the JSON
    form also sends the credential back as the request id header."""

    async def fault(conn: Connection, request: ReceivedRequest) -> None:
        echo = request.head.decode("latin-1")
        if html:
            await conn.respond(code, f"<html><body><pre>{echo}</pre></body></html>", headers={"X-Echo": "1"})
        else:
            error = {"error": {"code": "InvalidRequest", "message": f"bad request: {echo}"}}
            secret = request.headers.get("authorization") or request.headers.get("ocp-apim-subscription-key", "r")
            await conn.respond(code, error, headers={"apim-request-id": secret})

    return fault


def ok_then_close(delay: float = 0.0) -> Fault:
    """A normal answer, then the connection is closed silently (keep-alive expired server-side)."""

    async def fault(conn: Connection, request: ReceivedRequest) -> None:
        await conn.respond(200, TAG_BODY)
        if delay:
            await asyncio.sleep(delay)
        await conn.close()

    return fault
