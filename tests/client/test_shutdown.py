"""Closing a client with calls in flight, on real loopback sockets: they end promptly with
ClientClosedError; nothing is retried, no new connection opens, the breaker counts nothing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import anyio
import anyio.abc
import pytest

from vision_async import BreakerPolicy, BreakerStateChange, ClientClosedError, RetryPolicy, VisionClient, VisionError

pytestmark = pytest.mark.anyio

URL = "https://example.com/cat.jpg"


class HangingServer:
    """Accepts connections, reads requests, never answers. Counts connections and when they came."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self.expect = 0
        self.all_in = anyio.Event()

    async def handle(self, stream: anyio.abc.SocketStream) -> None:
        self.connections += 1
        async with stream:
            await stream.receive()  # the request has arrived
            if self.connections >= self.expect:
                self.all_in.set()
            try:
                while await stream.receive():
                    pass
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass


@pytest.fixture
async def hanging_server() -> AsyncIterator[HangingServer]:
    server = HangingServer()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    server.port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, server.handle)
        yield server
        tg.cancel_scope.cancel()


async def test_aclose_ends_calls_in_flight_without_retry_or_breaker(
    hanging_server: HangingServer, caplog: pytest.LogCaptureFixture
) -> None:
    """50 calls hung on the server end with ClientClosedError at aclose; no retry, no new connection, no alert."""
    changes: list[BreakerStateChange] = []
    client = VisionClient(
        f"http://127.0.0.1:{hanging_server.port}",
        "key",
        retry=RetryPolicy(max_attempts=4, initial_backoff=0.0, max_backoff=0.0),
        breaker=BreakerPolicy(fail_max=2),
        on_breaker_state_change=changes.append,
        timeout=30.0,
    )
    outcomes: list[BaseException] = []

    async def call() -> None:
        try:
            await client.tag(URL)
        except Exception as exc:
            outcomes.append(exc)

    with caplog.at_level(logging.DEBUG, logger="vision_async"):
        async with anyio.create_task_group() as tg:
            hanging_server.expect = 50
            for _ in range(50):
                tg.start_soon(call)
            with anyio.fail_after(5):
                await hanging_server.all_in.wait()
            assert client.stats().in_flight == 50
            connections_before = hanging_server.connections
            with anyio.fail_after(2):  # promptly
                await client.aclose()
            await anyio.sleep(0.05)  # would any retry open a new connection now?
    assert len(outcomes) == 50
    assert all(isinstance(o, ClientClosedError) for o in outcomes), {type(o).__name__ for o in outcomes}
    assert hanging_server.connections == connections_before
    stats = client.stats()
    assert stats.retries == 0
    assert stats.requests == 50
    assert stats.in_flight == 0
    assert dict(stats.failures) == {"ClientClosedError": 50}
    assert client.breaker_state is not None and client.breaker_state.value == "closed"
    assert changes == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "retrying" not in caplog.text


async def test_no_new_call_after_aclose(hanging_server: HangingServer) -> None:
    """Once closed, a call fails with ClientClosedError before any connection is opened."""
    client = VisionClient(f"http://127.0.0.1:{hanging_server.port}", "key")
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await client.tag(URL)
    assert hanging_server.connections == 0


async def test_caller_cancellation_is_not_turned_into_client_closed(hanging_server: HangingServer) -> None:
    """A call cancelled by its caller stays cancelled (not a ClientClosedError), and counts as no failure."""
    client = VisionClient(f"http://127.0.0.1:{hanging_server.port}", "key", breaker=BreakerPolicy(fail_max=1))
    async with client:
        with anyio.move_on_after(0.1) as scope:
            await client.tag(URL)
        assert scope.cancelled_caught
        assert client.breaker_state is not None and client.breaker_state.value == "closed"
        assert dict(client.stats().failures) == {}
        assert client.stats().in_flight == 0


async def test_a_call_ended_by_aclose_leaves_its_task_fit_to_go_on(
    hanging_server: HangingServer, anyio_backend: str
) -> None:
    """After ClientClosedError the caller's task is not left half-cancelled: it can wait, time out
    and be cancelled again as usual (on asyncio: no cancellation request is left pending)."""
    client = VisionClient(f"http://127.0.0.1:{hanging_server.port}", "key")
    after: list[str] = []

    async def call() -> None:
        with pytest.raises(ClientClosedError):
            await client.tag(URL)
        if anyio_backend == "asyncio":
            import asyncio

            task = asyncio.current_task()
            assert task is not None and task.cancelling() == 0
        await anyio.sleep(0.01)  # would raise at once if a cancellation were still pending
        with anyio.move_on_after(0.01) as scope:
            await anyio.sleep(1)
        assert scope.cancelled_caught
        after.append("went on")

    async with anyio.create_task_group() as tg:
        hanging_server.expect = 3
        for _ in range(3):
            tg.start_soon(call)
        with anyio.fail_after(5):
            await hanging_server.all_in.wait()
        await client.aclose()
    assert after == ["went on"] * 3


