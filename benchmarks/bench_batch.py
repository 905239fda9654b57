"""Batch jobs at the quota: goodput against a server-side rate limit, and memory while streaming.

    python benchmarks/bench_batch.py goodput [--limit 50] [--seconds 30] [--warmup 5] [--concurrency 64]
    python benchmarks/bench_batch.py memory [--inputs 100000] [--concurrency 64]
    python benchmarks/bench_batch.py faults [--images 600] [--limit 20] [--fault-rate 0.1] [--runs 3] [--cli]
                                            [--base DIR]

``goodput``: the emulator runs in another process (``vision-async emulator --rate-limit L``) and
answers 429 with ``Retry-After`` beyond L requests per second (a token bucket, burst 1 second's
worth, as Azure's per-resource quota behaves). Each contender keeps ``--concurrency`` Image Analysis
4.0 calls (tags) in flight on an endless input for ``--seconds``; after ``--warmup`` seconds the
report counts successes per second as a fraction of L (goodput) and the share of requests the
server answered 429 (from the emulator's own counters):

- ``client.batch, adaptive``: ``VisionClient()`` (adaptive throttling on, the default);
- ``client.batch, adaptive off``: ``VisionClient(adaptive=False)``: 429 cool-down and retries only;
- ``azure SDK 4.0, gather+semaphore``: Microsoft's ``azure-ai-vision-imageanalysis`` async client in
  the loop a user writes by hand (``asyncio.gather`` over the inputs, an ``asyncio.Semaphore``),
  with the SDK's default retry policy; left out when the SDK is not installed.

``memory``: ``--inputs`` images streamed through ``client.batch`` against an in-process canned
answer (no sockets, no emulator: the client and the batch are all that is measured); the resident
set size is sampled along the way. Flat means the batch holds no per-input state.

``faults``: ``--images`` images (Image Analysis 3.2 ``tag``) through a fully default client against
the emulator in another process, limited to ``--limit`` requests per second and injecting
``--fault-rate`` transient faults in four equal parts: 500, 503, a connection dropped mid-body, and
a hang (no answer until the client gives up). Each run reports how many images succeeded in the
one pass and the goodput, images per second from the start to the last outcome as a fraction of
the limit: ``client.batch(images, "tag")`` on a default ``VisionClient``, or (``--cli``) the
``vision-async batch`` command on a folder of the images, timed from its start to its exit.
``--base DIR`` runs the same measurement on the code in DIR (e.g. a checkout of main).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx

ROOT = Path(__file__).resolve().parent.parent
#: The code measured: this tree, or the one ``--base DIR`` names (set when the script re-runs itself).
CODE = Path(os.environ.get("BENCH_BATCH_CODE") or ROOT)
sys.path.insert(0, str(CODE))

from vision_async import VisionClient  # noqa: E402

IMAGE = (ROOT / "samples" / "shapes.png").read_bytes()


# -- goodput -----------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    successes: list[float] = field(default_factory=list)  # seconds since start, per success
    failures: int = 0
    failure_kinds: collections.Counter[str] = field(default_factory=collections.Counter)
    server_warm: dict[str, int] = field(default_factory=dict)
    server_end: dict[str, int] = field(default_factory=dict)
    windows: list[dict[str, int]] = field(default_factory=list)  # server counts every 5 s


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_counts(url: str) -> dict[str, int]:
    """(requests received, answered 429) so far, from the emulator's admin route."""
    stats = httpx.get(f"{url}/_emulator/stats", timeout=5).json()
    throttled = sum(n for key, n in stats["answered"].items() if key.endswith(" 429"))
    return {"received": stats["total"], "429": throttled}


def reset_server(url: str, limit: float) -> None:
    httpx.post(f"{url}/_emulator/reset", timeout=5).raise_for_status()
    httpx.post(f"{url}/_emulator/faults", json={"rate_limit": limit}, timeout=5).raise_for_status()


