"""The default pool (PoolTransport) on real loopback sockets: reuse, limits, timeouts, faults, close."""

from __future__ import annotations

import traceback

import anyio
import pytest

import tests.helpers.hostile_server as hs
from tests.helpers.transport_cases import KEY, TAG_JSON, gather, slow_ok, tag_request
from vision_async import APIConnectionError, APITimeoutError, ClientClosedError, ConfigurationError
from vision_async._transports.base import OutgoingRequest
from vision_async._transports.pool import PoolTransport

pytestmark = pytest.mark.anyio


async def test_sequential_calls_reuse_one_connection() -> None:
    """Keep-alive: five calls in a row travel on one connection, which then waits idle."""
    with hs.HostileServer(hs.ok()) as server:
        pool = PoolTransport(max_connections=10)
        for _ in range(5):
            response = await pool.send(tag_request(server.url))
            assert response.status_code == 200
            assert response.content == TAG_JSON
        stats = pool.stats()
        await pool.aclose()
    assert server.connections == 1
    assert (stats.open_connections, stats.idle_connections, stats.connections_opened) == (1, 1, 1)


async def test_response_fields_and_case_insensitive_headers() -> None:
    """Status, reason, body and headers (looked up in any case) come back as sent."""
    with hs.HostileServer(hs.status(404, b"nope", headers={"apim-request-id": "abc"})) as server:
        pool = PoolTransport()
        response = await pool.send(tag_request(server.url))
        await pool.aclose()
    assert (response.status_code, response.reason, response.content) == (404, "Whatever", b"nope")
    assert response.headers["APIM-Request-Id"] == "abc"
    assert response.headers.get("Apim-Request-ID") == "abc"


async def test_request_goes_out_as_given_with_the_key_revealed() -> None:
    """Method, path, query, body and every header (the secret revealed) reach the server."""
    with hs.HostileServer(hs.ok()) as server:
        pool = PoolTransport()
        await pool.send(tag_request(server.url, content=b'{"url":"u"}'))
        await pool.aclose()
    received = server.requests[0]
    assert (received.method, received.path, received.body) == ("POST", "/vision/v3.2/tag?language=en", b'{"url":"u"}')
    assert received.headers["ocp-apim-subscription-key"] == KEY
    assert received.headers["host"] == f"127.0.0.1:{server.port}"
    assert received.headers["content-length"] == "11"


async def test_large_body_is_sent_whole() -> None:
    """A body larger than one socket write (an image) arrives byte for byte."""
    image = bytes(range(256)) * 4096  # 1 MiB
    with hs.HostileServer(hs.ok()) as server:
        pool = PoolTransport()
        await pool.send(tag_request(server.url, content=image))
        await pool.aclose()
    assert server.requests[0].body == image


async def test_max_connections_bounds_connections_under_load() -> None:
    """20 overlapping calls with max_connections=3 open exactly 3 connections and all succeed."""
    with hs.HostileServer(slow_ok(0.01)) as server:
        pool = PoolTransport(max_connections=3)
        peak = 0

        async def call() -> int:
            nonlocal peak
            response = await pool.send(tag_request(server.url))
            peak = max(peak, pool.stats().open_connections)
            return response.status_code

        results = await gather(*[call for _ in range(20)])
        await pool.aclose()
    assert results == [200] * 20
    assert server.connections == 3
    assert peak <= 3


async def test_expired_idle_connection_is_not_reused() -> None:
    """An idle connection older than keepalive_expiry is closed, and a new one is opened."""
    with hs.HostileServer(hs.ok()) as server:
        pool = PoolTransport(keepalive_expiry=0.0)
        await pool.send(tag_request(server.url))
        await pool.send(tag_request(server.url))
        await pool.aclose()
    assert server.connections == 2


async def test_refused_connection_is_a_connection_error() -> None:
    """Nothing listening: APIConnectionError chained to the OS error."""
    pool = PoolTransport()
    with pytest.raises(APIConnectionError) as info:
        await pool.send(tag_request(hs.refused_url()))
    assert isinstance(info.value.__cause__, OSError)
    assert pool.stats().open_connections == 0


async def test_hung_server_hits_the_request_timeout() -> None:
    """No answer within request.timeout: APITimeoutError, and the connection is dropped."""
    with hs.HostileServer(hs.hang_headers()) as server:
        pool = PoolTransport()
        with pytest.raises(APITimeoutError, match="attempt timeout"):
            await pool.send(tag_request(server.url, timeout=0.05))
        assert pool.stats().open_connections == 0
        await pool.aclose()


