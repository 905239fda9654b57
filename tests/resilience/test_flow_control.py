"""Flow control shared by every call of a client: rate limit, 429 cool-down, adaptive rate, retry
budget, concurrency limit, the one deadline, and stats. Virtual time: nothing waits for real."""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from tests.helpers import max_in_window, png_bytes
from vision_async import (
    APITimeoutError,
    BadRequestError,
    BreakerPolicy,
    BreakerState,
    CooldownTimeout,
    RateLimit,
    RateLimitError,
    RateLimitTimeout,
    RetryBudget,
    RetryPolicy,
    ServiceUnavailableError,
    VisionClient,
    VisionError,
)
from vision_async.emulator import Emulator, EmulatorTransport
from vision_async.testing import VirtualClock, json_response

pytestmark = pytest.mark.anyio

URL = "https://example.com/cat.jpg"
TAGS = {"tags": [{"name": "cat", "confidence": 0.9}], "requestId": "r", "modelVersion": "2021-04-01"}
IMAGE = png_bytes(64, 64)


class TimedTransport(httpx.AsyncBaseTransport):
    """Answers through ``answer(request, n)``; records the virtual time of every request."""

    def __init__(self, vc: VirtualClock, answer: Callable[[httpx.Request, int], httpx.Response] | None = None) -> None:
        self.vc = vc
        self.times: list[float] = []
        self.hosts: list[str] = []
        self._answer = answer or (lambda request, n: json_response(200, TAGS))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.times.append(self.vc.now)
        self.hosts.append(request.url.host)
        response = self._answer(request, len(self.times))
        await anyio.lowlevel.checkpoint()
        return response


def client_for(vc: VirtualClock, transport: httpx.AsyncBaseTransport, **options: Any) -> VisionClient:
    return VisionClient("https://unit.example.com", "k", transport=transport, clock=vc.clock, sleep=vc.sleep, **options)


async def run_calls(client: VisionClient, n: int) -> list[BaseException | None]:
    outcomes: list[BaseException | None] = [None] * n

    async def one(i: int) -> None:
        try:
            await client.tag(URL)
        except Exception as exc:
            outcomes[i] = exc

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, i)
    return outcomes


async def test_rate_limit_is_never_exceeded_over_any_second() -> None:
    """60 concurrent calls at RateLimit(10/s, burst 2): no one-second window holds more than 10 + 2."""
    vc = VirtualClock()
    transport = TimedTransport(vc)
    async with vc.running(), client_for(vc, transport, rate_limit=RateLimit(10.0, burst=2)) as client:
        outcomes = await run_calls(client, 60)
    assert outcomes == [None] * 60
    assert max_in_window(transport.times) <= 12
    assert transport.times[-1] - transport.times[0] >= (60 - 2) / 10 - 1e-6  # it really spaced them out


async def test_presets_match_the_azure_tiers() -> None:
    """RateLimit.S1 is 20 per second and RateLimit.F0 20 per minute."""
    assert RateLimit.S1.per_second == 20.0
    assert RateLimit.F0.per_second == pytest.approx(20 / 60)


async def test_a_token_past_the_deadline_fails_at_once() -> None:
    """A call whose token would come after its total deadline fails at once, without waiting in vain."""
    vc = VirtualClock()
    transport = TimedTransport(vc)
    policy = RetryPolicy(total_timeout=5.0)
    async with vc.running(), client_for(vc, transport, rate_limit=RateLimit(0.1, burst=1), retry=policy) as client:
        await client.tag(URL)
        start = vc.now
        with pytest.raises(RateLimitTimeout):
            await client.tag(URL)  # the next token comes in 10 s, the deadline in 5 s
        assert vc.now == start  # no waiting at all
    assert len(transport.times) == 1
    assert isinstance(RateLimitTimeout("x", wait=1.0), APITimeoutError)


