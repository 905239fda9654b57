"""The aiohttp transport (the speed extra): asyncio only, and indistinguishable from the default
pool in what it returns and raises on the same faults (issue 9: speed never costs correctness)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

import tests.helpers.hostile_server as hs
from tests.helpers.transport_cases import KEY, huge_body, make, tag_request
from vision_async import APIConnectionError, ClientClosedError, ConfigurationError, VisionError
from vision_async._transports.aiohttp import AiohttpTransport
from vision_async._transports.factory import make_transport

pytestmark = pytest.mark.anyio

asyncio_only = pytest.mark.parametrize("anyio_backend", ["asyncio"])
trio_only = pytest.mark.parametrize("anyio_backend", ["trio"])

FAULTS: dict[str, Any] = {
    "ok": lambda: hs.ok(),
    "bad request": lambda: hs.azure_error(400, "InvalidRequest", "InvalidImageUrl"),
    "rate limited": lambda: hs.rate_limited({"Retry-After": "2"}),
    "html 502": lambda: hs.html_5xx(502),
    "503": lambda: hs.azure_error(503, "ServiceUnavailable"),
    "redirect": lambda: hs.redirect("https://elsewhere.example.com/steal", 302),
    "non-json 200": lambda: hs.non_json_200(),
    "truncated": lambda: hs.truncate(),
    "reset before headers": lambda: hs.reset_before_headers(),
    "reset mid body": lambda: hs.reset_mid_body(),
    "hung headers": lambda: hs.hang_headers(),
    "stalled body": lambda: hs.stall_body(),
    "oversized body": lambda: huge_body(8 * 1024 * 1024, declare=False),
    "oversized declared": lambda: huge_body(8 * 1024 * 1024, declare=True),
    "oversized error": lambda: huge_body(8 * 1024 * 1024, declare=True, code=500),
}


async def _outcome(kind: str, fault: Any, *, refused: bool = False) -> tuple[Any, ...]:
    transport = make(kind)
    try:
        if refused:
            return await _call(transport, hs.refused_url())
        with hs.HostileServer(fault()) as server:
            return await _call(transport, server.url)
    finally:
        await transport.aclose()


async def _call(transport: Any, url: str) -> tuple[Any, ...]:
    try:
        response = await transport.send(tag_request(url, timeout=0.2, max_body=1024 * 1024))
    except VisionError as exc:
        return ("error", type(exc).__name__)
    headers = {
        name: response.headers[name] for name in ("content-type", "retry-after", "location") if name in response.headers
    }
    return (response.status_code, response.content, headers)


@asyncio_only
@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
async def test_same_answers_and_same_errors_as_the_default_pool(fault: str) -> None:
    """On each fault, aiohttp and the default pool return the same answer or raise the same class."""
    default = await _outcome("pool", FAULTS[fault])
    fast = await _outcome("aiohttp", FAULTS[fault])
    assert fast == default


@asyncio_only
async def test_length_lie_is_the_one_documented_difference() -> None:
    """A Content-Length shorter than the body: the pool returns the declared bytes (the pipeline
    then rejects them as not JSON); aiohttp reads the rest as a broken next answer and raises."""
    default = await _outcome("pool", lambda: hs.length_lie(20))
    fast = await _outcome("aiohttp", lambda: hs.length_lie(20))
    assert default[0] == 200 and len(default[1]) == 20
    assert fast == ("error", "APIConnectionError")


@asyncio_only
async def test_refused_connection_is_the_same_error() -> None:
    """Nothing listening: both raise APIConnectionError."""
    assert await _outcome("aiohttp", None, refused=True) == await _outcome("pool", None, refused=True)
    assert await _outcome("pool", None, refused=True) == ("error", "APIConnectionError")


@asyncio_only
async def test_keep_alive_and_stats() -> None:
    """Sequential calls share one connection, which stats() reports."""
    with hs.HostileServer(hs.ok()) as server:
        transport = AiohttpTransport(max_connections=5)
        for _ in range(3):
            await transport.send(tag_request(server.url))
        stats = transport.stats()
        await transport.aclose()
    assert server.connections == 1
    assert (stats.open_connections, stats.idle_connections, stats.connections_opened) == (1, 1, 1)


@asyncio_only
async def test_the_key_reaches_the_server_and_no_default_headers_are_added() -> None:
    """The secret is revealed on the wire; aiohttp adds no Accept-Encoding or User-Agent of its own."""
    with hs.HostileServer(hs.ok()) as server:
        transport = AiohttpTransport()
        await transport.send(tag_request(server.url))
        await transport.aclose()
    headers = server.requests[0].headers
    assert headers["ocp-apim-subscription-key"] == KEY
    assert "accept-encoding" not in headers and "user-agent" not in headers


@asyncio_only
async def test_closed_transport_refuses() -> None:
    """After aclose, send raises ClientClosedError."""
    transport = AiohttpTransport()
    await transport.aclose()
    with pytest.raises(ClientClosedError):
        await transport.send(tag_request("http://127.0.0.1:9"))


@asyncio_only
async def test_failure_is_chained_and_mapped() -> None:
    """A reset is APIConnectionError whose cause is aiohttp's own exception."""
    with hs.HostileServer(hs.reset_before_headers()) as server:
        transport = AiohttpTransport()
        with pytest.raises(APIConnectionError) as info:
            await transport.send(tag_request(server.url))
        await transport.aclose()
    assert type(info.value.__cause__).__module__.startswith("aiohttp")


