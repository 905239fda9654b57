"""What vision_async costs besides the network (issue 9 goals 3, 4 and 5).

    python benchmarks/bench_costs.py [--calls 1000000] [--out benchmarks/results]

- goal 3, pipeline cost: ``client.tag(url)`` over an in-memory transport (a canned 200 answer),
  beside a bare ``transport.send`` of the same request; the difference is what the pipeline
  (flow control, retry, breaker, timeouts, parsing into dataclasses) costs per successful call.
  Also calls refused without sending: by an open breaker, by a closed client, and a failed call
  whose retry a spent retry budget refuses.
- goal 4, ``import vision_async`` against ``import httpx`` (``python -X importtime``, fresh
  interpreters, median of 9).
- goal 5, memory: per idle client (tracemalloc), per pooled connection (a real loopback server,
  tracemalloc and RSS), and RSS / live objects / traced memory over ``--calls`` calls.
Writes ``costs-latest.md`` beside the speed results.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vision_async import BreakerPolicy, RetryPolicy, VisionClient  # noqa: E402
from vision_async._transports.base import OutgoingRequest, RawResponse, ResponseHeaders, TransportStats  # noqa: E402

KEY = "benchmark-key"
IMAGE_URL = "https://example.com/house.jpg"
ENDPOINT = "https://bench.cognitiveservices.azure.com"
BODY = json.dumps(json.loads((ROOT / "tests" / "fixtures" / "v3.2" / "tag_image.json").read_text())).encode()
HEADERS = {"content-type": "application/json; charset=utf-8", "apim-request-id": "bench"}


class InMemory:
    """A lean transport answering every request at once (status switchable)."""

    def __init__(self) -> None:
        self.status = 200
        self._ok = RawResponse(200, "OK", ResponseHeaders(HEADERS.items()), BODY)
        self._fail = RawResponse(503, "Service Unavailable", ResponseHeaders(HEADERS.items()), b"{}")

    async def send(self, request: OutgoingRequest) -> RawResponse:
        await anyio.lowlevel.checkpoint()  # as any real transport does: let the event loop run
        return self._ok if self.status == 200 else self._fail

    async def aclose(self) -> None:
        return None

    def stats(self) -> TransportStats:
        return TransportStats(0, 0, 0, 0)


def in_memory() -> tuple[Any, Any, str]:
    """(what to give VisionClient, the transport to time bare, a description)."""
    lean = InMemory()
    return lean, lean, "a lean in-memory transport (vision_async Transport protocol)"


async def per_call(
    call: Callable[[], Awaitable[object]], n: int, *, expect: type[BaseException] | None = None
) -> float:
    """Median over 5 batches of microseconds per call."""
    for _ in range(min(n, 2000)):
        with contextlib.suppress(Exception):
            await call()
    batches = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            if expect is None:
                await call()
            else:
                with contextlib.suppress(expect):
                    await call()
        batches.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(batches)


def tag_request() -> OutgoingRequest:
    """The request `client.tag(url)` sends, for timing the bare transport."""
    return OutgoingRequest(
        "POST",
        ENDPOINT + "/vision/v3.2/tag?language=en&model-version=latest",
        (("Accept", "application/json"), ("Content-Type", "application/json"), ("Ocp-Apim-Subscription-Key", KEY)),
        b'{"url":"https://example.com/house.jpg"}',
        30.0,
        1 << 22,
    )


async def pipeline_costs(n: int) -> list[str]:
    from vision_async import CircuitOpenError, ClientClosedError, ServiceUnavailableError

    given, what, bare_us, full = await success_costs(n)
    rows = [f"- transport: {what}", f"- bare `transport.send`: {bare_us:.1f} us"]
    rows.append(
        f"- `client.tag(url)`, default policies: {full:.1f} us -> pipeline cost {full - bare_us:.1f} us (goal < 30)"
    )
    async with VisionClient(ENDPOINT, KEY, transport=given, retry=None, breaker=None) as client:
        plain = await per_call(lambda: client.tag(IMAGE_URL), n)
    rows.append(f"- `client.tag(url)`, retry=None, breaker=None: {plain:.1f} us -> {plain - bare_us:.1f} us")

    if isinstance(given, InMemory):
        client = VisionClient(ENDPOINT, KEY, transport=given, retry=None, breaker=BreakerPolicy(fail_max=1))
        given.status = 503
        with contextlib.suppress(ServiceUnavailableError):
            await client.tag(IMAGE_URL)
        refused = await per_call(lambda: client.tag(IMAGE_URL), n, expect=CircuitOpenError)
        rows.append(f"- refused by an open breaker: {refused:.1f} us (goal < 10)")
        await client.aclose()
        try:
            from vision_async import RetryBudget  # type: ignore[attr-defined]

            async with VisionClient(ENDPOINT, KEY, transport=given, retry=None, breaker=None) as client:
                failed = await per_call(lambda: client.tag(IMAGE_URL), n, expect=ServiceUnavailableError)
            budget = RetryBudget(ratio=0.0, min_per_second=0.0)
            policy = RetryPolicy(max_attempts=4, budget=budget)
            async with VisionClient(ENDPOINT, KEY, transport=given, retry=policy, breaker=None) as client:
                spent = await per_call(lambda: client.tag(IMAGE_URL), n, expect=ServiceUnavailableError)
            rows.append(
                f"- a 503 whose retry a spent budget refuses: {spent:.1f} us, against {failed:.1f} us for the same "
                f"503 with retry=None: the refusal costs {spent - failed:.1f} us (goal < 10)"
            )
        except Exception as exc:
            rows.append(f"- spent retry budget: not measured ({type(exc).__name__}: {exc})")
        given.status = 200
    else:
        rows.append("- open breaker / spent budget: not measured (needs a client that takes lean transports)")
    client = VisionClient(ENDPOINT, KEY, transport=given)
    await client.aclose()
    closed = await per_call(lambda: client.tag(IMAGE_URL), n, expect=ClientClosedError)
    rows.append(f"- refused by a closed client: {closed:.1f} us (goal < 10)")
    return rows


async def success_costs(n: int) -> tuple[Any, str, float, float]:
    """(the transport given to clients, its description, us per bare send, us per default-client call)."""
    given, bare, what = in_memory()
    request = tag_request()
    bare_us = await per_call(lambda: bare.send(request), n)
    async with VisionClient(ENDPOINT, KEY, transport=given) as client:
        full = await per_call(lambda: client.tag(IMAGE_URL), n)
    return given, what, bare_us, full


async def success_cost_row(n: int) -> str:
    """The default client's pipeline cost per successful call, on trio."""
    _, _, bare_us, full = await success_costs(n)
    return f"- on trio: bare {bare_us:.1f} us, `client.tag(url)` {full:.1f} us -> pipeline cost {full - bare_us:.1f} us"


