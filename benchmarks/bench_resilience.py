"""Resilience scorecard: each contender under each fault scenario, in the same run (a benchmark, not a test).

The emulator runs in a child process (uvicorn on 127.0.0.1, ``ocr="off"``); each scenario sets its
faults through the admin route and counts what the server received (``GET /_emulator/stats``: the
total, and requests per second of the emulator's clock, so requests during an outage are counted
server-side). Every contender keeps ``--concurrency`` (64) calls of Image Analysis 4.0 ``analyze``
(tags) in flight on asyncio for the scenario's duration, with a 5 s attempt timeout. A worker whose
call failed pauses 0.1 s before its next call (every contender alike), so that a fast refusal does not
spin.

Scenarios (durations at ``--scale 1``):

- ``transient``: 10% transient faults, 2.5% each: 500, 503, a dropped connection, a hang past the
  attempt timeout; 60 s.
- ``outage``: 10 s healthy, a 15 s outage (every request 503), 20 s healthy. ``--scale`` shortens the
  healthy periods (to at least 2 s before and 10 s after), never the outage.
- ``storm``: a 429 storm: the server limited to 40 requests/s, against 64 in flight; 40 s.
- ``spikes``: latency spikes: answers take 50 ms, a tenth of them 500 ms (10x); 40 s.
- ``drip``: a slow drip of hung connections: one request per second hangs; 60 s.

Contenders: ``default`` (``VisionClient(url, key, timeout=5)``), ``breaker=None`` (the same without its
circuit breaker), ``azure-sdk`` (Microsoft's ``azure-ai-vision-imageanalysis`` aio client with its own
default retry policy, 5 s connection and read timeouts), ``httpx+tenacity`` (a hand-written loop as
users write it: ``httpx.AsyncClient(timeout=5)``, tenacity retrying 429/5xx and transport errors with
exponential backoff, five attempts).

Figures: success rate; amplification (requests the server received per successful call); requests the
server received during the outage; seconds from the service's recovery to the first success and until
95% of the calls that end from then on succeed; p50 and p99 latency of successful calls.

    python benchmarks/bench_resilience.py                        # everything, about 16 minutes
    python benchmarks/bench_resilience.py --scale 0.2            # a quick run (durations x0.2)
    python benchmarks/bench_resilience.py --scenarios outage --contenders default,breaker=None

Writes ``benchmarks/results/resilience-latest.md`` and, with matplotlib (the ``bench`` extra),
``docs/assets/resilience-scorecard.png``. Wall-clock figures on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import platform
import socket
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
IMAGE = (ROOT / "samples" / "shapes.png").read_bytes()
RESULTS = ROOT / "benchmarks" / "results" / "resilience-latest.md"
PLOT = ROOT / "docs" / "assets" / "resilience-scorecard.png"
V4_PATH = "/computervision/imageanalysis:analyze"
TIMEOUT = 5.0
FAIL_PAUSE = 0.1


# -- the emulator in another process ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(port: int) -> None:
    from vision_async.emulator import Emulator
    from vision_async.emulator._server import serve

    serve(Emulator(ocr="off", seed=None), host="127.0.0.1", port=port, log_level="critical")


def _admin(base: str, path: str, body: dict[str, Any] | None = None, *, method: str | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method or ("POST" if data is not None else "GET"))
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


@contextlib.contextmanager
def emulator_process() -> Any:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port,), daemon=True)
    server.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _admin(base, "/_emulator/stats")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield base
    finally:
        server.terminate()
        server.join(10)


# -- scenarios -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    meaning: str
    seconds: float
    faults: dict[str, Any]
    outage: tuple[float, float] | None = None  # seconds from the start of the run, at scale 1


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "transient",
            "10% transient faults, 2.5% each: 500, 503, dropped connection, hang past the attempt timeout",
            60,
            {"p500": 0.025, "p503": 0.025, "p_drop": 0.025, "p_hang": 0.025},
        ),
        Scenario("outage", "10 s healthy, 15 s outage (every request 503), 20 s healthy", 45, {}, (10, 25)),
        Scenario("storm", "429 storm: server limited to 40 req/s, 64 in flight", 40, {"rate_limit": 40}),
        Scenario(
            "spikes",
            "latency spikes: answers 50 ms, a tenth 500 ms",
            40,
            {"latency": 0.05, "p_slow": 0.1, "slow_latency": 0.5},
        ),
        Scenario("drip", "slow drip of hung connections: one request per second hangs", 60, {"hang_every": 1.0}),
    )
}


# -- contenders: each returns a coroutine function making one call (True on success) --------------

Call = Callable[[], Awaitable[bool]]


@contextlib.asynccontextmanager
async def default_client(base: str, *, breaker: bool) -> Any:
    from vision_async import VisionClient, VisionError

    options: dict[str, Any] = {} if breaker else {"breaker": None}
    async with VisionClient(base, "bench-key", timeout=TIMEOUT, **options) as client:

        async def call() -> bool:
            try:
                await client.v4.analyze(IMAGE, features=["tags"])
            except VisionError:
                return False
            return True

        yield call


@contextlib.asynccontextmanager
async def azure_sdk(base: str) -> Any:
    from azure.ai.vision.imageanalysis.aio import ImageAnalysisClient
    from azure.ai.vision.imageanalysis.models import VisualFeatures
    from azure.core.credentials import AzureKeyCredential
    from azure.core.exceptions import AzureError

    async with ImageAnalysisClient(base, AzureKeyCredential("bench-key")) as client:

        async def call() -> bool:
            try:
                await client.analyze(
                    image_data=IMAGE,
                    visual_features=[VisualFeatures.TAGS],
                    connection_timeout=TIMEOUT,
                    read_timeout=TIMEOUT,
                )
            except (TimeoutError, AzureError, OSError):
                return False
            return True

        yield call


@contextlib.asynccontextmanager
async def httpx_tenacity(base: str) -> Any:
    import httpx
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

    def retryable(exc: BaseException) -> bool:
        if isinstance(exc, httpx.HTTPStatusError):
            return exc.response.status_code == 429 or exc.response.status_code >= 500
        return isinstance(exc, httpx.TransportError)

    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT, limits=limits) as http:

        async def once() -> None:
            response = await http.post(
                V4_PATH,
                params={"api-version": "2023-10-01", "features": "tags"},
                headers={"Ocp-Apim-Subscription-Key": "bench-key", "Content-Type": "application/octet-stream"},
                content=IMAGE,
            )
            response.raise_for_status()
            response.json()

        async def call() -> bool:
            try:
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception(retryable),
                    wait=wait_exponential(multiplier=0.5, max=10),
                    stop=stop_after_attempt(5),
                    reraise=True,
                ):
                    with attempt:
                        await once()
            except (httpx.HTTPError, ValueError):
                return False
            return True

        yield call


CONTENDERS: dict[str, Callable[[str], Any]] = {
    "default": lambda base: default_client(base, breaker=True),
    "breaker=None": lambda base: default_client(base, breaker=False),
    "azure-sdk": azure_sdk,
    "httpx+tenacity": httpx_tenacity,
}


# -- one run ---------------------------------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    contender: str
    seconds: float
    calls: list[tuple[float, float, bool]] = field(default_factory=list)  # (start, end, ok), s from start
    received: int = 0
    received_outage: int | None = None
    outage: tuple[float, float] | None = None

    @property
    def successes(self) -> list[tuple[float, float, bool]]:
        return [c for c in self.calls if c[2]]

    def success_rate(self) -> float:
        return len(self.successes) / len(self.calls) if self.calls else 0.0

    def amplification(self) -> float:
        return self.received / len(self.successes) if self.successes else math.inf

    def latency(self, q: float) -> float | None:
        durations = sorted(end - start for start, end, _ in self.successes)
        if not durations:
            return None
        return durations[min(len(durations) - 1, int(q * len(durations)))]

    def to_first_success(self) -> float | None:
        if self.outage is None:
            return None
        ends = [end for _, end, ok in self.calls if ok and end >= self.outage[1]]
        return min(ends) - self.outage[1] if ends else None

    def to_95(self) -> float | None:
        """Seconds from recovery until 95% of the calls ending from then on (to the run's end) succeed."""
        if self.outage is None:
            return None
        after = sorted((end, ok) for _, end, ok in self.calls if end >= self.outage[1])
        good = sum(ok for _, ok in after)
        for i, (end, ok) in enumerate(after):
            if good / (len(after) - i) >= 0.95:
                return end - self.outage[1]
            good -= ok
        return None


async def run_one(base: str, scenario: Scenario, contender: str, *, scale: float, concurrency: int) -> Result:
    await asyncio.to_thread(lambda: _admin(base, "/_emulator/reset", method="POST"))
    seconds = scenario.seconds * scale
    elapsed = (await asyncio.to_thread(_admin, base, "/_emulator/stats"))["elapsed"]
    start = time.monotonic()
    result = Result(scenario.name, contender, seconds)
    faults = dict(scenario.faults)
    if scenario.outage is not None:
        # the outage keeps its length (retries span seconds: a scaled-down outage is bridged by them);
        # the healthy periods scale, to at least 2 s before and 10 s after (the 95%-in-10-s goal)
        before = max(2.0, scenario.outage[0] * scale)
        result.outage = (before, before + scenario.outage[1] - scenario.outage[0])
        seconds = result.outage[1] + max(10.0, (scenario.seconds - scenario.outage[1]) * scale)
        result.seconds = seconds
        faults["outage"] = [elapsed + result.outage[0], elapsed + result.outage[1]]
    if faults:
        await asyncio.to_thread(_admin, base, "/_emulator/faults", {"route": "*", **faults})
    deadline = start + seconds
    async with CONTENDERS[contender](base) as call:

        async def worker() -> None:
            while time.monotonic() < deadline:
                began = time.monotonic()
                ok = await call()
                result.calls.append((began - start, time.monotonic() - start, ok))
                await asyncio.sleep(0 if ok else FAIL_PAUSE)

        # calls still running at the deadline are cut off and not counted
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await asyncio.gather(*(worker() for _ in range(concurrency)))
    stats = await asyncio.to_thread(_admin, base, "/_emulator/stats")
    timeline = {int(k): v for k, v in stats["timeline"].items()}
    result.received = sum(n for sec, n in timeline.items() if sec >= math.floor(elapsed))
    if result.outage is not None:
        lo, hi = elapsed + result.outage[0], elapsed + result.outage[1]
        result.received_outage = sum(n for sec, n in timeline.items() if math.floor(lo) <= sec < math.ceil(hi))
    return result


# -- report ----------------------------------------------------------------------------------------


def _s(value: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def table(results: list[Result]) -> str:
    lines = [
        "| scenario | contender | calls | success | amplification | outage requests | to first success (s) "
        "| to 95% (s) | p50 (ms) | p99 (ms) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        p50, p99 = r.latency(0.5), r.latency(0.99)
        outage_mark = r.outage is not None
        lines.append(
            f"| {r.scenario} | {r.contender} | {len(r.calls)} | {r.success_rate():.2%} | {r.amplification():.2f} "
            f"| {_s(r.received_outage, '{:d}')} "
            f"| {_s(r.to_first_success()) if outage_mark else '-'} | {_s(r.to_95()) if outage_mark else '-'} "
            f"| {_s(p50 and p50 * 1000, '{:.0f}')} | {_s(p99 and p99 * 1000, '{:.0f}')} |"
        )
    return "\n".join(lines)


def plot(results: list[Result], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    scenarios = list(dict.fromkeys(r.scenario for r in results))
    contenders = list(dict.fromkeys(r.contender for r in results))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    width = 0.8 / max(1, len(contenders))
    for i, contender in enumerate(contenders):
        rates, amps = [], []
        for scenario in scenarios:
            match = [r for r in results if r.scenario == scenario and r.contender == contender]
            rates.append(match[0].success_rate() * 100 if match else 0)
            amps.append(min(match[0].amplification(), 10) if match else 0)
        xs = [x + i * width for x in range(len(scenarios))]
        axes[0].bar(xs, rates, width, label=contender)
        axes[1].bar(xs, amps, width, label=contender)
    for ax, title in ((axes[0], "success rate (%)"), (axes[1], "requests sent per successful call")):
        ax.set_xticks([x + width * (len(contenders) - 1) / 2 for x in range(len(scenarios))], scenarios)
        ax.set_title(title)
    axes[0].set_ylim(0, 105)
    axes[0].legend(loc="lower left", fontsize=8)
    # the outage as a time series: successful calls per second
    outage = [r for r in results if r.outage is not None]
    if outage:
        fig2, ax = plt.subplots(figsize=(13, 3.5))
        for r in outage:
            bins = [0] * (int(r.seconds) + 1)
            for _, end, ok in r.calls:
                if ok and end < r.seconds:
                    bins[int(end)] += 1
            ax.plot(range(len(bins)), bins, label=r.contender)
        assert outage[0].outage is not None
        ax.axvspan(*outage[0].outage, color="red", alpha=0.1, label="outage")
        ax.set_title("outage scenario: successful calls per second")
        ax.set_xlabel("seconds")
        ax.legend(fontsize=8)
        fig2.tight_layout()
        fig2.savefig(path.with_name(path.stem + "-outage.png"), dpi=90)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"Python {platform.python_version()}"]
    for name in ("vision-async", "httpx", "tenacity", "pybreaker", "azure-ai-vision-imageanalysis", "azure-core"):
        with contextlib.suppress(PackageNotFoundError):
            parts.append(f"{name} {version(name)}")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every duration (0.2: a quick run)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated: " + ",".join(SCENARIOS))
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated: " + ",".join(CONTENDERS))
    parser.add_argument("--concurrency", type=int, default=64, help="calls in flight (default 64)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown results file")
    parser.add_argument("--plot", type=Path, default=PLOT, help="PNG plot (needs matplotlib)")
    args = parser.parse_args(argv)
    scenarios = [SCENARIOS[name] for name in args.scenarios.split(",")]
    contenders = args.contenders.split(",")
    unknown = set(contenders) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders {sorted(unknown)}")
    if "azure-sdk" in contenders:
        try:
            import azure.ai.vision.imageanalysis.aio  # noqa: F401
        except ImportError:
            print("azure-ai-vision-imageanalysis (and aiohttp) not installed: skipping azure-sdk", file=sys.stderr)
            contenders.remove("azure-sdk")

    results: list[Result] = []
    started = time.time()
    with emulator_process() as base:
        for scenario in scenarios:
            for contender in contenders:
                result = asyncio.run(run_one(base, scenario, contender, scale=args.scale, concurrency=args.concurrency))
                results.append(result)
                print(
                    f"{scenario.name:10s} {contender:15s} calls={len(result.calls):6d} "
                    f"success={result.success_rate():.2%} amp={result.amplification():.2f} "
                    f"outage_requests={result.received_outage}",
                    flush=True,
                )
    text = table(results)
    print("\n" + text)
    lengths = {r.scenario: r.seconds for r in results}
    meanings = "\n".join(f"- `{s.name}`: {s.meaning} (ran {lengths.get(s.name, 0):g} s)" for s in scenarios)
    command = "python benchmarks/bench_resilience.py " + " ".join(argv if argv is not None else sys.argv[1:])
    body = (
        f"# Resilience scorecard\n\n`{command.strip()}` at "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}; "
        f"{args.concurrency} in flight, attempt timeout {TIMEOUT:g} s, durations x{args.scale:g}; {versions()}.\n"
        f"Timing figures are noisy (a shared 2-core machine).\n\n{meanings}\n\n{text}\n"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(body)
    if plot(results, args.plot):
        print(f"wrote {args.output} and {args.plot}")
    else:
        print(f"wrote {args.output} (no plot: matplotlib not installed; pip install 'vision-async[bench]')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
