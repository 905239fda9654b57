"""Integration: the client over real loopback sockets against the uvicorn-served emulator."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import AsyncIterator, Iterator

import anyio
import httpx
import pytest

from tests.helpers import SAMPLES, png_bytes
from tests.helpers.hostile_server import HostileServer, ok
from vision_async import (
    APIConnectionError,
    APITimeoutError,
    BreakerPolicy,
    CircuitOpenError,
    InternalServerError,
    OperationStatus,
    RateLimitError,
    VisionClient,
)
from vision_async.emulator import Emulator, EmulatorServer

pytestmark = pytest.mark.anyio

KEY = "integration-key"


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    emulator = Emulator(key=KEY, read_delays=(0.0, 0.0), ocr="off")
    with EmulatorServer(emulator) as srv:
        yield srv


@pytest.fixture(scope="module")
def image_host() -> Iterator[str]:
    """A static file server on 127.0.0.1 serving samples/ (the emulator fetches loopback URLs)."""
    handler = functools.partial(_QuietHandler, directory=str(SAMPLES))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(autouse=True)
def clean(server: EmulatorServer) -> None:
    server.emulator.faults.clear()


@pytest.fixture
async def client(server: EmulatorServer) -> AsyncIterator[VisionClient]:
    async with VisionClient(server.url, KEY, retry=None, timeout=5.0) as c:
        yield c


async def test_server_is_on_loopback(server: EmulatorServer) -> None:
    """The served emulator listens on 127.0.0.1 on a free port."""
    assert server.url.startswith("http://127.0.0.1:")
    assert server.port > 0


async def test_every_operation_over_the_wire(client: VisionClient) -> None:
    """Each operation works over real HTTP, binary input."""
    image = (SAMPLES / "shapes.png").read_bytes()
    analysis = await client.analyze(image, features=["Tags", "Color", "Description", "ImageType"])
    assert analysis.metadata is not None and analysis.metadata.width == 320
    assert analysis.request_id
    assert (await client.tag(image)).tags
    assert (await client.describe(image)).captions
    assert (await client.detect(image)).objects == ()
    assert (await client.area_of_interest(image)).area_of_interest is not None
    assert (await client.ocr(image)).regions == ()
    assert len((await client.list_models()).models) == 2
    assert (await client.analyze_by_domain("landmarks", image)).landmarks == ()
    thumb = await client.generate_thumbnail(image, 64, 32)
    assert thumb.startswith(b"\x89PNG")
    result = await client.read(image)
    assert result.status is OperationStatus.SUCCEEDED


async def test_url_images_are_fetched_from_loopback(client: VisionClient, image_host: str) -> None:
    """A URL on 127.0.0.1 is fetched by the emulator; its pixels are measured."""
    analysis = await client.analyze(f"{image_host}/landscape.jpg", features=["Color"])
    assert analysis.metadata is not None and analysis.metadata.format == "Jpeg"
    assert analysis.color is not None and "Blue" in analysis.color.dominant_colors


async def test_rate_limit_over_the_wire(server: EmulatorServer, client: VisionClient) -> None:
    """Faults set through the admin route apply at run time: 429 with Retry-After."""
    async with httpx.AsyncClient(base_url=server.url) as admin:
        r = await admin.post("/_emulator/faults", json={"route": "tag", "rate_limit": 1})
        assert r.status_code == 200
    image = png_bytes(64, 64)
    await client.tag(image)
    with pytest.raises(RateLimitError) as info:
        await client.tag(image)
    assert info.value.retry_after is not None and info.value.retry_after >= 1.0


async def test_dropped_connection_over_the_wire(server: EmulatorServer, client: VisionClient) -> None:
    """A connection cut mid-body is an APIConnectionError."""
    server.emulator.set_faults("models", p_drop=1.0)
    with pytest.raises(APIConnectionError):
        await client.list_models()


async def test_hung_response_times_out(server: EmulatorServer) -> None:
    """A response that never comes trips the attempt timeout."""
    server.emulator.set_faults("models", p_hang=1.0)
    async with VisionClient(server.url, KEY, retry=None, timeout=0.05) as c:
        with pytest.raises(APITimeoutError):
            await c.list_models()


async def test_breaker_stops_traffic_to_a_failing_server(server: EmulatorServer) -> None:
    """After fail_max 500s nothing more reaches the server while the breaker is open."""
    server.emulator.set_faults("models", p500=1.0)
    before = server.emulator.stats.received["models"]
    async with VisionClient(server.url, KEY, retry=None, breaker=BreakerPolicy(fail_max=2, reset_timeout=60)) as c:
        for _ in range(2):
            with pytest.raises(InternalServerError):
                await c.list_models()
        for _ in range(10):
            with pytest.raises(CircuitOpenError):
                await c.list_models()
    assert server.emulator.stats.received["models"] - before == 2


async def test_concurrent_calls_share_one_pool() -> None:
    """100 concurrent calls over one client go through its one pool: at most max_connections sockets, reused."""
    image = png_bytes(64, 64)
    results = []
    with HostileServer(ok()) as server:
        async with VisionClient(server.url, KEY, max_connections=8, timeout=5.0) as c:

            async def one() -> None:
                results.append(await c.tag(image))

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    for _ in range(100):
                        tg.start_soon(one)
    assert len(results) == 100 and all(r.tags[0].name == "grass" for r in results)
    assert len(server.requests) == 100
    # one pool of 8: never more than 8 sockets for 100 requests, each used for many requests
    assert 1 <= server.connections <= 8
    assert len({r.connection for r in server.requests}) == server.connections
