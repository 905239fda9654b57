"""A pooled connection the server closed silently costs nothing: the request is resent at once on
a fresh connection, outside any retry policy, and counted (issue 8 item 6). Both transports."""

from __future__ import annotations

import pytest

import tests.helpers.hostile_server as hs
from tests.helpers.transport_cases import (
    BACKEND_KINDS,
    TAG_JSON,
    close_on_reuse,
    make,
    tag_request,
)
from vision_async import APIConnectionError, APITimeoutError

pytestmark = pytest.mark.anyio

CALLS = 20


@BACKEND_KINDS
async def test_server_closing_on_reuse_costs_no_failure(anyio_backend: str, kind: str) -> None:
    """Every reused connection is closed by the server on arrival: 20 calls, 0 failures, 19 resends."""
    with hs.HostileServer(close_on_reuse()) as server:
        transport = make(kind, max_connections=4)
        contents = [(await transport.send(tag_request(server.url))).content for _ in range(CALLS)]
        stats = transport.stats()
        await transport.aclose()
    assert contents == [TAG_JSON] * CALLS, kind
    assert stats.stale_resends == CALLS - 1, kind
    assert server.connections == CALLS, kind


@BACKEND_KINDS
async def test_server_closing_idle_connections_costs_no_failure(anyio_backend: str, kind: str) -> None:
    """The server closes each connection right after answering: no call fails."""
    with hs.HostileServer(hs.ok_then_close()) as server:
        transport = make(kind)
        statuses = [(await transport.send(tag_request(server.url))).status_code for _ in range(CALLS)]
        await transport.aclose()
    assert statuses == [200] * CALLS, kind


@BACKEND_KINDS
async def test_a_fresh_connection_that_fails_is_not_resent(anyio_backend: str, kind: str) -> None:
    """Resending is only for reused connections: a new one that is reset fails once."""
    with hs.HostileServer(hs.reset_before_headers()) as server:
        transport = make(kind)
        with pytest.raises(APIConnectionError):
            await transport.send(tag_request(server.url))
        stats = transport.stats()
        await transport.aclose()
    assert len(server.requests) == 1, kind
    assert stats.stale_resends == 0, kind


@BACKEND_KINDS
async def test_failure_after_the_answer_began_is_not_resent(anyio_backend: str, kind: str) -> None:
    """A reused connection reset mid-body: some of the answer arrived, so it is an error, sent once."""
    with hs.HostileServer(hs.ok(), hs.reset_mid_body()) as server:
        transport = make(kind)
        await transport.send(tag_request(server.url))
        with pytest.raises(APIConnectionError):
            await transport.send(tag_request(server.url))
        stats = transport.stats()
        await transport.aclose()
    assert len(server.requests) == 2, kind
    assert stats.stale_resends == 0, kind


@BACKEND_KINDS
async def test_timeout_on_a_reused_connection_is_not_resent(anyio_backend: str, kind: str) -> None:
    """A reused connection that hangs is a timeout (the server may be working), never a resend."""
    with hs.HostileServer(hs.ok(), hs.hang_headers()) as server:
        transport = make(kind)
        await transport.send(tag_request(server.url))
        with pytest.raises(APITimeoutError):
            await transport.send(tag_request(server.url, timeout=0.05))
        stats = transport.stats()
        await transport.aclose()
    assert len(server.requests) == 2, kind
    assert stats.stale_resends == 0, kind


@BACKEND_KINDS
async def test_through_the_client_with_retry_off_no_call_fails(anyio_backend: str, kind: str) -> None:
    """VisionClient(retry=None) on a server that drops reused connections: 0 failures in 20 calls,
    every resend counted in client.stats(), none seen by the breaker."""
    from tests.helpers.transport_cases import KEY
    from vision_async import VisionClient

    transport = "default" if kind == "pool" else kind
    with hs.HostileServer(close_on_reuse()) as server:
        async with VisionClient(server.url, KEY, retry=None, transport=transport) as client:
            results = [await client.tag("https://example.com/cat.jpg") for _ in range(CALLS)]
            stats = client.stats()
    assert [tag.name for result in results for tag in result.tags] == ["grass"] * CALLS, kind
    assert stats.stale_resends == CALLS - 1, kind
    assert stats.successes == CALLS, kind
