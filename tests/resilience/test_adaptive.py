"""Adaptive throttling: multiplicative decrease on 429, CUBIC climb back, convergence to a server limit."""

from __future__ import annotations

import collections
import math

import anyio
import pytest

from vision_async._errors import InvalidInputError
from vision_async._resilience.adaptive import (
    BETA,
    CUT_GRACE,
    MIN_RATE,
    RECOVERY_FACTOR,
    SCALE,
    AdaptiveRate,
    AdaptiveState,
    LocalAdaptiveState,
)
from vision_async._resilience.rate_limit import RateLimit, RateLimiter
from vision_async.testing import VirtualClock

pytestmark = pytest.mark.anyio


def send_steadily(adaptive: AdaptiveRate, rate: float, start: float, end: float) -> float:
    """Record sends at exactly ``rate`` per second over [start, end); return the end time."""
    n = round((end - start) * rate)
    for i in range(n):
        adaptive.on_send(start + i / rate)
    return end


def cubic(w_max: float, dt: float) -> float:
    k: float = (w_max * (1 - BETA) / SCALE) ** (1 / 3)
    return SCALE * (dt - k) ** 3 + w_max


def test_no_limit_and_no_callback_before_the_first_429() -> None:
    """Until a 429, the allowed rate is the ceiling (None: unlimited) and nothing is pushed."""
    changes: list[float | None] = []
    adaptive = AdaptiveRate(on_change=changes.append)
    for i in range(1000):
        adaptive.on_send(i * 0.01)
        adaptive.on_success(i * 0.01 + 0.2)
    assert adaptive.allowed_rate is None and not adaptive.throttled and changes == []
    capped = AdaptiveRate(ceiling=20.0)
    capped.on_success(1.0)
    assert capped.allowed_rate == 20.0 and capped.ceiling == 20.0


def test_429_cuts_to_beta_times_the_measured_send_rate() -> None:
    """After sending at 10 per second, a 429 allows 0.7 * 10 per second."""
    changes: list[float | None] = []
    adaptive = AdaptiveRate(on_change=changes.append)
    now = send_steadily(adaptive, 10.0, 0.0, 5.0)
    assert adaptive.send_rate(now) == pytest.approx(10.0)
    assert adaptive.on_throttle(now, sent_at=now - 0.1)
    assert adaptive.throttled
    assert adaptive.allowed_rate == pytest.approx(BETA * 10.0)
    assert changes == [pytest.approx(7.0)]


def test_send_rate_before_the_first_bucket_ends() -> None:
    """Before a first 0.5 s bucket ends, the send rate is sends over at least one bucket."""
    adaptive = AdaptiveRate()
    for i in range(8):
        adaptive.on_send(100.0 + i * 0.01)
    assert adaptive.send_rate(100.2) == pytest.approx(8 / 0.5)
    adaptive.on_throttle(100.2)
    assert adaptive.allowed_rate == pytest.approx(BETA * 16.0)


def test_climbs_back_along_the_cubic_curve_then_lifts_the_limit() -> None:
    """Successes raise the rate as SCALE * (dt - K)^3 + w_max; past RECOVERY_FACTOR * w_max the
    limit is lifted."""
    changes: list[float | None] = []
    adaptive = AdaptiveRate(on_change=changes.append)
    send_steadily(adaptive, 10.0, 0.0, 5.0)
    adaptive.on_throttle(5.0)
    k = (10.0 * (1 - BETA) / SCALE) ** (1 / 3)
    seen = []
    for step in range(1, 80):
        now = 5.0 + step * 0.1
        adaptive.on_send(now - 0.05)  # keep sending, so the 2x-measured cap stays out of the way
        adaptive.on_send(now - 0.02)
        adaptive.on_success(now)
        if adaptive.allowed_rate is None:
            break
        assert adaptive.allowed_rate == pytest.approx(cubic(10.0, now - 5.0))
        seen.append(adaptive.allowed_rate)
    assert seen == sorted(seen)
    assert cubic(10.0, k) == pytest.approx(10.0)  # back at the refused rate after K seconds
    assert adaptive.allowed_rate is None and not adaptive.throttled and changes[-1] is None
    lifted_at = 5.0 + step * 0.1
    assert cubic(10.0, lifted_at - 5.0) >= RECOVERY_FACTOR * 10.0 > cubic(10.0, lifted_at - 5.1)


