"""What the Redis coordination costs per request (issue 11).

    python benchmarks/bench_redis.py [--redis redis://127.0.0.1:6379/0] [--tokens 3000] [--calls 3000]

- token latency: one ``reserve`` of the shared GCRA (the Lua script, one round trip, run on
  redis-py's sync client in a worker thread) against the in-memory GCRA, p50 and p99, under
  asyncio and trio; beside it the same script through ``redis.asyncio`` (asyncio only), the
  alternative this package did not pick;
- client throughput: ``client.tag(url)`` calls per second, 32 at once, over an in-memory
  transport (a canned 200 answer) with a rate limit far above what is reached, without and with
  ``RedisCoordination``: the difference is the cost of sharing the limit.

Needs a Redis server (default: 127.0.0.1:6379); keys go under a fresh prefix and are deleted.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import httpx
import redis
import redis.asyncio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vision_async import RateLimit, VisionClient  # noqa: E402
from vision_async._resilience.rate_limit import LocalTokenState, TokenState  # noqa: E402
from vision_async._resilience.state import namespace_for  # noqa: E402
from vision_async.redis import RedisCoordination  # noqa: E402
from vision_async.redis._scripts import TOKEN  # noqa: E402

ENDPOINT = "https://bench.cognitiveservices.azure.com"
IMAGE_URL = "https://example.com/house.jpg"
BODY = json.dumps(json.loads((ROOT / "tests" / "fixtures" / "v3.2" / "tag_image.json").read_text())).encode()
HEADERS = {"content-type": "application/json; charset=utf-8", "apim-request-id": "bench"}
FAST = RateLimit(1_000_000.0, burst=1_000_000.0)  # every token free at once: only the bookkeeping is measured


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e6, ordered[int(len(ordered) * 0.99)] * 1e6


async def token_latency(tokens: TokenState, count: int) -> tuple[float, float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        grant = await tokens.reserve(time.monotonic(), FAST.per_second, FAST.effective_burst, None)
        samples.append(time.perf_counter() - start)
        assert grant is not None
    return percentiles(samples)


async def redis_asyncio_latency(url: str, prefix: str, count: int) -> tuple[float, float]:
    client = redis.asyncio.Redis.from_url(url, socket_timeout=0.25)
    script = client.register_script(TOKEN)
    keys = [f"{{{prefix}bench-asyncio}}:{suffix}" for suffix in ("gcra", "cool", "adapt", "o", "t", "p")]
    args = ["0", "0", "0", "", "0", "", "1", "1000000", "-1", "0"]
    samples = []
    try:
        for _ in range(count):
            start = time.perf_counter()
            await script(keys=keys, args=args)
            samples.append(time.perf_counter() - start)
    finally:
        await client.aclose()
    return percentiles(samples)


async def throughput(coordination: RedisCoordination | None, calls: int, concurrency: int = 32) -> float:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=HEADERS, content=BODY)

    client = VisionClient(
        ENDPOINT, "bench-key", transport=httpx.MockTransport(answer), rate_limit=FAST, coordination=coordination
    )
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await client.tag(IMAGE_URL)

    async with client:
        await client.tag(IMAGE_URL)  # warm up (connection, script load)
        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker)
        elapsed = time.perf_counter() - start
    return calls / elapsed


def cleanup(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{{{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--tokens", type=int, default=3000)
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    rows: list[tuple[str, str, str]] = []
    results: dict[str, Any] = {}
    try:
        for backend in ("asyncio", "trio"):
            shared = RedisCoordination(args.redis, prefix=prefix).resource(
                namespace_for(ENDPOINT + backend), rate_limit=FAST, breaker=None
            )
            assert shared.tokens is not None
            local = anyio.run(token_latency, LocalTokenState(), args.tokens, backend=backend)
            remote = anyio.run(token_latency, shared.tokens, args.tokens, backend=backend)
            rows.append((f"token, in-memory GCRA ({backend})", f"{local[0]:.1f} / {local[1]:.1f} us", ""))
            rows.append((f"token, Redis GCRA ({backend})", f"{remote[0]:.0f} / {remote[1]:.0f} us", ""))
            results[f"token_{backend}"] = {"local_us": local, "redis_us": remote}
        aio = anyio.run(redis_asyncio_latency, args.redis, prefix, args.tokens, backend="asyncio")
        rows.append(("token, same script via redis.asyncio (asyncio)", f"{aio[0]:.0f} / {aio[1]:.0f} us", ""))
        for backend in ("asyncio", "trio"):
            plain = anyio.run(throughput, None, args.calls, backend=backend)
            coordinated = anyio.run(
                throughput, RedisCoordination(args.redis, prefix=prefix), args.calls, backend=backend
            )
            rows.append((f"client.tag, 32 at once ({backend})", f"{plain:,.0f} req/s", f"{coordinated:,.0f} req/s"))
            results[f"throughput_{backend}"] = {"local": plain, "redis": coordinated}
    finally:
        cleanup(args.redis, prefix)
    print(f"Redis at {args.redis}, {args.tokens} tokens, {args.calls} calls; p50 / p99\n")
    print("| measure | local (no coordination) | with RedisCoordination |")
    print("|---|---|---|")
    for name, a, b in rows:
        if b:
            print(f"| {name} | {a} | {b} |")
        else:
            print(f"| {name} | {a} | |")


if __name__ == "__main__":
    main()