async def test_stalled_body_hits_the_request_timeout() -> None:
    """The timeout bounds the whole read, not each socket read."""
    with hs.HostileServer(hs.stall_body()) as server:
        pool = PoolTransport()
        with pytest.raises(APITimeoutError):
            await pool.send(tag_request(server.url, timeout=0.05))
        await pool.aclose()


@pytest.mark.parametrize("fault", [hs.truncate, hs.reset_mid_body, hs.reset_before_headers], ids=lambda f: f.__name__)
async def test_broken_answers_are_connection_errors_and_not_resent(fault: hs.Fault) -> None:
    """A body cut short, a reset mid-body, or a fresh connection reset: APIConnectionError, sent once."""
    with hs.HostileServer(fault()) as server:
        pool = PoolTransport()
        with pytest.raises(APIConnectionError) as info:
            await pool.send(tag_request(server.url))
        await pool.aclose()
    assert not isinstance(info.value, APITimeoutError)
    assert len(server.requests) == 1
    assert pool.stats().stale_resends == 0


async def test_length_lie_does_not_poison_the_next_call() -> None:
    """Bytes past the declared length never become the next answer: that connection is dropped."""
    with hs.HostileServer(hs.length_lie(20), hs.ok()) as server:
        pool = PoolTransport()
        first = await pool.send(tag_request(server.url))
        second = await pool.send(tag_request(server.url))
        await pool.aclose()
    assert first.content == TAG_JSON[:20]
    assert second.content == TAG_JSON


async def test_malformed_status_line_is_a_connection_error() -> None:
    """Garbage instead of HTTP: APIConnectionError (h11's protocol error, translated)."""

    async def garbage(conn: hs.Connection, request: hs.ReceivedRequest) -> None:
        await conn.send(b"SSH-2.0-OpenSSH\r\n\r\n")
        await conn.close()

    with hs.HostileServer(garbage) as server:
        pool = PoolTransport()
        with pytest.raises(APIConnectionError):
            await pool.send(tag_request(server.url))
        await pool.aclose()


async def test_key_is_not_in_the_locals_of_any_frame_of_a_failure() -> None:
    """Rendering a failure's traceback chain with locals (as Sentry or rich do) never shows the key."""
    with hs.HostileServer(hs.reset_before_headers()) as server:
        pool = PoolTransport()
        with pytest.raises(APIConnectionError) as info:
            await pool.send(tag_request(server.url))
        await pool.aclose()
    rendered = "".join(traceback.TracebackException.from_exception(info.value, capture_locals=True).format())
    assert "reset" in rendered.lower() or "closed" in rendered.lower() or "disconnect" in rendered.lower()
    assert KEY not in rendered


async def test_send_after_close_is_refused() -> None:
    """A closed pool raises ClientClosedError and opens nothing."""
    pool = PoolTransport()
    await pool.aclose()
    with pytest.raises(ClientClosedError):
        await pool.send(tag_request("http://127.0.0.1:9"))
    assert pool.stats().connections_opened == 0


async def test_close_ends_calls_in_flight_with_client_closed_error() -> None:
    """aclose() while calls hang: they end at once with ClientClosedError; every socket is closed."""
    with hs.HostileServer(hs.hang_headers()) as server:
        pool = PoolTransport(max_connections=2)
        outcomes: list[BaseException] = []

        async def call() -> None:
            try:
                await pool.send(tag_request(server.url, timeout=10))
            except Exception as exc:
                outcomes.append(exc)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                for _ in range(4):  # two hold connections, two wait for one
                    tg.start_soon(call)
                while len(server.requests) < 2:  # noqa: ASYNC110 (the server is another thread)
                    await anyio.sleep(0.005)
                await pool.aclose()
    assert len(outcomes) == 4
    assert all(isinstance(exc, ClientClosedError) for exc in outcomes), outcomes
    assert pool.stats().open_connections == 0
    assert len(server.requests) == 2


async def test_cancelled_call_drops_its_connection() -> None:
    """A call cancelled mid-read leaves no half-used connection in the pool."""
    with hs.HostileServer(hs.hang_headers(), hs.ok()) as server:
        pool = PoolTransport()
        with anyio.move_on_after(0.05):
            await pool.send(tag_request(server.url, timeout=None))
        assert pool.stats().open_connections == 0
        response = await pool.send(tag_request(server.url))
        await pool.aclose()
    assert response.status_code == 200
    assert server.connections == 2


@pytest.mark.parametrize("url", ["ftp://example.com/x", "http:///nohost"])
async def test_unsupported_urls_are_configuration_errors(url: str) -> None:
    """Only http:// and https:// URLs with a host are sent."""
    pool = PoolTransport()
    request = OutgoingRequest("GET", url, (), None, 1.0, None)
    with pytest.raises(ConfigurationError):
        await pool.send(request)