def test_never_above_the_ceiling() -> None:
    """With a configured limit, the cut starts from it and the climb stops at it."""
    adaptive = AdaptiveRate(ceiling=12.0)
    send_steadily(adaptive, 20.0, 0.0, 3.0)  # sending faster than the ceiling (measured)
    adaptive.on_throttle(3.0)
    assert adaptive.allowed_rate == pytest.approx(BETA * 12.0)
    rates = []
    for step in range(1, 200):
        now = 3.0 + step * 0.1
        adaptive.on_send(now)
        adaptive.on_send(now + 0.05)
        adaptive.on_success(now)
        assert adaptive.allowed_rate is not None
        rates.append(adaptive.allowed_rate)
    assert max(rates) == 12.0 and rates[-1] == 12.0 and not adaptive.throttled


def test_one_cut_per_congestion_event() -> None:
    """A 429 for a request sent before the last cut, or within CUT_GRACE after it, cuts nothing."""
    adaptive = AdaptiveRate()
    send_steadily(adaptive, 20.0, 0.0, 5.0)
    assert adaptive.on_throttle(5.0, sent_at=4.9)
    first = adaptive.allowed_rate
    assert not adaptive.on_throttle(5.1, sent_at=4.95)  # sent before the cut
    assert not adaptive.on_throttle(5.9, sent_at=5.0 + CUT_GRACE - 0.01)  # sent in the grace period
    assert first is not None and adaptive.allowed_rate == first
    send_steadily(adaptive, 14.0, 5.0, 7.0)
    assert adaptive.on_throttle(7.0, sent_at=5.0 + CUT_GRACE)
    assert adaptive.allowed_rate == pytest.approx(BETA * first)  # min(measured 14, allowed 14) * 0.7
    assert adaptive.cuts == 2


def test_every_429_cuts_when_the_send_time_is_unknown() -> None:
    """Without sent_at, each 429 cuts (botocore's behaviour), never below MIN_RATE."""
    adaptive = AdaptiveRate()
    send_steadily(adaptive, 20.0, 0.0, 5.0)
    for i in range(30):
        assert adaptive.on_throttle(5.0 + i * 0.01)
    assert adaptive.allowed_rate == MIN_RATE


def test_allowed_rate_never_runs_ahead_of_twice_the_send_rate() -> None:
    """While throttled, the allowed rate is capped at twice the measured send rate."""
    adaptive = AdaptiveRate()
    send_steadily(adaptive, 20.0, 0.0, 5.0)
    adaptive.on_throttle(5.0)
    send_steadily(adaptive, 2.0, 5.0, 8.0)  # the application now sends little
    adaptive.on_success(8.0)
    assert adaptive.allowed_rate is not None
    assert adaptive.allowed_rate == pytest.approx(2 * adaptive.send_rate(8.0))
    assert adaptive.allowed_rate < cubic(20.0, 3.0)


def test_drives_the_rate_limiter() -> None:
    """Wired to RateLimiter.set_rate, the limiter follows the allowed rate, back to its ceiling."""
    limiter = RateLimiter(RateLimit(30.0))
    adaptive = AdaptiveRate(ceiling=30.0, on_change=limiter.set_rate)
    send_steadily(adaptive, 25.0, 0.0, 4.0)
    adaptive.on_throttle(4.0)
    assert limiter.current_rate == pytest.approx(BETA * 25.0, rel=0.05)
    for step in range(1, 300):
        adaptive.on_send(4.0 + step * 0.05)
        adaptive.on_success(4.0 + step * 0.05)
    assert limiter.current_rate == 30.0 and limiter.burst == 3.0
    unlimited = RateLimiter()
    free = AdaptiveRate(on_change=unlimited.set_rate)
    send_steadily(free, 10.0, 0.0, 2.0)
    free.on_throttle(2.0)
    assert unlimited.current_rate == pytest.approx(7.0)
    for step in range(1, 400):
        free.on_send(2.0 + step * 0.05)
        free.on_success(2.0 + step * 0.05)
    assert unlimited.current_rate is None


