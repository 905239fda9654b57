"""Resilience scorecard: each contender under each fault scenario, in the same run (a benchmark, not a test).

The emulator runs in a child process (uvicorn on 127.0.0.1, ``ocr="off"``); each scenario sets its
faults through the admin route and counts what the server received (``GET /_emulator/stats``: the
total, and requests per second of the emulator's clock, so requests during an outage are counted
server-side). Every contender keeps ``--concurrency`` (64) calls of Image Analysis 4.0 ``analyze``
(tags) in flight on asyncio for the scenario's duration, with a 5 s attempt timeout. A worker whose
call failed pauses 0.1 s before its next call (every contender alike), so that a fast refusal does not
spin.

Scenarios (durations at ``--scale 1``; every duration is whole seconds of the emulator's clock):

- ``transient``: 10% transient faults, 2.5% each: 500, 503, a dropped connection, a hang past the
  attempt timeout; 60 s.
- ``outage``: 10 s healthy, a 15 s outage (every request 503), 20 s healthy. ``--scale`` shortens the
  healthy periods (to at least 2 s before and 10 s after), never the outage; ``--outage-seconds``
  changes its length.
- ``storm``: a 429 storm: the server limited to 40 requests/s, against 64 in flight; 40 s.
- ``spikes``: latency spikes: answers take 50 ms, a tenth of them 500 ms (10x); 40 s.
- ``drip``: a slow drip of hung connections: one request per second hangs; 60 s.

Each run starts on a whole second of the emulator's clock (its per-second request counts,
``Stats.timeline``, are kept per whole second), and the outage's healthy and failing periods are whole
seconds from there: the outage's requests are exactly those of its seconds of the timeline.

Contenders: ``default`` (``VisionClient(url, key, timeout=5)``), ``breaker=None`` (the same without its
circuit breaker), ``azure-sdk`` (Microsoft's ``azure-ai-vision-imageanalysis`` aio client with its own
default retry policy, 5 s connection and read timeouts), ``httpx+tenacity`` (a hand-written loop as
users write it: ``httpx.AsyncClient(timeout=5)``, tenacity retrying 429/5xx and transport errors with
exponential backoff, five attempts).

Figures, over the calls that finished in the run (calls still running at its end are not counted):

- *refused*: calls that ended with the client's own fast refusal (``CircuitOpenError``) without having
  sent a request (only the default client has a breaker; a call refused on a retry, after a request
  was sent, counts as a failure);
- *success*: successes / finished calls; *success, refusals aside*: successes / (finished calls -
  refused). A breaker fails fast during an outage, so many more of its calls end (refused in
  microseconds): read the two together, with the outage requests;
- *amplification*: requests the server received per successful call;
- *outage requests*: requests the server received in the outage's seconds;
- *to first success*: seconds from the service's recovery to the end of the first call that succeeds;
  *to 95%*: seconds from the recovery until 95% of the calls ending from then on (to the run's end)
  succeed, never before the first success; *success in 10 s after recovery*: the share of the calls
  ending in the 10 s after the recovery that succeed (the issue's goal: 95%);
- *p50* and *p99* latency of successful calls, retries included.

    python benchmarks/bench_resilience.py                        # everything, about 16 minutes
    python benchmarks/bench_resilience.py --scale 0.2            # a quick run (durations x0.2)
    python benchmarks/bench_resilience.py --scenarios outage --contenders default,breaker=None

Writes ``benchmarks/results/resilience-latest.md`` and, with matplotlib (the ``bench`` extra),
``docs/assets/resilience-scorecard.png`` (success and amplification per scenario and contender) and
``docs/assets/resilience-scorecard-outage.png`` (the outage second by second: requests the server
received, calls that succeeded, calls refused). Wall-clock figures on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import dataclasses
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
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
IMAGE = (ROOT / "samples" / "shapes.png").read_bytes()
RESULTS = ROOT / "benchmarks" / "results" / "resilience-latest.md"
PLOT = ROOT / "docs" / "assets" / "resilience-scorecard.png"
V4_PATH = "/computervision/imageanalysis:analyze"
TIMEOUT = 5.0
FAIL_PAUSE = 0.1
RECOVERY_WINDOW = 10  # seconds after the recovery in which the goal wants 95% success
LEAD = 0.3  # at least this long (s) between setting a run up and its first call


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


def _clock_offset(base: str) -> float:
    """The emulator's clock (``elapsed``) minus this process's ``time.monotonic()``: the best of a few
    round trips, each read as the emulator's reading at the trip's midpoint."""
    best: tuple[float, float] | None = None
    for _ in range(5):
        sent = time.monotonic()
        elapsed = float(_admin(base, "/_emulator/stats")["elapsed"])
        back = time.monotonic()
        if best is None or back - sent < best[0]:
            best = (back - sent, elapsed - (sent + back) / 2)
    assert best is not None
    return best[1]


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
    seconds: int
    faults: dict[str, Any]
    outage: tuple[int, int] | None = None  # seconds from the start of the run, at scale 1

    def periods(self, scale: float) -> tuple[int, tuple[int, int] | None]:
        """The run's length and its outage (start, end), in whole seconds from its start, at ``scale``.

        The outage keeps its length (retries span seconds: a scaled-down outage is bridged by them);
        the healthy periods scale, to at least 2 s before and :data:`RECOVERY_WINDOW` after."""
        if self.outage is None:
            return max(1, round(self.seconds * scale)), None
        before = max(2, round(self.outage[0] * scale))
        end = before + self.outage[1] - self.outage[0]
        after = max(RECOVERY_WINDOW, round((self.seconds - self.outage[1]) * scale))
        return end + after, (before, end)


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "transient",
            "10% transient faults, 2.5% each: 500, 503, dropped connection, hang past the attempt timeout",
            60,
            {"p500": 0.025, "p503": 0.025, "p_drop": 0.025, "p_hang": 0.025},
        ),
        Scenario("outage", "a 15 s outage (every request 503) between healthy periods", 45, {}, (10, 25)),
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


# -- contenders: each yields a coroutine function making one call and saying how it ended ---------

#: ``ok``: succeeded; ``refused``: the client's own breaker refused it before anything was sent;
#: ``failed``: anything else.
Outcome = Literal["ok", "refused", "failed"]
Call = Callable[[], Awaitable[Outcome]]

#: The requests the current call sent before its last attempt (one per retry), for the default client.
_RETRIED: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("bench_retried", default=None)


@contextlib.asynccontextmanager
async def default_client(base: str, *, breaker: bool) -> Any:
    from vision_async import CircuitOpenError, RetryEvent, VisionClient, VisionError

    stray = [0]  # retries told outside any call's context: the refusal count would be unreliable

    def on_retry(event: RetryEvent) -> None:
        if isinstance(event.error, CircuitOpenError):
            return  # a refused attempt sent nothing
        retried = _RETRIED.get()
        if retried is None:
            stray[0] += 1
        else:
            retried[0] += 1

    options: dict[str, Any] = {} if breaker else {"breaker": None}
    async with VisionClient(base, "bench-key", timeout=TIMEOUT, on_retry=on_retry, **options) as client:

        async def call() -> Outcome:
            retried = [0]
            token = _RETRIED.set(retried)
            try:
                await client.v4.analyze(IMAGE, features=["tags"])
            except CircuitOpenError:
                # refused by the breaker: on the first attempt nothing was sent; on a retry, the
                # attempts before it were, and the call is an ordinary failure
                return "refused" if retried[0] == 0 else "failed"
            except VisionError:
                return "failed"
            finally:
                _RETRIED.reset(token)
            return "ok"

        yield call
    if stray[0]:
        print(f"warning: {stray[0]} retries told outside their call: refusals may be overcounted", file=sys.stderr)


@contextlib.asynccontextmanager
async def azure_sdk(base: str) -> Any:
    from azure.ai.vision.imageanalysis.aio import ImageAnalysisClient
    from azure.ai.vision.imageanalysis.models import VisualFeatures
    from azure.core.credentials import AzureKeyCredential
    from azure.core.exceptions import AzureError

    async with ImageAnalysisClient(base, AzureKeyCredential("bench-key")) as client:

        async def call() -> Outcome:
            try:
                await client.analyze(
                    image_data=IMAGE,
                    visual_features=[VisualFeatures.TAGS],
                    connection_timeout=TIMEOUT,
                    read_timeout=TIMEOUT,
                )
            except (TimeoutError, AzureError, OSError):
                return "failed"
            return "ok"

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

        async def call() -> Outcome:
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
                return "failed"
            return "ok"

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
    """One contender in one scenario. Times are seconds from the run's start, which is a whole second
    of the emulator's clock: second ``k`` of the run is second ``k`` of ``timeline``."""

    scenario: str
    contender: str
    seconds: int
    calls: list[tuple[float, float, Outcome]] = field(default_factory=list)  # (start, end, outcome)
    timeline: list[int] = field(default_factory=list)  # requests the server received in each second
    outage: tuple[int, int] | None = None
    unfinished: int = 0  # calls still running at the run's end (cut off, not in ``calls``)

    @property
    def successes(self) -> list[tuple[float, float, Outcome]]:
        return [c for c in self.calls if c[2] == "ok"]

    @property
    def received(self) -> int:
        return sum(self.timeline)

    @property
    def received_outage(self) -> int | None:
        if self.outage is None:
            return None
        return sum(self.timeline[self.outage[0] : self.outage[1]])

    def refused(self) -> int:
        return sum(outcome == "refused" for _, _, outcome in self.calls)

    def success_rate(self) -> float:
        return len(self.successes) / len(self.calls) if self.calls else 0.0

    def success_rate_sent(self) -> float:
        """Successes among the calls that were not refused (that sent at least one request)."""
        sent = len(self.calls) - self.refused()
        return len(self.successes) / sent if sent else 0.0

    def amplification(self) -> float:
        return self.received / len(self.successes) if self.successes else math.inf

    def latency(self, q: float) -> float | None:
        durations = sorted(end - start for start, end, _ in self.successes)
        if not durations:
            return None
        return durations[min(len(durations) - 1, int(q * len(durations)))]

    def to_first_success(self) -> float | None:
        """Seconds from the service's recovery to the end of the first call that succeeds after it."""
        if self.outage is None:
            return None
        recovery = self.outage[1]
        ends = [end for _, end, outcome in self.calls if outcome == "ok" and end >= recovery]
        return min(ends) - recovery if ends else None

    def to_95(self) -> float | None:
        """Seconds from the recovery until 95% of the calls ending from then on (to the run's end)
        succeed; never before the first success (``None``: never in the run)."""
        first = self.to_first_success()
        if self.outage is None or first is None:
            return None
        recovery = self.outage[1]
        after = sorted((end, outcome == "ok") for _, end, outcome in self.calls if end >= recovery)
        good = sum(ok for _, ok in after)
        since = 0.0  # the calls ending from ``recovery + since`` on are after[i:]
        for i, (end, ok) in enumerate(after):
            if good >= 0.95 * (len(after) - i):
                return max(first, since)
            good -= ok
            since = end - recovery
        return None

    def success_after_recovery(self, window: float = RECOVERY_WINDOW) -> float | None:
        """The share of the calls ending in the ``window`` seconds after the recovery that succeed."""
        if self.outage is None:
            return None
        recovery = self.outage[1]
        ended = [outcome == "ok" for _, end, outcome in self.calls if recovery <= end < recovery + window]
        return sum(ended) / len(ended) if ended else None

    def per_second(self, outcome: Outcome) -> list[int]:
        """Calls with ``outcome`` per second of the run, by the second they ended in."""
        bins = [0] * self.seconds
        for _, end, got in self.calls:
            if got == outcome and 0 <= end < self.seconds:
                bins[int(end)] += 1
        return bins