@pytest.mark.parametrize("value", [0, -1, True, 1.5])
def test_max_connections_must_be_a_positive_int(value: object) -> None:
    """max_connections is checked when the pool is made."""
    with pytest.raises(ConfigurationError):
        PoolTransport(max_connections=value)  # type: ignore[arg-type]


def test_one_pool_serves_successive_event_loops() -> None:
    """asyncio.run twice (then trio) with one pool: each loop gets its own connections, closed when it ends."""
    with hs.HostileServer(hs.ok()) as server:
        pool = PoolTransport()

        async def call() -> int:
            return (await pool.send(tag_request(server.url))).status_code

        statuses = [anyio.run(call, backend=backend) for backend in ("asyncio", "asyncio", "trio")]
        stats = pool.stats()
    assert statuses == [200, 200, 200]
    assert server.connections == 3
    assert stats.open_connections == 0


async def test_respx_still_intercepts_the_default_pool() -> None:
    """Code that mocks "the default client" with respx keeps working: while respx patches httpcore,
    the pool sends through httpx's own transport, which respx sees."""
    import httpx
    import respx

    with respx.mock(assert_all_called=True) as router:
        route = router.post("https://u.example.com/vision/v3.2/tag").mock(return_value=httpx.Response(202, text="hi"))
        pool = PoolTransport()
        response = await pool.send(tag_request("https://u.example.com"))
        await pool.aclose()
    assert (response.status_code, response.content) == (202, b"hi")
    assert route.calls.last.request.headers["ocp-apim-subscription-key"] == KEY
    assert pool.stats().connections_opened == 0


async def test_caller_cancellation_and_request_timeout_do_not_mix_up() -> None:
    """The caller's own deadline cancels quietly (never an APITimeoutError); the request's own
    timeout inside a longer caller deadline raises APITimeoutError (never a cancellation)."""
    with hs.HostileServer(hs.hang_headers()) as server:
        pool = PoolTransport()
        with anyio.move_on_after(0.03) as scope:
            await pool.send(tag_request(server.url, timeout=5.0))
        assert scope.cancelled_caught
        with anyio.fail_after(5):
            with pytest.raises(APITimeoutError):
                await pool.send(tag_request(server.url, timeout=0.03))
        await pool.aclose()


async def test_connection_close_answer_is_not_reused() -> None:
    """An answer saying "Connection: close" retires its connection even if the socket stays open."""
    with hs.HostileServer(hs.status(200, b"{}", headers={"Connection": "close"}), hs.ok()) as server:
        pool = PoolTransport()
        await pool.send(tag_request(server.url))
        second = await pool.send(tag_request(server.url))
        await pool.aclose()
    assert second.content == TAG_JSON
    assert server.connections == 2


async def test_informational_answer_before_the_real_one_is_skipped() -> None:
    """A 100 Continue ahead of the answer is not mistaken for it."""

    async def continue_then_ok(conn: hs.Connection, request: hs.ReceivedRequest) -> None:
        await conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        await conn.respond(200, hs.TAG_BODY)

    with hs.HostileServer(continue_then_ok) as server:
        pool = PoolTransport()
        response = await pool.send(tag_request(server.url))
        await pool.aclose()
    assert (response.status_code, response.content) == (200, TAG_JSON)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_connections_are_closed_when_their_event_loop_ends(backend: str) -> None:
    """One pool in two successive event loops: the first loop's connection is closed when that loop ends."""
    with hs.HostileServer(hs.ok()) as server:
        pool = PoolTransport()

        async def call() -> int:
            return (await pool.send(tag_request(server.url))).status_code

        assert anyio.run(call, backend=backend) == 200
        assert server.wait_until_open(0) == 0
        assert anyio.run(call, backend=backend) == 200  # a new connection, closed with its loop too
        assert server.wait_until_open(0) == 0
        assert pool.stats().open_connections == 0
    assert server.connections == 2


def test_connections_left_by_a_loop_without_finalization_are_reported(caplog: pytest.LogCaptureFixture) -> None:
    """A loop closed without finalizing async generators leaves its connections open; the next loop says so."""
    import asyncio

    with hs.HostileServer(hs.ok()) as server:
        pool = PoolTransport()
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(pool.send(tag_request(server.url)))
        finally:
            loop.close()
        with caplog.at_level("WARNING", logger="vision_async.transport"):
            assert asyncio.run(pool.send(tag_request(server.url))).status_code == 200
        asyncio.run(pool.aclose())
    assert "1 connections of the old one were left open" in caplog.text
