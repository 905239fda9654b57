"""What tracing and metrics cost (issue 18).

    python benchmarks/bench_otel.py [--calls 20000] [--rounds 5] [--before COMMIT]

1. No provider (the default): ``client.tag(url)`` over an in-memory transport, per call, for this
   tree and for ``--before`` (a commit without the instrumentation, exported with ``git archive``),
   in alternating fresh interpreters in the same run; the median of ``--rounds`` each, and the
   difference (the issue's bound: at most 1 us).
2. The OpenTelemetry SDK configured (a TracerProvider with a SimpleSpanProcessor into the
   in-memory exporter, and a MeterProvider with an in-memory reader): the same loop, against no
   provider, in the same interpreter; the overhead per call.

``--callgrind`` instead prints the instructions per ``tag()`` (valgrind's callgrind, both trees,
no provider): a count, not a time, so the shared machine's noise does not matter.
Writes ``otel-latest.md`` beside the other results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LOOP = r"""
import asyncio, json, sys, time
from pathlib import Path
import anyio.lowlevel
from vision_async import VisionClient
from vision_async._transports.base import RawResponse, ResponseHeaders, TransportStats

BODY = (Path(sys.argv[1]) / "tests" / "fixtures" / "v3.2" / "tag_image.json").read_bytes()
HEADERS = {"content-type": "application/json; charset=utf-8", "apim-request-id": "bench"}
N = int(sys.argv[2])
MODE = sys.argv[3]  # none | sdk | emulator (no provider, the in-process emulator behind the client)


class InMemory:
    def __init__(self):
        self.ok = RawResponse(200, "OK", ResponseHeaders(HEADERS.items()), BODY)

    async def send(self, request):
        await anyio.lowlevel.checkpoint()
        return self.ok

    async def aclose(self):
        return None

    def stats(self):
        return TransportStats(0, 0, 0, 0)


def client(**options):
    return VisionClient("https://bench.cognitiveservices.azure.com", "benchmark-key", transport=InMemory(), **options)


async def loop(c, n):
    tag = c.tag
    url = "https://example.com/house.jpg"
    for _ in range(min(200, n)):
        await tag(url)
    start = time.perf_counter()
    for _ in range(n):
        await tag(url)
    return (time.perf_counter() - start) / n * 1e6


async def main():
    out = {}
    if MODE == "emulator":
        import io
        from PIL import Image
        from vision_async.emulator import Emulator, EmulatorTransport

        em = Emulator(ocr="off")
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), (200, 30, 30)).save(buf, format="PNG")
        em.add_url("https://example.com/house.jpg", buf.getvalue())
        async with VisionClient("https://e.test", "k", transport=EmulatorTransport(em)) as c:
            out["none"] = await loop(c, N)
        print(json.dumps(out))
        return
    async with client() as c:
        out["none"] = await loop(c, N)
    if MODE == "sdk":
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        tracer = TracerProvider()
        tracer.add_span_processor(SimpleSpanProcessor(exporter))
        meter = MeterProvider(metric_readers=[InMemoryMetricReader()])
        async with client(tracer_provider=tracer, meter_provider=meter) as c:
            out["traces+metrics"] = await loop(c, N)
            exporter.clear()
        async with client(tracer_provider=tracer, tracing=True) as c:
            out["traces"] = await loop(c, N)
            exporter.clear()
        async with client(meter_provider=meter, tracing=False) as c:
            out["metrics"] = await loop(c, N)
        async with client() as c:
            out["none (again)"] = await loop(c, N)
    print(json.dumps(out))


asyncio.run(main())
"""


def export(commit: str) -> Path:
    target = Path(tempfile.mkdtemp(prefix="vision-async-before-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def run(tree: Path, calls: int, mode: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", LOOP, str(tree), str(calls), mode], capture_output=True, text=True, env=env, check=True
    )
    return dict(json.loads(out.stdout.splitlines()[-1]))


def callgrind(tree: Path, calls: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        outfile = Path(tmp) / "cg.out"
        env = {**os.environ, "PYTHONPATH": str(tree)}
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={outfile}",
                sys.executable,
                "-c",
                LOOP,
                str(tree),
                str(calls),
                "emulator",
            ],
            capture_output=True,
            env=env,
            check=True,
        )
        for line in outfile.read_text().splitlines():
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError("no callgrind summary")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", default="8c38199")
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    before = export(args.before)
    lines = [f"# Tracing and metrics costs (`python benchmarks/bench_otel.py`, before = {args.before})", ""]
    if args.callgrind:
        small, large = max(1, args.calls // 5), args.calls
        rows = []
        for name, tree in (("before", before), ("after", ROOT)):
            per_call = (callgrind(tree, large) - callgrind(tree, small)) / (large - small)
            rows.append((name, per_call))
            print(f"{name}: {per_call:,.0f} instructions per tag() (no provider)", flush=True)
        lines += ["| tree | instructions per tag() against the in-process emulator, no provider |", "|---|---|"]
        lines += [f"| {name} | {n:,.0f} |" for name, n in rows]
        lines.append(f"\nafter / before: {rows[1][1] / rows[0][1]:.4f} ({rows[1][1] - rows[0][1]:+,.0f} instructions)")
    else:
        results: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.rounds):
            results["before"].append(run(before, args.calls, "none")["none"])
            results["after"].append(run(ROOT, args.calls, "none")["none"])
        b, a = statistics.median(results["before"]), statistics.median(results["after"])
        lines += [
            "## No provider: before and after, alternating fresh interpreters",
            "",
            "| tree | us per tag() (median of rounds) | rounds |",
            "|---|---|---|",
            f"| before | {b:.2f} | {', '.join(f'{x:.2f}' for x in results['before'])} |",
            f"| after | {a:.2f} | {', '.join(f'{x:.2f}' for x in results['after'])} |",
            "",
            f"after - before: {a - b:+.2f} us per call (ratio {a / b:.3f})",
            "",
        ]
        sdk = [run(ROOT, args.calls, "sdk") for _ in range(args.rounds)]
        keys = list(sdk[0])
        med = {k: statistics.median(r[k] for r in sdk) for k in keys}
        lines += ["## The SDK configured (in-memory exporter and reader), same interpreter", ""]
        lines += ["| setting | us per tag() | ratio to none |", "|---|---|---|"]
        lines += [f"| {k} | {med[k]:.2f} | {med[k] / med['none']:.2f} |" for k in keys]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / ("otel-callgrind-latest.md" if args.callgrind else "otel-latest.md")).write_text(text)


if __name__ == "__main__":
    main()