async def run_one(base: str, scenario: Scenario, contender: str, *, scale: float, concurrency: int) -> Result:
    await asyncio.to_thread(lambda: _admin(base, "/_emulator/reset", method="POST"))
    seconds, outage = scenario.periods(scale)
    result = Result(scenario.name, contender, seconds, outage=outage)
    async with CONTENDERS[contender](base) as call:
        offset = await asyncio.to_thread(_clock_offset, base)
        # the run starts on the emulator's next whole second at least LEAD away; its periods are whole
        # seconds from there, so they fall on the seconds of the emulator's timeline
        origin = math.ceil(time.monotonic() + offset + LEAD)
        start = origin - offset  # the same instant on this process's clock
        deadline = start + seconds
        faults = dict(scenario.faults)
        if outage is not None:
            faults["outage"] = [origin + outage[0], origin + outage[1]]
        if faults:
            await asyncio.to_thread(_admin, base, "/_emulator/faults", {"route": "*", **faults})

        async def worker() -> None:
            while time.monotonic() < deadline:
                began = time.monotonic()
                result.unfinished += 1
                outcome = await call()
                result.unfinished -= 1
                result.calls.append((began - start, time.monotonic() - start, outcome))
                await asyncio.sleep(0 if outcome == "ok" else FAIL_PAUSE)

        await asyncio.sleep(max(0.0, start - time.monotonic()))
        # calls still running at the deadline are cut off and not counted
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await asyncio.gather(*(worker() for _ in range(concurrency)))
    stats = await asyncio.to_thread(_admin, base, "/_emulator/stats")
    timeline = {int(k): int(v) for k, v in stats["timeline"].items()}
    # every request since the reset is this run's (a straggler arriving after its end counts in its
    # last second; one before its start, in its first)
    result.timeline = [timeline.get(origin + k, 0) for k in range(seconds)]
    result.timeline[0] += sum(n for sec, n in timeline.items() if sec < origin)
    result.timeline[-1] += sum(n for sec, n in timeline.items() if sec >= origin + seconds)
    return result