def import_times(runs: int = 9) -> list[str]:
    # httpx imports its command-line tool's packages (rich, click) when they are installed, as
    # they are with the bench extra: "plain" hides them, as in an install without them.
    plain_install = "import sys; sys.modules['rich'] = sys.modules['click'] = None; "

    def once(module: str, prelude: str) -> float:
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"{prelude}import {module}"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stderr
        for line in out.splitlines():
            match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)$", line)
            if match and match.group(2) == module:
                return int(match.group(1)) / 1000
        raise RuntimeError(f"no importtime line for {module}")

    rows = []
    for prelude, what in (("", "this environment"), (plain_install, "as without rich and click (a plain install)")):
        vision = statistics.median(once("vision_async", prelude) for _ in range(runs))
        plain = statistics.median(once("httpx", prelude) for _ in range(runs))
        verdict = "met" if vision <= 1.5 * plain else "NOT met"
        rows.append(
            f"- {what}: `import httpx` {plain:.1f} ms; `import vision_async` {vision:.1f} ms "
            f"({vision / plain:.2f}x; goal <= 1.5x: {verdict}); median of {runs} fresh interpreters"
        )
    return rows


def rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


async def memory(calls: int) -> list[str]:
    rows: list[str] = []
    given, _, _ = in_memory()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    clients = [VisionClient(ENDPOINT, KEY, transport=given) for _ in range(200)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    rows.append(f"- per idle client: {(after - before) / len(clients) / 1024:.1f} KiB (tracemalloc, 200 clients)")
    for client in clients:
        await client.aclose()
    del clients

    rows += await per_connection()

    async with VisionClient(ENDPOINT, KEY, transport=given) as client:
        checkpoints = sorted({calls // 10, calls // 2, calls})
        gc.collect()
        samples = [(0, rss_kib(), len(gc.get_objects()))]
        done = 0
        for point in checkpoints:
            while done < point:
                await client.tag(IMAGE_URL)
                done += 1
            gc.collect()
            samples.append((done, rss_kib(), len(gc.get_objects())))
    table = ", ".join(f"{n:,} calls: {rss} KiB RSS / {objects:,} objects" for n, rss, objects in samples)
    grew = samples[-1][1] - samples[1][1]
    rows.append(f"- over {calls:,} calls (in-memory transport): {table}; RSS growth after warm-up: {grew} KiB")
    return rows


async def per_connection() -> list[str]:
    """Memory per pooled connection: 200 connections held open to a loopback server."""
    from vision_async._transports.pool import PoolTransport

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception, asyncio.CancelledError):  # a throwaway server: ends when cancelled
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                await asyncio.sleep(0.05)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = PoolTransport(max_connections=200)
    request = OutgoingRequest("POST", f"http://127.0.0.1:{port}/x", (), b"{}", 10.0, None)
    gc.collect()
    tracemalloc.start()
    rss0, traced0 = rss_kib(), tracemalloc.get_traced_memory()[0]
    await asyncio.gather(*(pool.send(request) for _ in range(200)))
    gc.collect()
    open_now = pool.stats().open_connections
    traced = (tracemalloc.get_traced_memory()[0] - traced0) / open_now / 1024
    tracemalloc.stop()
    rss = (rss_kib() - rss0) / open_now
    await pool.aclose()
    server.close()
    return [f"- per pooled connection (default pool, {open_now} idle): {traced:.1f} KiB traced, ~{rss:.1f} KiB RSS"]


async def main_async(args: argparse.Namespace) -> str:
    lines = ["# vision_async costs besides the network", "", f"`python benchmarks/bench_costs.py --calls {args.calls}`"]
    lines += ["", "## Pipeline cost per call (goal 3)", "", *await pipeline_costs(args.n), *args.trio_rows]
    lines += ["", "## Import time (goal 4)", "", *import_times()]
    lines += ["", "## Memory (goal 5)", "", *await memory(args.calls)]
    lines += ["", "NOTE: measured on a shared 2-core machine while other work ran: medians, noisy."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls for the memory-growth check")
    parser.add_argument("--n", type=int, default=20_000, help="calls per timing batch")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    args.trio_rows = []
    with contextlib.suppress(ImportError):
        import trio  # noqa: F401

        args.trio_rows = [anyio.run(success_cost_row, args.n, backend="trio")]
    text = anyio.run(main_async, args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "costs-latest.md").write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