@contextlib.contextmanager
def emulator_process(limit: float) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "vision_async.cli", "emulator", "--port", str(port), "--rate-limit", str(limit)]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, cwd=CODE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                server_counts(url)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


#: Seconds per window of the 429 time series.
WINDOW = 5.0


async def sample_at(url: str, delay: float, run: Run) -> None:
    """Server counts at the end of the warm-up, and every WINDOW seconds for the time series."""
    start = anyio.current_time()
    run.windows.append(await anyio.to_thread.run_sync(server_counts, url))
    k = 1
    while True:
        next_at = min(delay, k * WINDOW) if not run.server_warm else k * WINDOW
        await anyio.sleep(max(0.0, start + next_at - anyio.current_time()))
        counts = await anyio.to_thread.run_sync(server_counts, url)
        if not run.server_warm and next_at >= delay:
            run.server_warm = counts
        if next_at == k * WINDOW:
            run.windows.append(counts)
            k += 1


async def ours(url: str, args: argparse.Namespace, *, adaptive: bool) -> Run:
    run = Run("client.batch, adaptive" if adaptive else "client.batch, adaptive off")

    def endless() -> Iterator[bytes]:
        while True:
            yield IMAGE

    start = time.monotonic()
    async with VisionClient(url, "bench", adaptive=adaptive) as client, anyio.create_task_group() as tg:
        tg.start_soon(sample_at, url, args.warmup, run)
        with anyio.move_on_after(args.seconds):
            batch = client.batch(endless(), "v4.analyze", concurrency=args.concurrency, features=["tags"])
            async with batch as outcomes:
                async for item in outcomes:
                    if item.ok:
                        run.successes.append(time.monotonic() - start)
                    else:
                        run.failures += 1
                        run.failure_kinds[type(item.error).__name__] += 1
        tg.cancel_scope.cancel()
    run.server_end = await anyio.to_thread.run_sync(server_counts, url)
    return run


async def azure_sdk(url: str, args: argparse.Namespace) -> Run | None:
    try:
        from azure.ai.vision.imageanalysis.aio import ImageAnalysisClient
        from azure.ai.vision.imageanalysis.models import VisualFeatures
        from azure.core.credentials import AzureKeyCredential
        from azure.core.exceptions import AzureError
    except ImportError:
        return None
    run = Run("azure SDK 4.0, gather+semaphore")
    semaphore = asyncio.Semaphore(args.concurrency)
    start = time.monotonic()
    n = int(args.limit * args.seconds * 3) + args.concurrency

    async with ImageAnalysisClient(url, AzureKeyCredential("bench")) as client:

        async def one() -> None:
            async with semaphore:
                try:
                    await client.analyze(image_data=IMAGE, visual_features=[VisualFeatures.TAGS])
                except AzureError:
                    run.failures += 1
                else:
                    run.successes.append(time.monotonic() - start)

        sampler = asyncio.create_task(sample_at(url, args.warmup, run))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.seconds):
                await asyncio.gather(*(one() for _ in range(n)))
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    run.server_end = await asyncio.to_thread(server_counts, url)
    return run


def report(runs: list[Run], args: argparse.Namespace) -> None:
    span = args.seconds - args.warmup
    print(
        f"\nserver limit L = {args.limit:g} req/s, {args.concurrency} in flight, {args.seconds:g} s per contender, "
        f"figures after the first {args.warmup:g} s\n"
    )
    print("| contender | goodput (x L) | requests answered 429 | 429 share, whole run | failed calls |")
    print("| --- | --- | --- | --- | --- |")
    for run in runs:
        good = sum(1 for t in run.successes if t >= args.warmup) / span
        received = run.server_end["received"] - run.server_warm["received"]
        throttled = run.server_end["429"] - run.server_warm["429"]
        share = throttled / received if received else 0.0
        whole = run.server_end["429"] / run.server_end["received"] if run.server_end["received"] else 0.0
        print(f"| {run.name} | {good / args.limit:.2f} ({good:.1f}/s) | {share:.1%} | {whole:.1%} | {run.failures} |")
    print(f"\nshare of requests answered 429, per {WINDOW:g} s window:\n")
    for run in runs:
        shares = []
        for before, after in itertools.pairwise(run.windows):
            received = after["received"] - before["received"]
            shares.append(f"{(after['429'] - before['429']) / received:.0%}" if received else "-")
        print(f"- {run.name}: {' '.join(shares)}")


