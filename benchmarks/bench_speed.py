"""Speed under concurrency: vision_async against raw httpx, raw aiohttp and Microsoft's SDKs.

    pip install -e '.[bench]'            # aiohttp, Microsoft's SDKs, matplotlib
    python benchmarks/bench_speed.py     # writes benchmarks/results/speed-latest.{md,png}

What it does, in one run:

1. Starts a fast local server on 127.0.0.1 answering POST /vision/v3.2/tag (and the 4.0 analyze
   path) with Azure-shaped JSON: nginx when it is installed, else a minimal asyncio server of
   this file. Either way it measures the server alone first (a pipelining raw-socket load
   generator) and reports whether it is at least 3x faster than the fastest client.
2. Pins the server to one core and every client to another (when the machine has two or more).
3. For each contender and each number of requests in flight (1, 16, 64, 256), runs a closed
   loop in a fresh process for ``--seconds`` and records req/s, p50, p99 and the client's CPU
   time per request; ``--reps`` repetitions, the median reported with the spread (min-max).
4. Writes a markdown table (machine, library versions, ratios to raw httpx of the same run, the
   issue-9 goals met or not) and a PNG chart (req/s and p99 against requests in flight).

Contenders: raw ``httpx.AsyncClient``; raw ``aiohttp``; vision_async with its default transport
on asyncio and on trio; vision_async with ``transport="aiohttp"`` (the ``speed`` extra); Microsoft's
4.0 async SDK (azure-ai-vision-imageanalysis) and the v3.2 SDK (azure-cognitiveservices-vision-
computervision, synchronous: 1 in flight only). Missing packages are skipped with a note. Every
configurable client gets max(100, in flight) connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEY = "benchmark-key"
IMAGE_URL = "https://example.com/house.jpg"
TAG_PATH = "/vision/v3.2/tag"
BODY = json.dumps(
    json.loads((ROOT / "tests" / "fixtures" / "v3.2" / "tag_image.json").read_text()), separators=(",", ":")
)
V4_BODY = json.dumps(
    {
        "modelVersion": "2023-10-01",
        "metadata": {"width": 400, "height": 400},
        "tagsResult": {"values": [{"name": "grass", "confidence": 0.99}, {"name": "house", "confidence": 0.93}]},
    },
    separators=(",", ":"),
)
REQUEST_ID = "1ad0e45e-b7b4-4be3-8042-53be96103337"

# name -> (label, async backend or "sync", packages it needs)
CONTENDERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "httpx": ("raw httpx.AsyncClient", "asyncio", ("httpx",)),
    "aiohttp": ("raw aiohttp", "asyncio", ("aiohttp",)),
    "va": ("vision_async default (asyncio)", "asyncio", ()),
    "va-trio": ("vision_async default (trio)", "trio", ("trio",)),
    "va-aiohttp": ('vision_async transport="aiohttp"', "asyncio", ("aiohttp",)),
    "sdk4": ("Microsoft 4.0 async SDK", "asyncio", ("azure-ai-vision-imageanalysis", "aiohttp")),
    "pool-bare": ("(transport alone) default pool, asyncio", "asyncio", ()),
    "pool-bare-trio": ("(transport alone) default pool, trio", "trio", ("trio",)),
    "aiohttp-bare": ("(transport alone) aiohttp transport", "asyncio", ("aiohttp",)),
    "sdk32": ("Microsoft v3.2 SDK (sync)", "sync", ("azure-cognitiveservices-vision-computervision", "msrest")),
}
VERSIONED = (
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "trio",
    "aiohttp",
    "azure-ai-vision-imageanalysis",
    "azure-core",
    "azure-cognitiveservices-vision-computervision",
    "msrest",
)


# -- servers -------------------------------------------------------------------------------------


def _http_response(body: str, *, request_id: bool) -> bytes:
    extra = f"apim-request-id: {REQUEST_ID}\r\n" if request_id else ""
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
        f"{extra}Content-Length: {len(body.encode())}\r\n\r\n"
    )
    return head.encode() + body.encode()


class _Canned(asyncio.Protocol):
    """The fallback server: answers every complete request on a keep-alive connection."""

    V3 = _http_response(BODY, request_id=True)
    V4 = _http_response(V4_BODY, request_id=False)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buffer[:end].lower()
            marker = head.find(b"content-length:")
            length = int(head[marker + 15 :].split(b"\r\n", 1)[0]) if marker >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                break
            out.append(self.V4 if b"imageanalysis" in head.split(b"\r\n", 1)[0] else self.V3)
            self.buffer = self.buffer[end + 4 + length :]
        if out:
            self.transport.write(b"".join(out))


def serve_fallback(port: int) -> None:
    """Run the fallback server (in its own process)."""

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Canned, "127.0.0.1", port, backlog=4096)
        await server.serve_forever()

    with contextlib.suppress(ImportError):
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    asyncio.run(main())


NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
error_log {tmp}/error.log warn;
pid {tmp}/nginx.pid;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_body_buffer_size 64k;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        default_type "application/json; charset=utf-8";
        location /vision/ {{
            add_header apim-request-id {request_id} always;
            return 200 '{body}';
        }}
        location /computervision/ {{
            return 200 '{v4_body}';
        }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("the server did not start listening")


@contextlib.contextmanager
def running_server(kind: str, cpu: int | None) -> Iterator[tuple[str, str]]:
    """Start the server (pinned to ``cpu``); yields (base URL, description)."""
    port = _free_port()
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    with tempfile.TemporaryDirectory(prefix="vision-bench-") as tmp:
        if kind == "nginx" or (kind == "auto" and nginx):
            if not nginx:
                raise SystemExit("nginx is not installed (apt-get install nginx), or use --server python")
            conf = Path(tmp) / "nginx.conf"
            conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, body=BODY, v4_body=V4_BODY, request_id=REQUEST_ID))
            version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
            command = [nginx, "-c", str(conf), "-p", tmp]
            description = f"{version.replace('nginx version: ', '')}, 1 worker"
        else:
            command = [sys.executable, __file__, "--serve", str(port)]
            description = "the minimal asyncio server of bench_speed.py (nginx not installed)"
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if cpu is not None:
                os.sched_setaffinity(process.pid, {cpu})
            _wait_listening(port, process)
            yield f"http://127.0.0.1:{port}", description
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def server_capacity(base: str, seconds: float) -> float:
    """Requests/second the server alone sustains: 16 connections, 64 pipelined requests each."""
    port = int(base.rsplit(":", 1)[1])
    body = json.dumps({"url": IMAGE_URL}, separators=(",", ":")).encode()
    request = (
        f"POST {TAG_PATH}?language=en HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Ocp-Apim-Subscription-Key: {KEY}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    async def connection(deadline: float) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        done = 0
        while time.perf_counter() < deadline:
            writer.write(request * 64)
            seen = 0
            while seen < 64:
                seen += (await reader.read(1 << 20)).count(b"HTTP/1.1 200")
            done += seen
        writer.close()
        return done

    async def main() -> float:
        start = time.perf_counter()
        counts = await asyncio.gather(*(connection(start + seconds) for _ in range(16)))
        return sum(counts) / (time.perf_counter() - start)

    return asyncio.run(main())


# -- clients (each measured in its own process) ---------------------------------------------------


async def _closed_loop(send: Callable[[], Awaitable[object]], in_flight: int, seconds: float) -> dict[str, Any]:
    """``in_flight`` workers sending back to back; a warm-up at the same concurrency first (so
    that every connection is open and every cache warm), then ``seconds`` measured."""
    import anyio

    latencies: list[float] = []
    errors = 0
    deadline = 0.0
    clock = time.perf_counter

    async def worker() -> None:
        nonlocal errors
        while clock() < deadline:
            began = clock()
            try:
                await send()
            except Exception:
                errors += 1
            latencies.append(clock() - began)

    async def run(length: float) -> tuple[float, float]:
        nonlocal deadline
        cpu0 = time.process_time()
        start = clock()
        deadline = start + length
        async with anyio.create_task_group() as tg:
            for _ in range(in_flight):
                tg.start_soon(worker)
        return clock() - start, time.process_time() - cpu0

    await run(min(1.0, max(0.3, seconds / 4)))  # warm-up
    latencies.clear()
    errors = 0
    wall, cpu = await run(seconds)
    return _summary(latencies, wall, cpu, errors)


def _summary(latencies: list[float], wall: float, cpu: float, errors: int) -> dict[str, Any]:
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": errors,
        "rps": n / wall,
        "p50_ms": latencies[n // 2] * 1000,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000,
        "cpu_us": cpu / n * 1e6,
    }


def _limit(in_flight: int) -> int:
    return max(100, in_flight)


async def run_httpx(base: str, in_flight: int, seconds: float) -> dict[str, Any]:
    import httpx

    limits = httpx.Limits(max_connections=_limit(in_flight), max_keepalive_connections=_limit(in_flight))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def send() -> object:
            response = await client.post(
                TAG_PATH,
                params={"language": "en", "model-version": "latest"},
                json={"url": IMAGE_URL},
                headers={"Ocp-Apim-Subscription-Key": KEY},
            )
            response.raise_for_status()
            return response.json()

        return await _closed_loop(send, in_flight, seconds)


async def run_aiohttp(base: str, in_flight: int, seconds: float) -> dict[str, Any]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=_limit(in_flight))
    async with aiohttp.ClientSession(base, connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def send() -> object:
            async with session.post(
                TAG_PATH,
                params={"language": "en", "model-version": "latest"},
                json={"url": IMAGE_URL},
                headers={"Ocp-Apim-Subscription-Key": KEY},
            ) as response:
                response.raise_for_status()
                return await response.json()

        return await _closed_loop(send, in_flight, seconds)


async def run_vision(base: str, in_flight: int, seconds: float, transport: str | None = None) -> dict[str, Any]:
    from vision_async import VisionClient

    options: dict[str, Any] = {"max_connections": _limit(in_flight)}
    if transport is not None:
        options["transport"] = transport
    async with VisionClient(base, KEY, **options) as client:

        async def send() -> object:
            return await client.tag(IMAGE_URL)

        return await _closed_loop(send, in_flight, seconds)


async def run_bare(base: str, in_flight: int, seconds: float, kind: str) -> dict[str, Any]:
    """The transport alone, without the client's pipeline: what the pipeline costs is the gap."""
    from vision_async._transports.base import OutgoingRequest
    from vision_async._transports.pool import PoolTransport

    class Key:
        def reveal(self) -> str:
            return KEY

    transport: Any
    if kind == "aiohttp":
        from vision_async._transports.aiohttp import AiohttpTransport

        transport = AiohttpTransport(max_connections=_limit(in_flight))
    else:
        transport = PoolTransport(max_connections=_limit(in_flight))
    request = OutgoingRequest(
        "POST",
        f"{base}{TAG_PATH}?language=en&model-version=latest",
        (("Accept", "application/json"), ("Content-Type", "application/json"), ("Ocp-Apim-Subscription-Key", Key())),
        json.dumps({"url": IMAGE_URL}).encode(),
        30.0,
        1 << 20,
    )

    async def send() -> object:
        response = await transport.send(request)
        if response.status_code != 200:
            raise RuntimeError(response.status_code)
        return json.loads(response.content)

    try:
        return await _closed_loop(send, in_flight, seconds)
    finally:
        await transport.aclose()