async def test_one_429_pauses_every_call_of_the_client() -> None:
    """A 429 asking for 4 s holds new attempts of the other calls too, not only the one that got it."""
    vc = VirtualClock()

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            return json_response(429, {"error": {"code": "429", "message": "slow down"}}, headers={"Retry-After": "4"})
        return json_response(200, TAGS)

    transport = TimedTransport(vc, answer)
    async with vc.running(), client_for(vc, transport, adaptive=False) as client:
        t0 = vc.now
        await client.tag(URL)  # 429, then retried after 4 s
        assert vc.now - t0 == pytest.approx(4.0)
        transport.times.clear()
        # a fresh 429 for another call; meanwhile a third call starts
        transport._answer = lambda request, n: (
            json_response(429, {"error": {"code": "429", "message": "x"}}, headers={"Retry-After": "3"})
            if n == 1
            else json_response(200, TAGS)
        )
        t1 = vc.now

        async def later() -> None:
            await vc.sleep(0.5)
            await client.tag(URL)

        async with anyio.create_task_group() as tg:
            tg.start_soon(client.tag, URL)
            tg.start_soon(later)
    # the later call did not send before the 3 s cool-down ended
    assert transport.times[0] == t1  # the first call's 429
    assert len(transport.times) == 3  # its retry and the later call
    assert min(transport.times[1:]) >= t1 + 3.0 - 1e-9  # the later call waited out the pause too
    assert client.stats().throttled == 2


async def test_cooldown_beyond_the_deadline_fails_at_once() -> None:
    """A cool-down that outlasts a call's deadline ends that call with CooldownTimeout, sending nothing."""
    vc = VirtualClock()

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        return json_response(429, {"error": {"code": "429", "message": "x"}}, headers={"Retry-After": "30"})

    transport = TimedTransport(vc, answer)
    policy = RetryPolicy(total_timeout=10.0, max_retry_after=60.0)
    async with vc.running(), client_for(vc, transport, adaptive=False, retry=policy) as client:
        with pytest.raises(RateLimitError):
            await client.tag(URL)  # its own 30 s wait would pass its deadline: not retried
        with pytest.raises(CooldownTimeout):
            await client.tag(URL)
    assert len(transport.times) == 1


async def test_retry_budget_caps_retries_under_a_full_outage() -> None:
    """Every answer a 503: retries stay within ratio x requests + the floor, the rest fail at once."""
    vc = VirtualClock()

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        return json_response(503, {"error": {"code": "ServiceUnavailable", "message": "down"}})

    transport = TimedTransport(vc, answer)
    budget = RetryBudget(ratio=0.2, min_per_second=0.5, window=10.0)
    policy = RetryPolicy(max_attempts=4, initial_backoff=0.0, max_backoff=0.0, budget=budget)
    async with vc.running(), client_for(vc, transport, retry=policy, breaker=None) as client:
        outcomes = await run_calls(client, 100)
    assert all(isinstance(o, ServiceUnavailableError) for o in outcomes)
    stats = client.stats()
    retries = len(transport.times) - 100
    assert retries == stats.retries
    assert retries <= 0.2 * 100 + 0.5 * 10 + 1
    assert stats.retries_refused >= 100 - retries  # the calls that wanted one and were refused
    # without a budget the same outage costs three retries per call
    vc2 = VirtualClock()
    transport2 = TimedTransport(vc2, answer)
    no_budget = RetryPolicy(max_attempts=4, initial_backoff=0.0, max_backoff=0.0, budget=None)
    async with vc2.running(), client_for(vc2, transport2, retry=no_budget, breaker=None) as client2:
        await run_calls(client2, 100)
    assert len(transport2.times) == 400


