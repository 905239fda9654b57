"""Helpers of the Redis tests (no tests here): a redis-server to talk to, key prefixes, a worker process.

The tests use the Redis at 127.0.0.1:6379 when it answers, else a ``redis-server`` started from
the binary on a free port; tests that stop Redis always start their own. Without any redis-server
binary they are skipped with :data:`SKIP_REASON`.

:class:`Workers` starts the worker processes of the multi-process tests: each says ``ready``,
waits for the go, sends ``tag`` calls as fast as its client allows for the given seconds, and
reports what it saw.
"""

from __future__ import annotations

import multiprocessing
import shutil
import socket
import subprocess
import time
import uuid
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import redis

REDIS_SERVER = shutil.which("redis-server")
SKIP_REASON = (
    "no redis-server binary on this machine, and nothing answers on 127.0.0.1:6379: install Redis "
    "(apt-get install redis-server, brew install redis) to run the Redis tests"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


class RedisServer:
    """A redis-server of the test's own on 127.0.0.1, without persistence; can be stopped and restarted."""

    def __init__(self, port: int | None = None) -> None:
        if REDIS_SERVER is None:
            raise RuntimeError(SKIP_REASON)
        self.port = port if port is not None else free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        assert REDIS_SERVER is not None
        self._process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10.0
        while not answers(self.url):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def unique_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}:"


def delete_prefix(url: str, prefix: str) -> None:
    """Delete every key the test made (they all start with ``{prefix``)."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{{{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def keys_of(url: str, prefix: str) -> list[str]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        return sorted(client.scan_iter(match=f"{{{prefix}*", count=1000))
    finally:
        client.close()


class Workers:
    """Worker processes forked from a forkserver that has vision_async imported (they start at once)."""

    def __init__(self, count: int, *args: object) -> None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["vision_async", "vision_async.redis", "httpx", "anyio", "redis"])
        self._go = context.Event()
        self._processes: list[tuple[BaseProcess, Connection]] = []
        for _ in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=_worker_entry, args=(child, self._go, *args), daemon=True)
            process.start()
            self._processes.append((process, parent))
        for _, conn in self._processes:
            assert conn.poll(60), "a worker did not start"
            assert conn.recv() == "ready"

    def go(self) -> None:
        """Let every worker start sending, at once."""
        self._go.set()

    def reports(self) -> list[dict[str, Any]]:
        """Wait for each worker's report (and its exit)."""
        self._go.set()
        reports = []
        for process, conn in self._processes:
            assert conn.poll(60), "a worker did not report"
            reports.append(conn.recv())
            process.join(10)
            assert process.exitcode == 0
        return reports


def most_in_one_second(times: list[float]) -> int:
    """The most timestamps inside any window [t, t + 1 s)."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def tiny_png(width: int, height: int) -> bytes:
    """A grey RGB PNG, written by hand (the worker starts faster without Pillow)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * (3 * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


# -- the worker process ------------------------------------------------------------------------------


def _worker_entry(conn: Connection, go: Any, *args: Any) -> None:
    import anyio

    anyio.run(_worker, conn, go, *args)


async def _worker(
    conn: Connection, go: Any, server_url: str, redis_url: str, prefix: str, seconds: float, rate: float, workers: int
) -> None:
    import anyio
    import httpx

    from vision_async import RateLimit, VisionClient, VisionError
    from vision_async.redis import RedisCoordination

    sends: list[float] = []

    class Stamping(httpx.AsyncBaseTransport):
        """Notes the moment each request leaves (time.monotonic is one clock for all processes)."""

        def __init__(self) -> None:
            self._inner = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            sends.append(time.monotonic())
            return await self._inner.handle_async_request(request)

        async def aclose(self) -> None:
            await self._inner.aclose()

    image = tiny_png(64, 64)
    coordination = RedisCoordination(redis_url, prefix=prefix, workers=workers, reconnect_min=0.1, reconnect_max=0.2)
    transport = Stamping()
    client = VisionClient(
        server_url, "any-key", transport=transport, rate_limit=RateLimit(rate, burst=1), coordination=coordination
    )
    errors: list[str] = []
    conn.send("ready")
    await anyio.to_thread.run_sync(go.wait)
    end = time.monotonic() + seconds

    async def loop() -> None:
        while time.monotonic() < end:
            try:
                await client.tag(image)
            except VisionError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    async with client:
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(loop)
        stats = client.stats()
    await transport.aclose()
    report: dict[str, Any] = {
        "sends": sends,
        "errors": errors,
        "throttled": stats.throttled,
        "describe": coordination.describe(),
        "outages": coordination.outages,
        "reconnects": coordination.reconnects,
    }
    conn.send(report)