async def run_sdk4(base: str, in_flight: int, seconds: float) -> dict[str, Any]:
    from azure.ai.vision.imageanalysis.aio import ImageAnalysisClient
    from azure.ai.vision.imageanalysis.models import VisualFeatures
    from azure.core.credentials import AzureKeyCredential

    async with ImageAnalysisClient(endpoint=base, credential=AzureKeyCredential(KEY)) as client:

        async def send() -> object:
            return await client.analyze_from_url(image_url=IMAGE_URL, visual_features=[VisualFeatures.TAGS])

        return await _closed_loop(send, in_flight, seconds)


def run_sdk32(base: str, in_flight: int, seconds: float) -> dict[str, Any]:
    from azure.cognitiveservices.vision.computervision import ComputerVisionClient
    from msrest.authentication import CognitiveServicesCredentials

    client = ComputerVisionClient(base, CognitiveServicesCredentials(KEY))
    for _ in range(50):
        client.tag_image(IMAGE_URL)
    latencies: list[float] = []
    cpu0 = time.process_time()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        began = time.perf_counter()
        client.tag_image(IMAGE_URL)
        latencies.append(time.perf_counter() - began)
    return _summary(latencies, time.perf_counter() - start, time.process_time() - cpu0, 0)


def measure(name: str, base: str, in_flight: int, seconds: float) -> dict[str, Any]:
    """One closed-loop run of one contender (called in a fresh, pinned process)."""
    import anyio

    if name == "sdk32":
        return run_sdk32(base, in_flight, seconds)
    runners: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
        "httpx": lambda: run_httpx(base, in_flight, seconds),
        "aiohttp": lambda: run_aiohttp(base, in_flight, seconds),
        "va": lambda: run_vision(base, in_flight, seconds),
        "va-trio": lambda: run_vision(base, in_flight, seconds),
        "va-aiohttp": lambda: run_vision(base, in_flight, seconds, transport="aiohttp"),
        "sdk4": lambda: run_sdk4(base, in_flight, seconds),
        "pool-bare": lambda: run_bare(base, in_flight, seconds, "pool"),
        "pool-bare-trio": lambda: run_bare(base, in_flight, seconds, "pool"),
        "aiohttp-bare": lambda: run_bare(base, in_flight, seconds, "aiohttp"),
    }
    backend = CONTENDERS[name][1]
    return anyio.run(runners[name], backend=backend)


