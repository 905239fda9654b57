"""The circuit breaker: what opens it, what it refuses, how it probes and closes."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import anyio
import anyio.lowlevel
import httpx
import pytest

from tests.helpers import fixture_body
from vision_async import (
    BadRequestError,
    BreakerPolicy,
    BreakerState,
    BreakerStateChange,
    CircuitOpenError,
    InternalServerError,
    RateLimitError,
    VisionClient,
)
from vision_async._resilience.breaker import Breaker
from vision_async.testing import FakeClock, ScriptedTransport, json_response

pytestmark = pytest.mark.anyio

URL = "https://example.com/cat.jpg"
OK = json_response(200, fixture_body("tag_image"))
FAIL = json_response(500, {"error": {"code": "InternalServerError", "message": "boom"}})


async def test_failures_open_the_breaker_and_the_next_call_sends_nothing(
    make_client: Callable[..., VisionClient],
) -> None:
    """fail_max 500s open the breaker; the next call fails fast with CircuitOpenError, unsent."""
    transport = ScriptedTransport(FAIL)
    async with make_client(transport, retry=None, breaker=BreakerPolicy(fail_max=3, reset_timeout=30)) as client:
        for _ in range(3):
            with pytest.raises(InternalServerError):
                await client.tag(URL)
        assert client.breaker_state is BreakerState.OPEN
        with pytest.raises(CircuitOpenError) as info:
            await client.tag(URL)
    assert transport.count == 3
    assert 29.0 < info.value.retry_after <= 30.0


async def test_retries_stop_at_an_open_breaker(make_client: Callable[..., VisionClient]) -> None:
    """Retries count as failures; once the breaker opens, retrying stops without sending."""
    transport = ScriptedTransport(FAIL)
    async with make_client(transport, breaker=BreakerPolicy(fail_max=2, reset_timeout=30)) as client:
        with pytest.raises(CircuitOpenError):
            await client.tag(URL)
    assert transport.count == 2


async def test_4xx_and_429_do_not_count_as_failures(make_client: Callable[..., VisionClient]) -> None:
    """400 and 429 answers never open the breaker, however many."""
    bad = json_response(
        400,
        {
            "error": {
                "code": "InvalidRequest",
                "message": "bad",
                "innererror": {"code": "BadArgument", "message": "bad"},
            }
        },
    )
    limited = json_response(429, {"error": {"code": "429", "message": "slow down"}})
    transport = ScriptedTransport([bad, limited] * 10)
    async with make_client(transport, retry=None, breaker=BreakerPolicy(fail_max=2)) as client:
        for i in range(20):
            with pytest.raises(BadRequestError if i % 2 == 0 else RateLimitError):
                await client.tag(URL)
        assert client.breaker_state is BreakerState.CLOSED
    assert transport.count == 20


async def test_a_success_resets_the_consecutive_count(make_client: Callable[..., VisionClient]) -> None:
    """Only consecutive failures trip the breaker."""
    transport = ScriptedTransport([FAIL, FAIL, OK, FAIL, FAIL, OK])
    async with make_client(transport, retry=None, breaker=BreakerPolicy(fail_max=3)) as client:
        for _ in range(6):
            with contextlib.suppress(InternalServerError):
                await client.tag(URL)
        assert client.breaker_state is BreakerState.CLOSED


async def test_half_open_admits_one_probe_among_50_concurrent_callers(
    make_client: Callable[..., VisionClient], fake_clock: FakeClock
) -> None:
    """After reset_timeout, 50 concurrent calls send exactly one probe; the rest fail fast."""
    release = anyio.Event()
    sent: list[str] = []

    async def slow_ok(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        await release.wait()
        return httpx.Response(200, json=fixture_body("tag_image"))

    class CooldownGate(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.failing = True

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if self.failing:
                sent.append("fail")
                return httpx.Response(500, json={"error": {"code": "InternalServerError", "message": "down"}})
            return await slow_ok(request)

    gate = CooldownGate()
    client = VisionClient(
        "https://unit.example.com",
        "k",
        transport=gate,
        retry=None,
        breaker=BreakerPolicy(fail_max=2, reset_timeout=10),
        clock=fake_clock.clock,
        sleep=fake_clock.sleep,
    )
    async with client:
        for _ in range(2):
            with pytest.raises(InternalServerError):
                await client.tag(URL)
        assert client.breaker_state is BreakerState.OPEN
        fake_clock.advance(10.5)
        gate.failing = False
        sent.clear()
        outcomes: list[str] = []

        async def call() -> None:
            try:
                await client.tag(URL)
                outcomes.append("ok")
            except CircuitOpenError:
                outcomes.append("refused")

        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(call)
            while not sent:
                await anyio.lowlevel.checkpoint()
            for _ in range(10):  # let every caller reach the breaker
                await anyio.lowlevel.checkpoint()
            assert client.breaker_state is BreakerState.HALF_OPEN
            release.set()
        assert len(sent) == 1
        assert outcomes.count("ok") == 1
        assert outcomes.count("refused") == 49
        assert client.breaker_state is BreakerState.CLOSED


async def test_failed_probe_reopens(make_client: Callable[..., VisionClient], fake_clock: FakeClock) -> None:
    """A failing probe opens the breaker again for another reset_timeout."""
    transport = ScriptedTransport(FAIL)
    async with make_client(transport, retry=None, breaker=BreakerPolicy(fail_max=1, reset_timeout=5)) as client:
        with pytest.raises(InternalServerError):
            await client.tag(URL)
        fake_clock.advance(5.1)
        with pytest.raises(InternalServerError):
            await client.tag(URL)  # the probe
        assert client.breaker_state is BreakerState.OPEN
        with pytest.raises(CircuitOpenError):
            await client.tag(URL)
    assert transport.count == 2


async def test_cancellation_neither_retries_nor_counts(fake_clock: FakeClock) -> None:
    """A cancelled call sends once, is not retried, and leaves the failure count alone."""
    started = anyio.Event()
    calls = 0

    async def hang(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        started.set()
        await anyio.sleep_forever()
        raise AssertionError

    client = VisionClient(
        "https://unit.example.com",
        "k",
        transport=httpx.MockTransport(hang),
        breaker=BreakerPolicy(fail_max=1),
        clock=fake_clock.clock,
        sleep=fake_clock.sleep,
    )
    async with client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.tag, URL)
            await started.wait()
            tg.cancel_scope.cancel()
        assert calls == 1
        assert client.breaker_state is BreakerState.CLOSED
        assert client._parts.breaker is not None and client._parts.breaker.failures == 0


async def test_cancelled_probe_releases_the_half_open_slot(fake_clock: FakeClock) -> None:
    """Cancelling the probe lets the next call probe instead of locking the breaker half-open."""
    breaker = Breaker(BreakerPolicy(fail_max=1, reset_timeout=1), clock=fake_clock.clock)
    breaker.record(breaker.admit(), "failure")
    fake_clock.advance(2)
    probe = breaker.admit()
    assert probe.probe
    with pytest.raises(CircuitOpenError):
        breaker.admit()
    breaker.record(probe, "neutral")
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.admit().probe


async def test_100_concurrent_calls_through_the_breaker(make_client: Callable[..., VisionClient]) -> None:
    """100 concurrent calls pass the breaker (no lock held across await) and all succeed."""
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.001)
        in_flight -= 1
        return httpx.Response(200, json=fixture_body("tag_image"))

    client = VisionClient("https://unit.example.com", "k", transport=httpx.MockTransport(handler))
    results = []
    async with client:

        async def one() -> None:
            results.append(await client.tag(URL))

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                for _ in range(100):
                    tg.start_soon(one)
    assert len(results) == 100
    assert peak == 100  # all were inside the transport at once: nothing serialized them


async def test_state_changes_are_logged_and_hooked(
    make_client: Callable[..., VisionClient], fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Opening and closing log a WARNING and call on_breaker_state_change; a raising hook is harmless."""
    changes: list[BreakerStateChange] = []

    def hook(event: BreakerStateChange) -> None:
        changes.append(event)
        raise ValueError("hook bug")

    transport = ScriptedTransport(FAIL, OK)
    with caplog.at_level(logging.INFO, logger="vision_async"):
        async with make_client(
            transport, retry=None, breaker=BreakerPolicy(fail_max=1, reset_timeout=1), on_breaker_state_change=hook
        ) as client:
            with pytest.raises(InternalServerError):
                await client.tag(URL)
            fake_clock.advance(1.5)
            await client.tag(URL)
    assert [(c.old_state, c.new_state) for c in changes] == [
        (BreakerState.CLOSED, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]
    warnings = [
        r.getMessage() for r in caplog.records if r.name == "vision_async.breaker" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 2
    assert "opened" in warnings[0] and "closed" in warnings[1]


def test_a_streak_of_slow_failures_does_not_open_the_breaker_while_many_attempts_are_in_flight() -> None:
    """64 attempts admitted; the first few to finish are hung ones timing out together. The window
    holds only them (fewer than minimum_throughput), but the traffic is not low: no streak trip."""
    clock = FakeClock()
    breaker = Breaker(BreakerPolicy(), clock=clock.clock)
    tickets = [breaker.admit() for _ in range(64)]
    assert breaker.in_flight == 64
    for ticket in tickets[:8]:  # eight timeouts in a row, nothing else finished yet
        breaker.record(ticket, "failure")
    assert breaker.state is BreakerState.CLOSED
    for ticket in tickets[8:]:  # the rest answer: a 12% failure ratio, far below 50%
        breaker.record(ticket, "success")
    assert breaker.state is BreakerState.CLOSED and breaker.in_flight == 0


def test_at_low_traffic_five_failures_in_a_row_still_open_the_breaker() -> None:
    """One attempt at a time against a dead service: the streak rule opens it on the fifth."""
    clock = FakeClock()
    breaker = Breaker(BreakerPolicy(), clock=clock.clock)
    for n in range(1, 6):
        breaker.record(breaker.admit(), "failure")
        clock.now += 1.0
        assert breaker.state is (BreakerState.OPEN if n == 5 else BreakerState.CLOSED), n
    assert breaker.in_flight == 0


def test_a_hung_outage_at_high_concurrency_opens_on_the_ratio_once_the_attempts_finish() -> None:
    """Everything hangs: 64 attempts time out together; the ratio (64 of 64) opens the breaker."""
    clock = FakeClock()
    breaker = Breaker(BreakerPolicy(), clock=clock.clock)
    tickets = [breaker.admit() for _ in range(64)]
    clock.now += 0.5
    for ticket in tickets:
        breaker.record(ticket, "failure")
        if breaker.state is BreakerState.OPEN:
            break
    assert breaker.state is BreakerState.OPEN


def test_a_fast_outage_at_high_traffic_opens_on_a_streak_of_half_the_attempts_in_flight() -> None:
    """A window full of recent successes would take hundreds of failures to tip the ratio; a
    dead service that answers at once gives half the attempts in flight, 31 failures in a row, first."""
    clock = FakeClock()
    breaker = Breaker(BreakerPolicy(), clock=clock.clock)
    for _ in range(1000):  # the healthy second before the outage
        breaker.record(breaker.admit(), "success")
    in_flight = [breaker.admit() for _ in range(64)]
    failures = 0
    while breaker.state is BreakerState.CLOSED and failures < 500:
        breaker.record(in_flight.pop(0), "failure")  # one answer (a fast 503), one new attempt
        failures += 1
        if breaker.state is BreakerState.CLOSED:
            in_flight.append(breaker.admit())
    assert breaker.state is BreakerState.OPEN
    assert failures == 31  # max(fail_max, 63 // 2) with 63 still in flight: far fewer than the ratio needs


def test_calls_held_before_the_breaker_count_as_traffic_for_the_streak() -> None:
    """A 429 cool-down holds 60 of 64 calls before they reach the breaker: the 4 attempts it
    admitted time out in a row, but 64 calls are in flight, so no streak of 5 opens it."""
    clock = FakeClock()
    breaker = Breaker(BreakerPolicy(), clock=clock.clock, load=lambda: 64)
    for _ in range(8):
        breaker.record(breaker.admit(), "failure")
    assert breaker.state is BreakerState.CLOSED
    alone = Breaker(BreakerPolicy(), clock=clock.clock)  # without the client's load: the streak opens it
    for _ in range(5):
        alone.record(alone.admit(), "failure")
    assert alone.state is BreakerState.OPEN
