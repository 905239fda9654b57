"""Throughput of the send path: VisionClient against raw httpx.AsyncClient, in the same run.

A canned-answer HTTP/1.1 server (keep-alive, answers POST /vision/v3.2/tag with the spec's tag
example) runs in a separate process on 127.0.0.1, so that the client's own overhead is what is
measured. For each number of requests in flight, each contender sends the same requests; the
report gives requests/second and the ratio to raw httpx.AsyncClient.

    python benchmarks/bench_send_path.py [--requests 3000] [--concurrency 1,64,256]

Contenders:
- ``httpx.AsyncClient``: the baseline, doing what a hand-written caller does (POST the URL as JSON
  with the key header, raise on error status, parse the JSON).
- ``VisionClient``: ``client.tag(url)`` with the default pipeline (retry + circuit breaker).
- ``VisionClient (bare)``: retry=None, breaker=None: the cost of the resilience layers is the gap.
- ``azure SDK v3.2 (sync)``: Microsoft's ComputerVisionClient.tag_image, one request at a time
  (it is synchronous), only at concurrency 1.
- ``azure SDK 4.0 (async)``: Microsoft's azure-ai-vision-imageanalysis ``aio.ImageAnalysisClient``
  asking for tags (the server answers its path with a 4.0-shaped body).

The SDKs come with the ``bench`` extra (``pip install -e '.[bench]'``); a contender that is not
installed is left out of the table.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import multiprocessing
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vision_async import VisionClient

BODY = (Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "v3.2" / "tag_image.json").read_bytes()
BODY = json.dumps(json.loads(BODY), separators=(",", ":")).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\n"
    b"apim-request-id: 1ad0e45e-b7b4-4be3-8042-53be96103337\r\n"
    + f"content-length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)
V4_BODY = json.dumps(
    {
        "modelVersion": "2023-10-01",
        "metadata": {"width": 400, "height": 400},
        "tagsResult": {"values": [{"name": "grass", "confidence": 0.99}, {"name": "house", "confidence": 0.93}]},
    },
    separators=(",", ":"),
).encode()
V4_RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\n"
    + f"content-length: {len(V4_BODY)}\r\n\r\n".encode()
    + V4_BODY
)
IMAGE_URL = "https://example.com/house.jpg"
KEY = "benchmark-key"


class _Canned(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                length = int(head[marker + 15 :].split(b"\r\n", 1)[0])
            if len(self.buffer) < end + 4 + length:
                return
            v4 = b"imageanalysis" in head.split(b"\r\n", 1)[0]
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(V4_RESPONSE if v4 else RESPONSE)  # type: ignore[attr-defined]


def _serve(sock: socket.socket) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Canned, sock=sock, backlog=1024)
        await server.serve_forever()

    asyncio.run(main())


async def _drive(send: Callable[[], Awaitable[object]], requests: int, concurrency: int) -> float:
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await send()

    for _ in range(min(50, requests)):  # warm up the pool
        await send()
    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return requests / (time.perf_counter() - start)


async def bench_httpx(base: str, requests: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=max(100, concurrency), max_keepalive_connections=max(100, concurrency))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def send() -> object:
            response = await client.post(
                "/vision/v3.2/tag",
                params={"language": "en", "model-version": "latest"},
                json={"url": IMAGE_URL},
                headers={"Ocp-Apim-Subscription-Key": KEY},
            )
            response.raise_for_status()
            return response.json()

        return await _drive(send, requests, concurrency)


async def bench_vision(base: str, requests: int, concurrency: int, *, bare: bool) -> float:
    options: dict[str, object] = {"max_connections": max(100, concurrency)}
    if bare:
        options.update(retry=None, breaker=None)
    async with VisionClient(base, KEY, **options) as client:  # type: ignore[arg-type]

        async def send() -> object:
            return await client.tag(IMAGE_URL)

        return await _drive(send, requests, concurrency)


async def bench_sdk_v4(base: str, requests: int, concurrency: int) -> float | None:
    try:
        from azure.ai.vision.imageanalysis.aio import ImageAnalysisClient
        from azure.ai.vision.imageanalysis.models import VisualFeatures
        from azure.core.credentials import AzureKeyCredential
    except ImportError:
        return None
    async with ImageAnalysisClient(endpoint=base, credential=AzureKeyCredential(KEY)) as client:

        async def send() -> object:
            return await client.analyze_from_url(image_url=IMAGE_URL, visual_features=[VisualFeatures.TAGS])

        return await _drive(send, requests, concurrency)


def bench_sdk(base: str, requests: int) -> float | None:
    try:
        from azure.cognitiveservices.vision.computervision import ComputerVisionClient
        from msrest.authentication import CognitiveServicesCredentials
    except ImportError:
        return None
    client = ComputerVisionClient(base, CognitiveServicesCredentials(KEY))
    for _ in range(20):
        client.tag_image(IMAGE_URL)
    start = time.perf_counter()
    for _ in range(requests):
        client.tag_image(IMAGE_URL)
    return requests / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", default="1,64,256")
    parser.add_argument("--rounds", type=int, default=3, help="runs per contender; the median is reported")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(sock,), daemon=True)
    server.start()
    try:
        print(f"canned server at {base}; {args.requests} requests per run, median of {args.rounds} runs\n")
        print(f"{'in flight':>9}  {'contender':<24}{'req/s':>10}  {'vs httpx':>8}")
        for concurrency in levels:
            n, c = args.requests, concurrency
            contenders: list[tuple[str, Callable[[], float | None]]] = [
                ("httpx.AsyncClient", functools.partial(anyio.run, bench_httpx, base, n, c)),
                ("VisionClient", functools.partial(anyio.run, functools.partial(bench_vision, base, n, c, bare=False))),
                (
                    "VisionClient (bare)",
                    functools.partial(anyio.run, functools.partial(bench_vision, base, n, c, bare=True)),
                ),
            ]
            contenders.append(("azure SDK 4.0 (async)", functools.partial(anyio.run, bench_sdk_v4, base, n, c)))
            if concurrency == 1:
                contenders.append(("azure SDK v3.2 (sync)", lambda: bench_sdk(base, min(args.requests, 1000))))
            baseline = None
            for name, run in contenders:
                samples = [run() for _ in range(args.rounds)]
                if samples[0] is None:
                    continue
                rate = statistics.median(s for s in samples if s is not None)
                baseline = baseline or rate
                print(f"{concurrency:>9}  {name:<24}{rate:>10.0f}  {rate / baseline:>7.2f}x")
            print()
    finally:
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()
