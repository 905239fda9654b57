"""Soak: minutes of mixed traffic with injected faults; resources must stay flat.

The emulator runs in a child process, served by uvicorn on 127.0.0.1, with fault injection set
through its admin route (``POST /_emulator/faults``): by default 10% of requests fail, in equal
parts 429, 500, 503, a connection dropped mid-body, and a hang (no answer until the client's
attempt timeout fires). One VisionClient with its default resilience (retries, breaker; the
adaptive rate only with ``--adaptive``, as it slows the client down after every injected 429)
keeps ``--concurrency`` calls in flight, mixing tag, analyze, describe and read, for
``--minutes``. The report gives the calls made, their outcomes by class, and this process's
RSS and open file descriptors at the start, every tenth of the run, and at the end.

    python benchmarks/soak.py                 # 10 minutes, 64 in flight
    python benchmarks/soak.py --minutes 1     # a shorter run
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import socket
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from vision_async import (
    BreakerStateChange,
    CircuitOpenError,
    RetryEvent,
    RetryPolicy,
    VisionClient,
    VisionError,
)

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(port: int) -> None:
    from vision_async.emulator import Emulator
    from vision_async.emulator._server import serve

    serve(Emulator(ocr="off", read_delays=(0.05, 0.2), seed=None), host="127.0.0.1", port=port, log_level="error")


def _admin(base: str, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method="POST" if data is not None else "GET")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


def _wait_until_up(base: str, deadline: float) -> None:
    while True:
        try:
            _admin(base, "/_emulator/stats")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def resources() -> tuple[float, int]:
    """(RSS in MiB, open file descriptors) of this process."""
    rss_kib = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kib = int(line.split()[1])
    return rss_kib / 1024, len(os.listdir("/proc/self/fd"))


@dataclass
class Tally:
    calls: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    retried: Counter[str] = field(default_factory=Counter)  # failed attempts that were retried, by class
    breaker: list[str] = field(default_factory=list)  # state changes, with the time and the last retries
    recent: list[tuple[float, str]] = field(default_factory=list)
    by_operation: Counter[str] = field(default_factory=Counter)
    samples: list[tuple[float, int, float, int]] = field(default_factory=list)  # (seconds, calls, rss, fds)


async def soak(base: str, *, seconds: float, concurrency: int, timeout: float, adaptive: bool) -> Tally:
    image = (SAMPLES / "shapes.png").read_bytes()
    tally = Tally()
    start = time.monotonic()
    deadline = start + seconds
    rng = random.Random(1)
    retry = RetryPolicy(max_attempts=4, initial_backoff=0.05, max_backoff=1.0, total_timeout=30.0)

    def on_retry(event: RetryEvent) -> None:
        name = type(event.error).__name__
        tally.retried[name] += 1
        tally.recent = [*tally.recent[-9:], (time.monotonic() - start, name)]

    def on_breaker(event: BreakerStateChange) -> None:
        recent = ", ".join(f"{t:.2f}s {name}" for t, name in tally.recent[-6:])
        tally.breaker.append(
            f"t={time.monotonic() - start:6.2f}s {event.old_state} -> {event.new_state} "
            f"({event.failures} failures; last retried attempts: {recent})"
        )

    async with VisionClient(
        base,
        "soak-key",
        timeout=timeout,
        retry=retry,
        read_timeout=30.0,
        adaptive=adaptive,
        on_retry=on_retry,
        on_breaker_state_change=on_breaker,
    ) as client:
        operations: dict[str, Callable[[], Awaitable[object]]] = {
            "tag": lambda: client.tag(image),
            "analyze": lambda: client.analyze(image, features=["Tags", "Color", "Description"]),
            "describe": lambda: client.describe(image),
            "read": lambda: client.read(image),
        }
        names = list(operations)

        async def worker() -> None:
            while time.monotonic() < deadline:
                name = rng.choice(names)
                pause = 0.0
                try:
                    await operations[name]()
                    outcome = "success"
                except CircuitOpenError as exc:
                    outcome = type(exc).__name__
                    pause = exc.retry_after  # as a well-behaved caller would: wait for the next probe
                except VisionError as exc:
                    outcome = type(exc).__name__
                tally.calls += 1
                tally.outcomes[outcome] += 1
                tally.by_operation[name] += 1
                # a call that fails fast may not have yielded: never starve the other tasks
                await anyio.sleep(min(pause, max(0.0, deadline - time.monotonic())))

        async def sampler() -> None:
            rss, fds = resources()
            tally.samples.append((0.0, 0, rss, fds))
            step = seconds / 10
            for i in range(1, 11):
                await anyio.sleep(max(0.0, start + i * step - time.monotonic()))
                rss, fds = resources()
                tally.samples.append((time.monotonic() - start, tally.calls, rss, fds))
                print(
                    f"  t={tally.samples[-1][0]:6.1f}s calls={tally.calls:7d} rss={rss:7.1f} MiB fds={fds}", flush=True
                )

        async with anyio.create_task_group() as tg:
            tg.start_soon(sampler)
            for _ in range(concurrency):
                tg.start_soon(worker)
        print(f"  client stats: {client.stats()}", flush=True)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run (default 10)")
    parser.add_argument("--concurrency", type=int, default=64, help="calls in flight (default 64)")
    parser.add_argument("--fault-rate", type=float, default=0.10, help="share of requests that fail (default 0.10)")
    parser.add_argument("--timeout", type=float, default=5.0, help="the client's attempt timeout, s (default 5)")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument(
        "--adaptive",
        action="store_true",
        help="keep the adaptive rate on (it slows the client after each injected 429, so less load is applied)",
    )
    args = parser.parse_args(argv)

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port,), daemon=True)
    server.start()
    try:
        _wait_until_up(base, time.monotonic() + 20)
        share = args.fault_rate / 5
        faults = {"route": "*", "p429": share, "p500": share, "p503": share, "p_drop": share, "p_hang": share}
        _admin(base, "/_emulator/faults", faults)
        print(
            f"soak: {args.minutes:g} min, {args.concurrency} in flight, {args.fault_rate:.0%} faults "
            f"(429/500/503/drop/hang {share:.1%} each), attempt timeout {args.timeout:g}s, "
            f"{args.backend}, adaptive rate {'on' if args.adaptive else 'off'}",
            flush=True,
        )
        seconds = args.minutes * 60
        tally = anyio.run(
            lambda: soak(base, seconds=seconds, concurrency=args.concurrency, timeout=args.timeout,
                         adaptive=args.adaptive),
            backend=args.backend,
        )  # fmt: skip
        stats = _admin(base, "/_emulator/stats")
    finally:
        server.terminate()
        server.join(10)

    print(f"\ncalls: {tally.calls} ({tally.calls / seconds:.0f}/s)")
    print("by operation: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.by_operation.items())))
    print("outcomes:")
    for outcome, count in tally.outcomes.most_common():
        print(f"  {outcome:28s} {count:7d}  {count / max(1, tally.calls):7.2%}")
    print("failed attempts that were retried: " + ", ".join(f"{k} {v}" for k, v in tally.retried.most_common()))
    print("breaker: " + ("\n  ".join(["", *tally.breaker]) if tally.breaker else "stayed closed"))
    print(f"emulator received: {stats.get('received')}")
    first, middle, last = tally.samples[0], tally.samples[len(tally.samples) // 2], tally.samples[-1]
    print("resources (RSS MiB / open fds):")
    for label, sample in (("start", first), ("middle", middle), ("end", last)):
        print(f"  {label:6s} t={sample[0]:6.1f}s  rss={sample[2]:7.1f}  fds={sample[3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