async def test_max_concurrency_bounds_calls_in_flight() -> None:
    """max_concurrency=3: never more than three requests at the transport at once."""
    in_flight = 0
    peak = 0

    class Slow(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            for _ in range(5):
                await anyio.lowlevel.checkpoint()
            in_flight -= 1
            return json_response(200, TAGS)

    async with VisionClient("https://unit.example.com", "k", transport=Slow(), max_concurrency=3) as client:
        outcomes = await run_calls(client, 30)
    assert outcomes == [None] * 30
    assert peak == 3


async def test_total_deadline_starts_once_past_the_concurrency_limit() -> None:
    """With max_concurrency, a call's total deadline counts from when it gets its turn (the time
    waited in line is not taken from it); each attempt's timeout is what is left of it."""
    vc = VirtualClock()
    timeouts: list[float] = []

    class FourSeconds(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            timeouts.append(request.extensions["timeout"]["read"])
            await vc.sleep(4.0)
            return json_response(200, TAGS)

    policy = RetryPolicy(total_timeout=5.0)
    async with vc.running(), client_for(vc, FourSeconds(), max_concurrency=1, retry=policy, timeout=30.0) as client:
        outcomes = await run_calls(client, 2)
    assert outcomes == [None, None]
    assert timeouts == [pytest.approx(5.0), pytest.approx(5.0)]  # the second waited 4 s in line, not on its deadline


async def test_total_deadline_starts_with_the_call_without_a_concurrency_limit() -> None:
    vc = VirtualClock()
    timeouts: list[float] = []

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        timeouts.append(request.extensions["timeout"]["read"])
        return json_response(200, TAGS)

    policy = RetryPolicy(total_timeout=5.0)
    async with vc.running(), client_for(vc, TimedTransport(vc, answer), retry=policy, timeout=30.0) as client:
        await client.tag(URL)
    assert timeouts == [pytest.approx(5.0)]


async def storm(*, adaptive: bool, seconds: float) -> tuple[VisionClient, list[tuple[float, int, int]]]:
    """64 callers for ``seconds`` of virtual time against the emulator taking 10 tag calls a second.

    Returns the client and, per virtual second, (time, answered 200, answered 429).
    """
    vc = VirtualClock()
    em = Emulator(clock=vc.clock, sleep=vc.sleep, ocr="off")
    em.set_faults("tag", rate_limit=10)
    client = VisionClient(
        "https://e.test",
        "k",
        transport=EmulatorTransport(em),
        clock=vc.clock,
        sleep=vc.sleep,
        adaptive=adaptive,
        retry=RetryPolicy(max_attempts=10, total_timeout=None, budget=None),
    )
    per_second: list[tuple[float, int, int]] = []
    stop_at = vc.now + seconds

    async def worker() -> None:
        while vc.now < stop_at:
            with contextlib.suppress(RateLimitError):
                await client.tag(IMAGE)

    async def sampler() -> None:
        seen = collections.Counter(em.stats.answered)
        while vc.now < stop_at:
            await vc.sleep(1.0)
            now = collections.Counter(em.stats.answered)
            per_second.append((vc.now, now[("tag", 200)] - seen[("tag", 200)], now[("tag", 429)] - seen[("tag", 429)]))
            seen = now

    async with vc.running(), client, anyio.create_task_group() as tg:
        for _ in range(64):
            tg.start_soon(worker)
        tg.start_soon(sampler)
    return client, per_second


async def test_a_429_storm_converges_to_the_server_limit() -> None:
    """64 callers against a server that takes 10/s: adaptive throttling turns the storm into a steady stream."""
    client, per_second = await storm(adaptive=True, seconds=40.0)
    settled = per_second[10:]  # after the first 10 virtual seconds
    ok = sum(n for _, n, _ in settled)
    throttled = sum(n for _, _, n in settled)
    assert ok >= 0.85 * 10 * len(settled)  # goodput near the server's limit
    assert throttled <= 0.05 * (ok + throttled)  # under 5% answered 429 once settled
    assert client.stats().allowed_rate is not None


async def test_without_adaptive_the_storm_stays_a_storm() -> None:
    """The same load with adaptive=False keeps hitting the limit (the control for the test above)."""
    client, per_second = await storm(adaptive=False, seconds=20.0)
    ok = sum(n for _, n, _ in per_second)
    throttled = sum(n for _, _, n in per_second)
    assert client.stats().allowed_rate is None
    assert throttled > 0.2 * ok


async def test_breaker_by_failure_ratio_trips_on_a_partial_outage() -> None:
    """Interleaved successes never reset a ratio breaker: 60% failures over the window open it."""
    vc = VirtualClock()

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        if n % 5 in (1, 2, 3):
            return json_response(500, {"error": {"code": "InternalServerError", "message": "x"}})
        return json_response(200, TAGS)

    transport = TimedTransport(vc, answer)
    policy = BreakerPolicy(failure_ratio=0.5, minimum_throughput=20, sampling_window=30.0)
    async with vc.running(), client_for(vc, transport, retry=None, breaker=policy) as client:
        for _ in range(19):
            with contextlib.suppress(VisionError):
                await client.tag(URL)
        assert client.breaker_state is BreakerState.CLOSED  # below the minimum throughput
        for _ in range(5):
            with contextlib.suppress(VisionError):
                await client.tag(URL)
        assert client.breaker_state is BreakerState.OPEN
    consecutive_vc = VirtualClock()
    transport2 = TimedTransport(consecutive_vc, answer)
    async with (
        consecutive_vc.running(),
        client_for(
            consecutive_vc, transport2, retry=None, breaker=BreakerPolicy(fail_max=5, failure_ratio=None)
        ) as client2,
    ):
        for _ in range(40):
            with contextlib.suppress(VisionError):
                await client2.tag(URL)
        assert client2.breaker_state is BreakerState.CLOSED  # 3 in a row, then a success resets it


async def test_breaker_by_failure_ratio_ignores_one_blip_below_the_threshold() -> None:
    """One burst of failures among many successes stays under the ratio: the breaker stays closed."""
    vc = VirtualClock()

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        if 41 <= n <= 50:
            return json_response(503, {"error": {"code": "ServiceUnavailable", "message": "blip"}})
        return json_response(200, TAGS)

    transport = TimedTransport(vc, answer)
    policy = BreakerPolicy(failure_ratio=0.5, minimum_throughput=20, sampling_window=30.0)
    async with vc.running(), client_for(vc, transport, retry=None, breaker=policy) as client:
        outcomes = await run_calls(client, 100)
    assert sum(o is not None for o in outcomes) == 10
    assert client.breaker_state is BreakerState.CLOSED


async def test_stats_snapshot_counts_what_happened() -> None:
    """stats() reports requests, successes, failures by class, retries, 429s and in-flight calls."""
    vc = VirtualClock()

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            return json_response(429, {"error": {"code": "429", "message": "x"}}, headers={"Retry-After": "1"})
        if n == 3:
            return json_response(400, {"error": {"code": "InvalidRequest", "message": "bad"}})
        return json_response(200, TAGS)

    transport = TimedTransport(vc, answer)
    async with vc.running(), client_for(vc, transport, rate_limit=RateLimit(5.0)) as client:
        await client.tag(URL)
        with pytest.raises(BadRequestError):
            await client.tag(URL)
        stats = client.stats()
    assert stats.requests == 3
    assert stats.successes == 1
    assert dict(stats.failures) == {"BadRequestError": 1}
    assert stats.failed == 1
    assert stats.retries == 1
    assert stats.throttled == 1
    assert stats.in_flight == 0
    assert stats.breaker_state is BreakerState.CLOSED
    assert stats.allowed_rate is not None and stats.allowed_rate < 5.0  # cut by the 429
    assert len(stats.resources) == 1 and stats.resources[0].requests == 3
    with pytest.raises(AttributeError):
        stats.requests = 0  # type: ignore[misc]


async def test_a_call_refused_by_an_open_breaker_still_yields() -> None:
    """A refused call is a checkpoint (cancellation is delivered), so a loop of refusals cannot starve others."""
    vc = VirtualClock()

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        return json_response(500, {"error": {"code": "InternalServerError", "message": "x"}})

    async with (
        vc.running(),
        client_for(vc, TimedTransport(vc, answer), retry=None, breaker=BreakerPolicy(fail_max=1)) as client,
    ):
        with pytest.raises(VisionError):
            await client.tag(URL)
        assert client.breaker_state is BreakerState.OPEN
        with anyio.CancelScope() as scope:
            scope.cancel()
            await client.tag(URL)
        assert scope.cancelled_caught


async def test_the_cooldown_releases_waiters_as_a_ramp() -> None:
    """After a 10 s pause, waiting calls leave spread over up to a second, not all at one instant."""
    vc = VirtualClock()

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            return json_response(429, {"error": {"code": "429", "message": "x"}}, headers={"Retry-After": "10"})
        return json_response(200, TAGS)

    transport = TimedTransport(vc, answer)
    async with vc.running(), client_for(vc, transport, adaptive=False, retry=None) as client:
        t0 = vc.now
        with pytest.raises(RateLimitError):
            await client.tag(URL)
        await run_calls(client, 20)
    released = transport.times[1:]
    assert min(released) >= t0 + 10.0
    assert max(released) <= t0 + 11.0 + 1e-9
    assert len(set(released)) > 10  # spread out, not one wall


async def test_errors_say_which_resource_failed() -> None:
    """An error carries the root URL of the resource that answered it."""
    vc = VirtualClock()

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        return json_response(400, {"error": {"code": "InvalidRequest", "message": "bad"}})

    async with vc.running(), client_for(vc, TimedTransport(vc, answer)) as client:
        with pytest.raises(BadRequestError) as info:
            await client.tag(URL)
    assert info.value.resource == "https://unit.example.com"


async def test_error_code_from_the_header_when_the_body_has_none() -> None:
    """A bodiless error takes its code from x-ms-error-code (as 4.0 gateways send it)."""
    vc = VirtualClock()

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        return httpx.Response(400, headers={"x-ms-error-code": "InvalidRequest"})

    async with vc.running(), client_for(vc, TimedTransport(vc, answer)) as client:
        with pytest.raises(BadRequestError) as info:
            await client.tag(URL)
    assert info.value.code == "InvalidRequest"