def test_state_is_shared_through_the_protocol() -> None:
    """Two clients on one AdaptiveState: one client's 429 slows the other."""
    shared: AdaptiveState = LocalAdaptiveState()
    changes: list[float | None] = []
    a = AdaptiveRate(state=shared)
    b = AdaptiveRate(state=shared, on_change=changes.append)
    send_steadily(a, 10.0, 0.0, 2.0)
    a.on_throttle(2.0)
    b.on_success(2.1)
    assert b.throttled and b.allowed_rate is not None
    assert b.allowed_rate == pytest.approx(cubic(10.0, 0.1))
    assert changes == [b.allowed_rate]


@pytest.mark.parametrize("bad", [0.0, -5.0, math.nan, math.inf])
def test_rejects_a_bad_ceiling(bad: float) -> None:
    """A ceiling that is not a finite positive rate is a typed input error."""
    with pytest.raises(InvalidInputError):
        AdaptiveRate(ceiling=bad)


# --- convergence against a simulated server ----------------------------------------------------


async def run_against_server_limit(
    limit: int, *, adaptive_on: bool, in_flight: int = 64, seconds: float = 60.0
) -> tuple[float, float]:
    """Simulated time: ``in_flight`` workers send back to back (429s retried at once) to a server
    that accepts ``limit`` requests in any one-second window, answering in 200 ms (429s in 20 ms).
    Returns (goodput / limit, share of answers that are 429) from second 10 on."""
    sim = VirtualClock(start=0.0)
    limiter = RateLimiter(clock=sim.clock, sleep=sim.sleep)
    adaptive = AdaptiveRate(on_change=limiter.set_rate)
    accepted: collections.deque[float] = collections.deque()
    ok: list[float] = []
    throttled: list[float] = []

    async def worker() -> None:
        while sim.now < seconds:
            await limiter.acquire()
            sent = sim.now
            adaptive.on_send(sent)
            while accepted and accepted[0] <= sent - 1.0:
                accepted.popleft()
            admitted = len(accepted) < limit
            if admitted:
                accepted.append(sent)
            await sim.sleep(0.2 if admitted else 0.02)
            if admitted:
                ok.append(sim.now)
                if adaptive_on:
                    adaptive.on_success(sim.now)
            else:
                throttled.append(sim.now)
                if adaptive_on:
                    adaptive.on_throttle(sim.now, sent_at=sent)

    async with sim.running(), anyio.create_task_group() as tg:
        for _ in range(in_flight):
            tg.start_soon(worker)
    good = sum(1 for t in ok if 10.0 <= t < seconds)
    bad = sum(1 for t in throttled if 10.0 <= t < seconds)
    return good / ((seconds - 10.0) * limit), bad / (good + bad)


@pytest.mark.parametrize("limit", [20, 50])
async def test_a_429_storm_converges_to_the_server_limit(limit: int) -> None:
    """64 in flight against a server taking L per second: goodput >= 0.85 L with under 5% 429s
    after the first 10 simulated seconds."""
    goodput, share_429 = await run_against_server_limit(limit, adaptive_on=True)
    assert goodput >= 0.85
    assert share_429 < 0.05


async def test_without_adaptive_the_storm_goes_on() -> None:
    """The same client without adaptive throttling keeps hammering: most answers are 429s."""
    _, share_429 = await run_against_server_limit(20, adaptive_on=False, in_flight=8, seconds=11.0)
    assert share_429 > 0.9