async def goodput_async(url: str, args: argparse.Namespace) -> list[Run]:
    runs: list[Run] = []
    contenders: list[Callable[[], Awaitable[Run | None]]] = [
        lambda: ours(url, args, adaptive=True),
        lambda: ours(url, args, adaptive=False),
        lambda: azure_sdk(url, args),
    ]
    for contender in contenders:
        await anyio.to_thread.run_sync(reset_server, url, args.limit)
        await anyio.sleep(1.2)  # let the server's bucket fill: every contender starts alike
        run = await contender()
        if run is not None:
            runs.append(run)
            kinds = ", ".join(f"{k} x{v}" for k, v in run.failure_kinds.most_common())
            print(f"  {run.name}: {len(run.successes)} successes, {run.failures} failures {kinds}", file=sys.stderr)
    return runs


def goodput(args: argparse.Namespace) -> None:
    with emulator_process(args.limit) as url:
        runs = anyio.run(goodput_async, url, args)
    report(runs, args)


# -- memory -----------------------------------------------------------------------------------

TAG_BODY = (
    b'{"tags":[{"name":"grass","confidence":0.99}],"requestId":"r","modelVersion":"2021-05-01",'
    b'"metadata":{"width":320,"height":200,"format":"Png"}}'
)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def memory_async(args: argparse.Namespace) -> list[tuple[int, float]]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=TAG_BODY, headers={"content-type": "application/json"})

    async def inputs() -> AsyncIterator[tuple[str, bytes]]:
        for i in range(args.inputs):
            yield f"images/{i:08d}.png", IMAGE

    samples = [(0, rss_mb())]
    every = max(1, args.inputs // 10)
    done = 0
    client = VisionClient("https://bench.invalid", "bench", transport=httpx.MockTransport(answer))
    async with client, client.batch(inputs(), "tag", concurrency=args.concurrency) as outcomes:
        async for item in outcomes:
            assert item.ok, item
            done += 1
            if done % every == 0:
                samples.append((done, rss_mb()))
    return samples


def memory(args: argparse.Namespace) -> None:
    start = time.monotonic()
    samples = anyio.run(memory_async, args)
    elapsed = time.monotonic() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{args.inputs} inputs through client.batch (tag, {args.concurrency} in flight) in {elapsed:.1f} s\n")
    print("| inputs done | RSS (MB) |")
    print("| --- | --- |")
    for done, mb in samples:
        print(f"| {done} | {mb:.1f} |")
    print(f"\npeak RSS {peak:.1f} MB")


# -- faults -----------------------------------------------------------------------------------


def set_faults(url: str, args: argparse.Namespace) -> None:
    share = args.fault_rate / 4
    faults = {"rate_limit": args.limit, "p500": share, "p503": share, "p_drop": share, "p_hang": share}
    httpx.post(f"{url}/_emulator/reset", timeout=5).raise_for_status()
    httpx.post(f"{url}/_emulator/faults", json=faults, timeout=5).raise_for_status()


async def faults_batch(url: str, args: argparse.Namespace) -> tuple[int, float, collections.Counter[str]]:
    """(successes, seconds, failure kinds) of one default client.batch over the images."""
    failed: collections.Counter[str] = collections.Counter()
    ok = 0
    start = time.monotonic()
    async with VisionClient(url, "bench") as client, client.batch([IMAGE] * args.images, "tag") as outcomes:
        async for item in outcomes:
            if item.ok:
                ok += 1
            else:
                failed[type(item.error).__name__] += 1
    return ok, time.monotonic() - start, failed


def faults_cli(url: str, args: argparse.Namespace, folder: Path) -> tuple[int, float, collections.Counter[str]]:
    """(successes, seconds, failure kinds) of one ``vision-async batch`` run on the folder."""
    out = folder.parent / "results.jsonl"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "vision_async.cli", "--endpoint", url, "--key", "bench"]
    cmd += ["batch", str(folder), "-o", str(out), "--operation", "tag"]
    env = {**os.environ, "PYTHONPATH": str(CODE)}
    start = time.monotonic()
    subprocess.run(cmd, cwd=CODE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    elapsed = time.monotonic() - start
    failed: collections.Counter[str] = collections.Counter()
    ok = 0
    for line in out.read_text().splitlines():
        record = json.loads(line)
        if "error" in record:
            failed[record["error"]["class"]] += 1
        else:
            ok += 1
    return ok, elapsed, failed


def faults(args: argparse.Namespace) -> None:
    what = "vision-async batch (CLI)" if args.cli else "client.batch"
    print(
        f"{args.images} images (tag) by {what}, all defaults, against the emulator limited to {args.limit:g}/s with "
        f"{args.fault_rate:.0%} faults (500, 503, dropped connection, hang: {args.fault_rate / 4:.1%} each)"
    )
    print(f"code: {CODE}\n\n| run | succeeded | seconds | goodput (x limit) | failed |")
    print("| --- | --- | --- | --- | --- |")
    results: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, emulator_process(args.limit) as url:
        folder = Path(tmp) / "images"
        if args.cli:
            folder.mkdir()
            for i in range(args.images):
                (folder / f"{i:05d}.png").write_bytes(IMAGE)
        for run in range(1, args.runs + 1):
            set_faults(url, args)
            time.sleep(1.2)  # the server's bucket fills: every run starts alike
            ok, seconds, failed = faults_cli(url, args, folder) if args.cli else anyio.run(faults_batch, url, args)
            goodput = ok / seconds / args.limit
            results.append(goodput)
            kinds = ", ".join(f"{k} x{v}" for k, v in failed.most_common()) or "-"
            print(f"| {run} | {ok} of {args.images} | {seconds:.1f} | {goodput:.3f} | {kinds} |", flush=True)
    print(f"\ngoodput over {args.runs} runs: " + " / ".join(f"{g:.3f}" for g in results))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("goodput", help="goodput and 429s against a server-side rate limit")
    p.add_argument("--limit", type=float, default=50.0, help="server limit L, requests/second")
    p.add_argument("--seconds", type=float, default=30.0, help="run time per contender")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds left out of the figures")
    p.add_argument("--concurrency", type=int, default=64)
    p = sub.add_parser("memory", help="RSS while streaming many inputs")
    p.add_argument("--inputs", type=int, default=100_000)
    p.add_argument("--concurrency", type=int, default=64)
    p = sub.add_parser("faults", help="a batch through transient faults (hangs included) at a server limit")
    p.add_argument("--images", type=int, default=600)
    p.add_argument("--limit", type=float, default=20.0, help="server limit, requests/second")
    p.add_argument("--fault-rate", type=float, default=0.10, help="share of requests that fail (default 0.10)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--cli", action="store_true", help="run the vision-async batch command on a folder of the images")
    p.add_argument("--base", type=Path, default=None, metavar="DIR", help="measure the code in DIR instead")
    args = parser.parse_args(argv)
    if getattr(args, "base", None) is not None:
        rest = [a for a in (argv if argv is not None else sys.argv[1:]) if a not in ("--base", str(args.base))]
        env = {**os.environ, "BENCH_BATCH_CODE": str(args.base.resolve())}
        os.execve(sys.executable, [sys.executable, __file__, *rest], env)
    if args.what == "goodput":
        goodput(args)
    elif args.what == "faults":
        faults(args)
    else:
        memory(args)


if __name__ == "__main__":
    main()