async def test_aclose_and_the_callers_own_cancellation_together_stay_a_cancellation(
    hanging_server: HangingServer,
) -> None:
    """When the caller cancels a call at the moment the client closes, the caller's cancellation wins."""
    client = VisionClient(f"http://127.0.0.1:{hanging_server.port}", "key")
    outcome: list[str] = []

    async def call(scope: anyio.CancelScope) -> None:
        with scope:
            try:
                await client.tag(URL)
            except ClientClosedError:
                outcome.append("closed")
                raise
        outcome.append("cancelled" if scope.cancelled_caught else "other")

    scope = anyio.CancelScope()
    async with anyio.create_task_group() as tg:
        hanging_server.expect = 1
        tg.start_soon(call, scope)
        with anyio.fail_after(5):
            await hanging_server.all_in.wait()
        scope.cancel()
        await client.aclose()
    assert outcome == ["cancelled"]
    assert client.stats().in_flight == 0


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # asyncio's own timeouts; trio's scopes are covered above
async def test_asyncio_native_timeouts_still_work(hanging_server: HangingServer, anyio_backend: str) -> None:
    """asyncio.timeout and asyncio.wait_for around a call behave as usual: the call's task is
    cancelled by them, not by the client, so it ends in their TimeoutError."""
    import asyncio

    client = VisionClient(f"http://127.0.0.1:{hanging_server.port}", "key")
    async with client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await client.tag(URL)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.tag(URL), 0.05)
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0
        assert client.stats().in_flight == 0
        assert dict(client.stats().failures) == {}


async def test_shutdown_first_then_the_callers_cancellation_is_still_a_cancellation(
    hanging_server: HangingServer,
) -> None:
    """aclose() runs first and the caller cancels in the same loop iteration: still the caller's cancellation."""
    client = VisionClient(f"http://127.0.0.1:{hanging_server.port}", "key")
    outcome: list[str] = []
    scope = anyio.CancelScope()

    async def call() -> None:
        with scope:
            await client.tag(URL)
        outcome.append("cancelled" if scope.cancelled_caught else "returned")

    async with anyio.create_task_group() as tg:
        hanging_server.expect = 1
        tg.start_soon(call)
        with anyio.fail_after(5):
            await hanging_server.all_in.wait()
        tg.start_soon(client.aclose)  # its first step is the shutdown
        await anyio.lowlevel.checkpoint()
        scope.cancel()
    assert outcome == ["cancelled"]


async def test_a_call_in_shielded_cleanup_ends_closed_not_as_a_stray_cancellation(
    hanging_server: HangingServer,
) -> None:
    """A call made in shielded cleanup after the caller's scope was cancelled, then ended by aclose(),
    raises ClientClosedError (a bare cancellation must not leak out and be swallowed by the scope)."""
    client = VisionClient(f"http://127.0.0.1:{hanging_server.port}", "key")
    outcome: list[str] = []

    async def worker() -> None:
        try:
            with anyio.move_on_after(0.01):
                try:
                    await anyio.sleep(10)
                finally:
                    with anyio.CancelScope(shield=True):
                        await client.tag(URL)
            outcome.append("went on")
        except ClientClosedError:
            outcome.append("closed")

    async with anyio.create_task_group() as tg:
        hanging_server.expect = 1
        tg.start_soon(worker)
        with anyio.fail_after(5):
            await hanging_server.all_in.wait()
        await client.aclose()
    assert outcome == ["closed"]


async def test_aclose_lets_a_shielded_section_of_the_pipeline_finish() -> None:
    """A call whose breaker change is being published to a shared store (a shielded section) when
    the client closes: the publication completes and the call ends with its real error."""
    from vision_async._resilience.state import ResourceState

    log: list[str] = []
    started = anyio.Event()

    class SlowStore:
        async def refresh(self, breaker: object) -> None:
            return None

        async def try_probe(self) -> bool:
            return True

        async def publish(self, breaker: object) -> None:
            log.append("publish started")
            started.set()
            await anyio.sleep(0.05)  # a round trip to Redis, say
            log.append("publish completed")

    class Coordination:
        def resource(self, namespace: str, *, rate_limit: object, breaker: object) -> ResourceState:
            return ResourceState(breaker=SlowStore())  # type: ignore[arg-type]

        async def aclose(self) -> None:
            return None

        def describe(self) -> str:
            return "slow test store"

    async def answer_500(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await stream.receive()
            await stream.send(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
            await anyio.sleep(1)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as server:
        server.start_soon(listener.serve, answer_500)
        client = VisionClient(
            f"http://127.0.0.1:{port}",
            "key",
            retry=None,
            breaker=BreakerPolicy(fail_max=1),
            coordination=Coordination(),  # type: ignore[arg-type]
        )

        async def call() -> None:
            try:
                await client.tag(URL)
            except VisionError as exc:
                log.append(f"call ended: {type(exc).__name__}")

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            with anyio.fail_after(5):
                await started.wait()
            await client.aclose()
        server.cancel_scope.cancel()
    assert log == ["publish started", "publish completed", "call ended: InternalServerError"]