# -- orchestration -------------------------------------------------------------------------------


def _installed(package: str) -> bool:
    try:
        importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def skip_reason(name: str) -> str | None:
    missing = [p for p in CONTENDERS[name][2] if not _installed(p)]
    if missing:
        return f"not installed: {', '.join(missing)}"
    return None


def run_cell(name: str, base: str, in_flight: int, seconds: float, cpu: int | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", name, "--base", base, "--in-flight", str(in_flight)]
    command += ["--seconds", str(seconds)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if cpu is not None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(process.pid, {cpu})
    out, err = process.communicate(timeout=seconds * 4 + 120)
    if process.returncode != 0:
        raise RuntimeError(f"{name} at {in_flight}: {err.strip().splitlines()[-1] if err.strip() else 'failed'}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _median(values: list[float]) -> float:
    return statistics.median(values)


def aggregate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    rps = [s["rps"] for s in samples]
    return {
        "rps": _median(rps),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "p50_ms": _median([s["p50_ms"] for s in samples]),
        "p99_ms": _median([s["p99_ms"] for s in samples]),
        "cpu_us": _median([s["cpu_us"] for s in samples]),
        "errors": sum(s["errors"] for s in samples),
        "reps": len(samples),
    }


def machine() -> list[str]:
    model = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in VERSIONED if _installed(p))
    from vision_async import __version__

    return [
        f"- machine: {platform.system()} {platform.release()}, {model}, {os.cpu_count()} cores",
        f"- Python {platform.python_version()}; vision_async {__version__}; {versions}",
    ]


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def report(
    results: dict[str, dict[int, dict[str, Any]]],
    skipped: dict[str, str],
    levels: list[int],
    meta: dict[str, Any],
) -> str:
    lines = [
        "# vision_async speed under concurrency",
        "",
        f"Run {meta['when']} with `{meta['command']}`.",
        "",
        *machine(),
        f"- server: {meta['server']} on 127.0.0.1, pinned to CPU {meta['server_cpu']}; "
        f"clients pinned to CPU {meta['client_cpu']}, each run in a fresh process",
        f"- server alone (16 connections x 64 pipelined requests): {meta['capacity']:.0f} req/s, "
        f"{meta['capacity'] / max(meta['fastest'], 1):.1f}x the fastest client "
        f"({'at least' if meta['capacity'] >= 3 * meta['fastest'] else 'LESS than'} 3x)",
        f"- closed loop, POST {TAG_PATH} with a JSON image URL, {meta['seconds']}s per run after warm-up, "
        f"median of {meta['reps']} runs (req/s spread min-max in brackets); connections: max(100, in flight)",
        "- ratio: req/s over raw httpx.AsyncClient's in the same run",
        "- NOTE: a shared 2-core machine; other work ran at the same time, so absolute numbers are noisy: "
        "compare rows of the same run",
        "",
        "| client | in flight | req/s [spread] | vs httpx | p50 ms | p99 ms | CPU us/req | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in levels:
        base = results.get("httpx", {}).get(level)
        for name in CONTENDERS:
            cell = results.get(name, {}).get(level)
            if cell is None:
                continue
            ratio = cell["rps"] / base["rps"] if base else None
            lines.append(
                f"| {CONTENDERS[name][0]} | {level} | {cell['rps']:.0f} [{cell['rps_min']:.0f}-{cell['rps_max']:.0f}] "
                f"| {_fmt_ratio(ratio)} | {cell['p50_ms']:.2f} | {cell['p99_ms']:.2f} | {cell['cpu_us']:.0f} "
                f"| {cell['errors']} |"
            )
    if skipped:
        lines += ["", "Skipped: " + "; ".join(f"{CONTENDERS[n][0]} ({why})" for n, why in skipped.items())]
    lines += ["", "## Issue 9 goals in this run", "", *goals(results, levels)]
    return "\n".join(lines) + "\n"


def goals(results: dict[str, dict[int, dict[str, Any]]], levels: list[int]) -> list[str]:
    out: list[str] = []

    def cell(name: str, level: int) -> dict[str, Any] | None:
        return results.get(name, {}).get(level)

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("met" if ok else "NOT met")

    for name in ("va", "va-trio"):
        label = CONTENDERS[name][0]
        pairs = [(lv, cell(name, lv), cell("httpx", lv)) for lv in levels]
        pairs = [(lv, a, b) for lv, a, b in pairs if a and b]
        if pairs:
            worst = min(a["rps"] / b["rps"] for _, a, b in pairs)
            out.append(f"- {label} never slower than raw httpx (worst ratio {worst:.2f}x): {verdict(worst >= 1)}")
        a64, h64, s64 = cell(name, 64), cell("httpx", 64), cell("sdk4", 64)
        if a64 and h64:
            r = a64["rps"] / h64["rps"]
            out.append(f"- {label} at 64 in flight >= 2x raw httpx ({r:.2f}x): {verdict(r >= 2)}")
        if a64 and s64:
            r = a64["rps"] / s64["rps"]
            out.append(f"- {label} at 64 >= 1.2x Microsoft's 4.0 SDK ({r:.2f}x): {verdict(r >= 1.2)}")
            out.append(
                f"- {label} p99 at 64 <= the SDK's ({a64['p99_ms']:.1f} vs {s64['p99_ms']:.1f} ms): "
                f"{verdict(a64['p99_ms'] <= s64['p99_ms'])}"
            )
        a16, a256 = cell(name, 16), cell(name, 256)
        if a16 and a256:
            ok = a256["cpu_us"] <= a16["cpu_us"] * 1.10
            out.append(
                f"- {label} flat at 256 (CPU/request {a256['cpu_us']:.0f} us vs {a16['cpu_us']:.0f} us at 16, "
                f"10% noise allowed): {verdict(ok)}"
            )
    for level in (64, 256):
        fast, raw = cell("va-aiohttp", level), cell("aiohttp", level)
        if fast and raw:
            r = fast["rps"] / raw["rps"]
            out.append(f"- vision_async aiohttp at {level} >= 0.5x raw aiohttp ({r:.2f}x): {verdict(r >= 0.5)}")
            out.append(
                f"- vision_async aiohttp p99 at {level} within 2x raw aiohttp's "
                f"({fast['p99_ms']:.1f} vs {raw['p99_ms']:.1f} ms): {verdict(fast['p99_ms'] <= 2 * raw['p99_ms'])}"
            )
        else:
            out.append(f"- vision_async aiohttp at {level}: n/a (not measured)")
    return out


def chart(results: dict[str, dict[int, dict[str, Any]]], levels: list[int], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    for name, cells in results.items():
        xs = [lv for lv in levels if lv in cells]
        if not xs:
            continue
        style = "o-" if len(xs) > 1 else "o"
        left.plot(xs, [cells[lv]["rps"] for lv in xs], style, label=CONTENDERS[name][0])
        right.plot(xs, [cells[lv]["p99_ms"] for lv in xs], style, label=CONTENDERS[name][0])
    for axis, title in ((left, "throughput (req/s)"), (right, "p99 latency (ms)")):
        axis.set_xscale("log", base=2)
        axis.set_xticks(levels, [str(lv) for lv in levels])
        axis.set_xlabel("requests in flight")
        axis.set_title(title)
        axis.grid(True, alpha=0.3)
    right.set_yscale("log")
    left.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,16,64,256", help="requests in flight, comma-separated")
    parser.add_argument("--reps", type=int, default=3, help="runs per cell; the median is reported")
    parser.add_argument("--seconds", type=float, default=2.0, help="measured seconds per run")
    parser.add_argument("--only", default="", help="contenders to run (default all): " + ",".join(CONTENDERS))
    parser.add_argument("--server", choices=["auto", "nginx", "python"], default="auto")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="directory for the results")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--in-flight", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve is not None:
        serve_fallback(args.serve)
        return
    if args.worker:
        print(json.dumps(measure(args.worker, args.base, args.in_flight, args.seconds)))
        return

    levels = [int(v) for v in args.levels.split(",")]
    names = [n for n in (args.only.split(",") if args.only else CONTENDERS) if n]
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cpus[-1], cpus[0]) if len(cpus) >= 2 else (None, None)
    skipped = {n: why for n in names if (why := skip_reason(n))}
    results: dict[str, dict[int, dict[str, Any]]] = {}
    with running_server(args.server, server_cpu) as (base, description):
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
        capacity = server_capacity(base, 2.0)
        print(f"server: {description} at {base}: {capacity:.0f} req/s alone", file=sys.stderr)
        for level in levels:
            for name in names:
                if name in skipped or (name == "sdk32" and level != 1):
                    continue
                samples = []
                for _ in range(args.reps):
                    try:
                        samples.append(run_cell(name, base, level, args.seconds, client_cpu))
                    except Exception as exc:  # report, keep going with the others
                        print(f"  {name} at {level}: {exc}", file=sys.stderr)
                if samples:
                    results.setdefault(name, {})[level] = cell = aggregate(samples)
                    print(
                        f"{CONTENDERS[name][0]:<40} {level:>4} {cell['rps']:>8.0f} req/s  p99 {cell['p99_ms']:7.2f} ms"
                        f"  cpu {cell['cpu_us']:6.0f} us/req",
                        file=sys.stderr,
                    )
        fastest = max((c["rps"] for cells in results.values() for c in cells.values()), default=1.0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/bench_speed.py " + " ".join(sys.argv[1:]),
        "server": description,
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
        "capacity": capacity,
        "fastest": fastest,
        "seconds": args.seconds,
        "reps": args.reps,
    }
    text = report(results, skipped, levels, meta)
    png = out / "speed-latest.png"
    if chart(results, levels, png):
        text += f"\n![req/s and p99 against requests in flight]({png.name})\n"
    (out / "speed-latest.md").write_text(text)
    (out / "speed-latest.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