@trio_only
async def test_aiohttp_is_refused_under_trio() -> None:
    """Under trio, transport="aiohttp" is a ConfigurationError, never picked."""
    with pytest.raises(ConfigurationError, match="asyncio only"):
        make_transport("aiohttp", max_connections=10)


@trio_only
async def test_aiohttp_transport_made_elsewhere_refuses_to_run_under_trio() -> None:
    """An AiohttpTransport made outside a loop and used under trio raises ConfigurationError."""
    transport = AiohttpTransport()
    with pytest.raises(ConfigurationError, match="asyncio only"):
        await transport.send(tag_request("http://127.0.0.1:9"))


def test_missing_aiohttp_is_a_clear_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the speed extra, transport="aiohttp" says how to install it."""
    monkeypatch.setitem(sys.modules, "vision_async._transports.aiohttp", None)
    with pytest.raises(ConfigurationError, match=r"vision-async\[speed\]"):
        make_transport("aiohttp", max_connections=10)


def test_one_transport_serves_successive_asyncio_loops() -> None:
    """asyncio.run twice with one aiohttp transport: a fresh session in the second loop, no error."""
    import asyncio

    with hs.HostileServer(hs.ok()) as server:
        transport = AiohttpTransport()

        async def call() -> int:
            return (await transport.send(tag_request(server.url))).status_code

        statuses = [asyncio.run(call()) for _ in range(2)]
        asyncio.run(transport.aclose())
    assert statuses == [200, 200]


CLIENT_FAULTS = [name for name in FAULTS if not name.startswith("oversized")] + ["oversized body"]


async def _client_outcome(transport: str, fault: Any) -> tuple[Any, ...]:
    from vision_async import VisionClient

    with hs.HostileServer(fault()) as server:
        async with VisionClient(server.url, KEY, retry=None, breaker=None, timeout=0.2, transport=transport) as client:
            try:
                result = await client.tag("https://example.com/cat.jpg")
            except VisionError as exc:
                return ("error", type(exc).__name__, getattr(exc, "status_code", None), getattr(exc, "code", None))
    return ("ok", result)


@asyncio_only
@pytest.mark.parametrize("fault", CLIENT_FAULTS, ids=CLIENT_FAULTS)
async def test_through_the_client_same_results_and_same_typed_errors(fault: str) -> None:
    """VisionClient(transport="aiohttp") and the default give equal results and equal typed errors."""
    assert await _client_outcome("aiohttp", FAULTS[fault]) == await _client_outcome("default", FAULTS[fault])


@asyncio_only
async def test_max_connections_bounds_connections_under_load() -> None:
    """20 overlapping calls with max_connections=3: 3 connections, every call answered."""
    from tests.helpers.transport_cases import gather, slow_ok

    with hs.HostileServer(slow_ok(0.01)) as server:
        transport = AiohttpTransport(max_connections=3)

        async def call() -> int:
            return (await transport.send(tag_request(server.url))).status_code

        results = await gather(*[call for _ in range(20)])
        await transport.aclose()
    assert results == [200] * 20
    assert server.connections == 3