# -- report ----------------------------------------------------------------------------------------


def _s(value: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


COLUMNS = (
    "scenario",
    "contender",
    "calls",
    "refused",
    "success",
    "success, refusals aside",
    "amplification",
    "outage requests",
    "to first success (s)",
    "to 95% (s)",
    f"success in {RECOVERY_WINDOW} s after recovery",
    "p50 (ms)",
    "p99 (ms)",
)


def table(results: list[Result]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in results:
        cells = (
            r.scenario,
            r.contender,
            f"{len(r.calls)}",
            f"{r.refused()}",
            f"{r.success_rate():.2%}",
            f"{r.success_rate_sent():.2%}",
            f"{r.amplification():.2f}",
            _s(r.received_outage, "{:d}"),
            _s(r.to_first_success()),
            _s(r.to_95()),
            _s(r.success_after_recovery(), "{:.2%}"),
            _ms(r.latency(0.5)),
            _ms(r.latency(0.99)),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: list[Result], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError:
        return False
    scenarios = list(dict.fromkeys(r.scenario for r in results))
    contenders = list(dict.fromkeys(r.contender for r in results))
    colors = {c: f"C{i}" for i, c in enumerate(contenders)}
    found = {(r.scenario, r.contender): r for r in results}
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    width = 0.8 / max(1, len(contenders))
    amp_cap = 5.0
    amp_top = 1.0
    for i, contender in enumerate(contenders):
        xs = [x + i * width for x in range(len(scenarios))]
        runs = [found.get((scenario, contender)) for scenario in scenarios]
        raw = [r.success_rate() * 100 if r else 0.0 for r in runs]
        aside = [r.success_rate_sent() * 100 if r else 0.0 for r in runs]
        amps = [min(r.amplification(), amp_cap) if r else 0.0 for r in runs]
        # refusals aside, behind: where it differs from the raw share, the difference shows hatched
        axes[0].bar(xs, aside, width, color=colors[contender], alpha=0.35, hatch="///", edgecolor=colors[contender])
        axes[0].bar(xs, raw, width, color=colors[contender], label=contender)
        axes[1].bar(xs, amps, width, color=colors[contender], label=contender)
        amp_top = max(amp_top, *amps)
        for x, r in zip(xs, runs, strict=True):
            if r is None:
                continue
            # the share on every bar short of 100%: 98% and 100% look alike on a 0-100 axis
            # (the share of finished calls inside its bar, refusals aside above the hatched one)
            low, high = r.success_rate() * 100, r.success_rate_sent() * 100
            label = {"ha": "center", "fontsize": 6, "rotation": 90}
            if high - low >= 0.5:
                axes[0].annotate(f"{high:.1f}", (x, high + 0.5), va="bottom", **label)
            if low < 99.95:
                inside = low >= 15
                axes[0].annotate(
                    f"{low:.1f}",
                    (x, low - 1 if inside else low + 0.5),
                    va="top" if inside else "bottom",
                    color="white" if inside else "black",
                    **label,
                )
            amp = r.amplification()
            axes[1].annotate(
                f"{amp:.2f}" if amp <= amp_cap else f"{amp:.1f} (cut)",
                (x, min(amp, amp_cap)),
                ha="center",
                va="bottom",
                fontsize=6,
                rotation=90,
            )
    ticks = [x + width * (len(contenders) - 1) / 2 for x in range(len(scenarios))]
    axes[0].set_title("success (%) of finished calls (solid); refusals aside (hatched)")
    axes[0].set_ylim(0, 110)
    handles, _ = axes[0].get_legend_handles_labels()
    handles.append(Patch(facecolor="grey", alpha=0.35, hatch="///", label="success, refusals aside"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, frameon=False)
    axes[1].set_title("amplification: requests the server received per successful call")
    axes[1].set_ylim(0, amp_top * 1.2)
    axes[1].axhline(1, color="grey", linewidth=0.6)
    for ax in axes:
        ax.set_xticks(ticks, scenarios)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    outage = [r for r in results if r.outage is not None]
    if outage:
        _plot_outage(plt, outage, colors, path.with_name(path.stem + "-outage.png"))
    return True


def _plot_outage(plt: Any, runs: list[Result], colors: dict[str, str], path: Path) -> None:
    """The outage second by second: requests at the server, and calls ending succeeded or refused."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(14, 7), sharex=True)
    for r in runs:
        edges = range(r.seconds + 1)
        color = colors[r.contender]
        top.stairs(
            r.timeline, edges, baseline=None, color=color, label=f"{r.contender}: {r.received_outage} in the outage"
        )
        bottom.stairs(r.per_second("ok"), edges, baseline=None, color=color, label=f"{r.contender}: succeeded")
        refused = r.per_second("refused")
        if any(refused):
            bottom.stairs(refused, edges, baseline=None, color=color, linestyle=":", label=f"{r.contender}: refused")
    start, end = runs[0].outage or (0, 0)
    for ax in (top, bottom):
        ax.axvspan(start, end, color="red", alpha=0.08, label="outage")
        ax.axvspan(end, end + RECOVERY_WINDOW, color="green", alpha=0.08, label=f"{RECOVERY_WINDOW} s after recovery")
        ax.set_yscale("symlog", linthresh=10, linscale=0.5)  # a few probes a second beside hundreds
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
    top.set_title("outage scenario: requests the server received per second (emulator's timeline; log scale)")
    bottom.set_title("calls ending per second at the client: succeeded (solid), refused by the breaker (dotted)")
    bottom.set_xlabel("seconds from the run's start")
    for ax in (top, bottom):
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), framealpha=0.9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


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
    parser.add_argument(
        "--outage-seconds",
        type=int,
        default=15,
        help="the outage's length (default 15; another length tells whether a recovery figure hangs on how "
        "the breaker's break durations happen to add up to it)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown results file")
    parser.add_argument("--plot", type=Path, default=PLOT, help="PNG plot (needs matplotlib)")
    args = parser.parse_args(argv)
    scenarios = [SCENARIOS[name] for name in args.scenarios.split(",")]
    if args.outage_seconds != 15:
        if args.outage_seconds < 1:
            parser.error("--outage-seconds must be at least 1")
        n = args.outage_seconds
        longer = dataclasses.replace(
            SCENARIOS["outage"],
            meaning=f"a {n} s outage (every request 503) between healthy periods",
            seconds=10 + n + 20,
            outage=(10, 10 + n),
        )
        scenarios = [longer if s.name == "outage" else s for s in scenarios]
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
                    f"{scenario.name:10s} {contender:15s} calls={len(result.calls):6d} refused={result.refused():6d} "
                    f"success={result.success_rate():.2%} (refusals aside {result.success_rate_sent():.2%}) "
                    f"amp={result.amplification():.2f} outage_requests={result.received_outage} "
                    f"unfinished={result.unfinished}",
                    flush=True,
                )
    text = table(results)
    print("\n" + text)
    meanings = []
    for s in scenarios:
        seconds, outage = s.periods(args.scale)
        when = ""
        if outage is not None:
            when = f"{outage[0]} s healthy, {outage[1] - outage[0]} s outage, {seconds - outage[1]} s healthy; "
        meanings.append(f"- `{s.name}`: {s.meaning} ({when}ran {seconds} s)")
    command = "python benchmarks/bench_resilience.py " + " ".join(argv if argv is not None else sys.argv[1:])
    body = (
        f"# Resilience scorecard\n\n`{command.strip()}` at "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}; "
        f"{args.concurrency} in flight, attempt timeout {TIMEOUT:g} s, durations x{args.scale:g}; {versions()}.\n"
        f"Timing figures are noisy (a shared 2-core machine).\n\n" + "\n".join(meanings) + "\n\n"
        f"*refused*: calls the client's own breaker refused before sending anything; *success, refusals "
        f"aside*: successes / (calls - refused); *to 95%*: until 95% of the calls ending from then on "
        f"succeed; *success in {RECOVERY_WINDOW} s after recovery*: of the calls ending then.\n\n{text}\n"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(body)
    if plot(results, args.plot):
        print(f"wrote {args.output}, {args.plot} and {args.plot.with_name(args.plot.stem + '-outage.png')}")
    else:
        print(f"wrote {args.output} (no plot: matplotlib not installed; pip install 'vision-async[bench]')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
