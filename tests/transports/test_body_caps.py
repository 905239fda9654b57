"""Response bodies are capped while they are read (issue 8 item 4): a 2xx body past the cap is a
ResponseTooLargeError with memory near the cap; an error body is cut at ERROR_BODY_CAP; a body cut
short is an APIConnectionError. Every transport, on real loopback sockets."""

from __future__ import annotations

import tracemalloc

import httpx
import pytest

import tests.helpers.hostile_server as hs
from tests.helpers.transport_cases import TAG_JSON, huge_body, kinds_for, make, tag_request
from vision_async import APIConnectionError, ResponseTooLargeError
from vision_async._transports.base import Transport
from vision_async._transports.body import ERROR_BODY_CAP
from vision_async._transports.httpx_transport import HttpxTransport

pytestmark = pytest.mark.anyio

HUGE = 200 * 1024 * 1024  # what the server offers
CAP = 1024 * 1024


#: The default pool and aiohttp (asyncio only), and an httpx transport, on each backend they run on.
BACKEND_TRANSPORTS = pytest.mark.parametrize(
    ("anyio_backend", "kind"),
    [(backend, kind) for backend in ("asyncio", "trio") for kind in [*kinds_for(backend), "httpx"]],
    ids=lambda value: str(value),
)


def transport_of(kind: str) -> Transport:
    return HttpxTransport(httpx.AsyncHTTPTransport()) if kind == "httpx" else make(kind)


@pytest.mark.parametrize("declare", [True, False], ids=["content-length", "chunked"])
@BACKEND_TRANSPORTS
async def test_oversized_success_body_stops_at_the_cap_with_memory_near_it(
    anyio_backend: str, kind: str, declare: bool
) -> None:
    """200 MiB offered, 1 MiB cap: ResponseTooLargeError, peak memory under 2x the cap + 512 KiB."""
    name, transport = kind, transport_of(kind)
    with hs.HostileServer(huge_body(HUGE, declare=declare)) as server:
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLargeError) as info:
                await transport.send(tag_request(server.url, max_body=CAP))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        await transport.aclose()
    assert info.value.limit == CAP, name
    assert peak < 2 * CAP + 512 * 1024, (name, peak)


@BACKEND_TRANSPORTS
async def test_body_exactly_at_the_cap_is_accepted(anyio_backend: str, kind: str) -> None:
    """The cap is inclusive: a body of exactly max_body bytes is returned."""
    name, transport = kind, transport_of(kind)
    with hs.HostileServer(hs.ok()) as server:
        response = await transport.send(tag_request(server.url, max_body=len(TAG_JSON)))
        await transport.aclose()
    assert response.content == TAG_JSON, name


@BACKEND_TRANSPORTS
async def test_one_byte_over_the_cap_is_refused(anyio_backend: str, kind: str) -> None:
    """One byte past max_body is too large."""
    transport = transport_of(kind)
    with hs.HostileServer(hs.ok()) as server:
        with pytest.raises(ResponseTooLargeError):
            await transport.send(tag_request(server.url, max_body=len(TAG_JSON) - 1))
        await transport.aclose()


@pytest.mark.parametrize("declare", [True, False], ids=["content-length", "chunked"])
@BACKEND_TRANSPORTS
async def test_error_body_is_cut_at_the_error_cap_and_still_returned(
    anyio_backend: str, kind: str, declare: bool
) -> None:
    """A 500 with 200 MiB of body: the answer comes back (status intact) with ERROR_BODY_CAP bytes."""
    name, transport = kind, transport_of(kind)
    with hs.HostileServer(huge_body(HUGE, declare=declare, code=500)) as server:
        response = await transport.send(tag_request(server.url, max_body=CAP))
        await transport.aclose()
    assert response.status_code == 500, name
    assert len(response.content) == ERROR_BODY_CAP, name


@BACKEND_TRANSPORTS
async def test_no_cap_reads_everything(anyio_backend: str, kind: str) -> None:
    """max_body=None: no cap on a success body."""
    name, transport = kind, transport_of(kind)
    with hs.HostileServer(huge_body(3 * 65536, declare=False)) as server:
        response = await transport.send(tag_request(server.url, max_body=None))
        await transport.aclose()
    assert len(response.content) == 3 * 65536, name


@BACKEND_TRANSPORTS
async def test_body_cut_short_is_a_connection_error(anyio_backend: str, kind: str) -> None:
    """Fewer bytes than announced, then FIN: APIConnectionError (retryable), not a parse error."""
    transport = transport_of(kind)
    with hs.HostileServer(hs.truncate()) as server:
        with pytest.raises(APIConnectionError):
            await transport.send(tag_request(server.url))
        await transport.aclose()
