"""The client-side rate limit: RateLimit settings, GCRA arithmetic, and RateLimiter waiting rules."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random

import anyio
import anyio.abc
import pytest

from tests.helpers import max_in_window
from vision_async._errors import APITimeoutError, InvalidInputError, VisionError
from vision_async._resilience.rate_limit import (
    DEFAULT_BURST_SECONDS,
    Grant,
    LocalTokenState,
    RateLimit,
    RateLimiter,
    RateLimitTimeout,
    TokenState,
    default_burst,
)
from vision_async.testing import FakeClock, VirtualClock

pytestmark = pytest.mark.anyio


# --- RateLimit settings ------------------------------------------------------------------------


def test_rate_limit_per_second_positional_burst_keyword_only() -> None:
    """per_second may be positional; burst is keyword-only."""
    assert RateLimit(20.0) == RateLimit(per_second=20.0)
    assert RateLimit(5, burst=3).burst == 3.0
    with pytest.raises(TypeError):
        RateLimit(5, 3)  # type: ignore[call-arg]


def test_rate_limit_is_frozen() -> None:
    """A RateLimit cannot be changed after construction."""
    limit = RateLimit(10.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        limit.per_second = 5.0  # type: ignore[misc]


def test_presets_match_azure_tiers() -> None:
    """F0 is 20 per minute, S1 20 per second."""
    assert RateLimit.F0.per_second == pytest.approx(20 / 60)
    assert RateLimit.per_minute(20) == RateLimit.F0
    assert RateLimit.S1.per_second == 20.0
    assert RateLimit.S1.burst is None


def test_default_burst_is_a_tenth_of_a_second_at_least_one() -> None:
    """The default burst is floor(rate * 0.1) tokens, and at least one."""
    assert DEFAULT_BURST_SECONDS == 0.1
    assert RateLimit.S1.effective_burst == 2.0
    assert RateLimit.F0.effective_burst == 1.0
    assert RateLimit(5.0).effective_burst == 1.0
    assert RateLimit(30.0).effective_burst == 3.0
    assert RateLimit(1000.0).effective_burst == 100.0
    assert RateLimit(20.0, burst=7).effective_burst == 7.0
    assert default_burst(19.99) == 1.0


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, "20", None, True])
def test_rate_limit_rejects_bad_rate(bad: object) -> None:
    """A rate that is not a finite positive number is a typed input error."""
    with pytest.raises(InvalidInputError):
        RateLimit(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, 0.5, -2, math.nan, math.inf, "3", False])
def test_rate_limit_rejects_bad_burst(bad: object) -> None:
    """A burst below one token, or not a finite number, is a typed input error."""
    with pytest.raises(InvalidInputError):
        RateLimit(10.0, burst=bad)  # type: ignore[arg-type]


def test_rate_limit_timeout_is_an_api_timeout() -> None:
    """RateLimitTimeout is an APITimeoutError, hence a VisionError."""
    assert issubclass(RateLimitTimeout, APITimeoutError)
    assert issubclass(RateLimitTimeout, VisionError)


# --- GCRA state --------------------------------------------------------------------------------


async def test_local_state_books_burst_then_spaces_by_interval() -> None:
    """B tokens are free at once, then one every 1/R seconds."""
    state = LocalTokenState()
    waits = [await state.reserve(100.0, 10.0, 3.0, None) for _ in range(6)]
    assert [g.wait for g in waits if g] == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2, 0.3])


async def test_local_state_refuses_beyond_max_wait_and_books_nothing() -> None:
    """A reservation whose wait exceeds max_wait returns None and leaves the state unchanged."""
    state = LocalTokenState()
    await state.reserve(0.0, 10.0, 1.0, None)
    before = state.tat
    assert await state.reserve(0.0, 10.0, 1.0, 0.05) is None
    assert state.tat == before
    grant = await state.reserve(0.0, 10.0, 1.0, 0.1)
    assert grant is not None and grant.wait == pytest.approx(0.1)


async def test_local_state_release_only_the_last_booking() -> None:
    """release gives a slot back only when no later booking exists."""
    state = LocalTokenState()
    first = await state.reserve(0.0, 10.0, 1.0, None)
    second = await state.reserve(0.0, 10.0, 1.0, None)
    assert first is not None and second is not None
    assert not await state.release(first)
    assert await state.release(second)
    assert state.next_free_in(0.0, 10.0, 1.0) == pytest.approx(0.1)


# --- RateLimiter -------------------------------------------------------------------------------


async def test_free_token_returns_at_once_without_sleeping(fake_clock: FakeClock) -> None:
    """With a token free, acquire returns 0.0 and never sleeps."""
    limiter = RateLimiter(RateLimit(10.0, burst=3), clock=fake_clock.clock, sleep=fake_clock.sleep)
    assert [await limiter.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert fake_clock.sleeps == []
    assert await limiter.acquire() == pytest.approx(0.1)
    assert fake_clock.sleeps == [pytest.approx(0.1)]


async def test_unlimited_never_waits(fake_clock: FakeClock) -> None:
    """Without a limit, acquire always returns 0.0 and current_rate is None."""
    limiter = RateLimiter(clock=fake_clock.clock, sleep=fake_clock.sleep)
    assert limiter.current_rate is None and limiter.burst is None
    for _ in range(1000):
        assert await limiter.acquire(deadline=fake_clock.now) == 0.0
    assert limiter.next_free_in() == 0.0
    assert fake_clock.sleeps == []


async def test_unlimited_still_refuses_a_passed_deadline(fake_clock: FakeClock) -> None:
    """A deadline already in the past fails at once even when unlimited."""
    limiter = RateLimiter(clock=fake_clock.clock, sleep=fake_clock.sleep)
    with pytest.raises(RateLimitTimeout):
        await limiter.acquire(deadline=fake_clock.now - 0.001)


async def test_rate_never_exceeded_by_more_than_burst_in_any_second() -> None:
    """Many concurrent acquirers: no one-second window holds more than R + B grants, and the
    rate is actually reached."""
    rng = random.Random(7)
    for rate, burst in [(20.0, None), (5.0, 4.0), (33.3, 1.0)]:
        sim = VirtualClock(start=0.0)
        limit = RateLimit(rate, burst=burst)
        limiter = RateLimiter(limit, clock=sim.clock, sleep=sim.sleep)
        granted: list[float] = []

        async def worker(
            sim: VirtualClock = sim, limiter: RateLimiter = limiter, granted: list[float] = granted
        ) -> None:
            for _ in range(12):
                await sim.sleep(rng.choice([0.0, 0.0, rng.uniform(0, 0.5), rng.uniform(0, 4.0)]))
                await limiter.acquire()
                granted.append(sim.now)

        async with sim.running(), anyio.create_task_group() as tg:
            for _ in range(40):
                tg.start_soon(worker)
        assert len(granted) == 480
        assert max_in_window(granted) <= rate + limit.effective_burst
        busiest = max_in_window(granted, width=5.0)
        assert busiest >= 0.95 * 5.0 * rate  # saturated stretches run at the full rate


async def test_waiters_served_first_come_first_served() -> None:
    """Waiters get their tokens in the order they asked, each sleeping once."""
    sim = VirtualClock(start=0.0)
    sleeps: list[float] = []

    async def counting_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await sim.sleep(seconds)

    limiter = RateLimiter(RateLimit(4.0, burst=1), clock=sim.clock, sleep=counting_sleep)
    asked: list[int] = []
    served: list[tuple[int, float]] = []

    async def caller(n: int) -> None:
        await sim.sleep(0.01 * (n % 3))  # interleave the arrivals
        asked.append(n)
        await limiter.acquire()
        served.append((n, sim.now))

    async with sim.running(), anyio.create_task_group() as tg:
        for n in range(20):
            tg.start_soon(caller, n)
    assert [n for n, _ in served] == asked
    times = [t for _, t in served]
    assert all(b - a == pytest.approx(0.25) for a, b in itertools.pairwise(times))
    assert len(sleeps) == 19  # the first went at once; every other waiter slept exactly once


async def test_slot_after_deadline_fails_at_once_and_books_nothing(fake_clock: FakeClock) -> None:
    """A caller whose slot comes after its deadline gets RateLimitTimeout without waiting."""
    limiter = RateLimiter(RateLimit(2.0, burst=1), clock=fake_clock.clock, sleep=fake_clock.sleep)
    await limiter.acquire()
    start = fake_clock.now
    with pytest.raises(RateLimitTimeout) as info:
        await limiter.acquire(deadline=start + 0.4)
    assert info.value.wait == pytest.approx(0.5)
    assert fake_clock.now == start and fake_clock.sleeps == []
    assert limiter.next_free_in() == pytest.approx(0.5)  # nothing was booked
    assert await limiter.acquire(deadline=start + 0.5) == pytest.approx(0.5)  # exactly on time is fine


async def test_cancelled_last_waiter_gives_its_slot_back(fake_clock: FakeClock) -> None:
    """A waiter cancelled while nobody queued behind it returns its token."""
    entered = anyio.Event()

    async def blocking_sleep(seconds: float) -> None:
        entered.set()
        await anyio.sleep_forever()

    limiter = RateLimiter(RateLimit(1.0, burst=1), clock=fake_clock.clock, sleep=blocking_sleep)
    await limiter.acquire()
    assert limiter.next_free_in() == pytest.approx(1.0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(limiter.acquire)
        await entered.wait()
        assert limiter.next_free_in() == pytest.approx(2.0) and limiter.waiting == 1
        tg.cancel_scope.cancel()
    assert limiter.waiting == 0
    assert limiter.next_free_in() == pytest.approx(1.0)


async def test_cancelled_head_hands_its_slot_to_the_next_in_line(fake_clock: FakeClock) -> None:
    """The head of the line, cancelled while sleeping, gives its token back to the next caller."""
    waits: list[float] = []
    entered = [anyio.Event(), anyio.Event()]

    async def blocking_sleep(seconds: float) -> None:
        entered[len(waits)].set()
        waits.append(seconds)
        await anyio.sleep_forever()

    limiter = RateLimiter(RateLimit(1.0, burst=1), clock=fake_clock.clock, sleep=blocking_sleep)
    await limiter.acquire()
    async with anyio.create_task_group() as outer:
        with anyio.CancelScope() as first_scope:
            async with anyio.create_task_group() as first:
                first.start_soon(limiter.acquire)
                await entered[0].wait()
                outer.start_soon(limiter.acquire)
                while limiter.waiting < 2:
                    await anyio.lowlevel.checkpoint()
                first_scope.cancel()
        await entered[1].wait()
        assert waits == [pytest.approx(1.0), pytest.approx(1.0)]  # the same slot, not the one after
        outer.cancel_scope.cancel()
    assert limiter.waiting == 0
    assert limiter.next_free_in() == pytest.approx(1.0)


async def test_caller_cancelled_in_line_leaves_no_gap() -> None:
    """A caller cancelled while queued books nothing: the one behind it takes its place."""
    sim = VirtualClock(start=0.0)
    limiter = RateLimiter(RateLimit(1.0, burst=1), clock=sim.clock, sleep=sim.sleep)
    served: dict[str, float] = {}
    scopes = {name: anyio.CancelScope() for name in "ABCD"}

    async def caller(name: str, asked: anyio.Event) -> None:
        with scopes[name]:
            asked.set()  # acquire queues without suspending before it
            await limiter.acquire()
            served[name] = sim.now

    async def canceller() -> None:
        await sim.sleep(0.5)
        assert limiter.waiting == 3  # B (head, asleep until 1.0), C, D
        scopes["C"].cancel()

    async with sim.running(), anyio.create_task_group() as tg:
        for name in "ABCD":
            asked = anyio.Event()
            tg.start_soon(caller, name, asked)
            await asked.wait()
        tg.start_soon(canceller)
    assert served == {"A": 0.0, "B": 1.0, "D": 2.0}


async def test_queued_caller_fails_at_once_when_its_turn_is_after_deadline() -> None:
    """With callers ahead, a caller whose turn would come after its deadline is refused at once."""
    sim = VirtualClock(start=0.0)
    limiter = RateLimiter(RateLimit(1.0, burst=1), clock=sim.clock, sleep=sim.sleep)
    outcomes: dict[str, object] = {}

    async def caller(name: str, deadline: float | None, asked: anyio.Event) -> None:
        asked.set()
        try:
            await limiter.acquire(deadline=deadline)
            outcomes[name] = sim.now
        except RateLimitTimeout as exc:
            outcomes[name] = ("refused at", sim.now, "wait", exc.wait)

    async with sim.running(), anyio.create_task_group() as tg:
        for name, deadline in [("A", None), ("B", None), ("C", None), ("late", 2.5), ("ok", 3.0)]:
            asked = anyio.Event()
            tg.start_soon(caller, name, deadline, asked)
            await asked.wait()
    assert outcomes == {"A": 0.0, "B": 1.0, "C": 2.0, "late": ("refused at", 0.0, "wait", 3.0), "ok": 3.0}


async def test_set_rate_changes_spacing_and_can_lift_the_limit(fake_clock: FakeClock) -> None:
    """set_rate takes effect for the next booking; None lifts the limit."""
    limiter = RateLimiter(RateLimit(10.0, burst=1), clock=fake_clock.clock, sleep=fake_clock.sleep)
    await limiter.acquire()
    limiter.set_rate(2.0)
    assert limiter.current_rate == 2.0 and limiter.burst == 1.0
    await limiter.acquire()
    assert await limiter.acquire() == pytest.approx(0.5)
    limiter.set_rate(None)
    assert limiter.current_rate is None
    assert await limiter.acquire() == 0.0
    with pytest.raises(InvalidInputError):
        limiter.set_rate(0.0)
    with pytest.raises(InvalidInputError):
        limiter.set_rate(5.0, burst=0.1)


def test_set_rate_burst_never_above_the_configured_one() -> None:
    """Below the configured rate the burst is the default for the new rate, capped by the
    configured burst; at the configured rate it is the configured burst."""
    limiter = RateLimiter(RateLimit(100.0, burst=4))
    limiter.set_rate(80.0)
    assert limiter.burst == 4.0
    limiter.set_rate(20.0)
    assert limiter.burst == 2.0
    limiter.set_rate(100.0)
    assert limiter.burst == 4.0
    limiter.set_rate(50.0, burst=9)
    assert limiter.burst == 9.0
    unconfigured = RateLimiter()
    unconfigured.set_rate(40.0)
    assert unconfigured.burst == 4.0 and unconfigured.limit is None


async def test_next_free_in_reports_time_to_the_next_token(fake_clock: FakeClock) -> None:
    """next_free_in is 0 while a token is free and counts down to the next one otherwise."""
    limiter = RateLimiter(RateLimit(4.0, burst=2), clock=fake_clock.clock, sleep=fake_clock.sleep)
    assert limiter.next_free_in() == 0.0
    await limiter.acquire()
    assert limiter.next_free_in() == 0.0
    await limiter.acquire()
    assert limiter.next_free_in() == pytest.approx(0.25)
    fake_clock.advance(0.1)
    assert limiter.next_free_in() == pytest.approx(0.15)


class _RemoteLikeState:
    """A TokenState with its own clock, as a Redis-backed one would have."""

    def __init__(self) -> None:
        self.reserved: list[tuple[float, float, float | None]] = []
        self.released: list[Grant] = []

    async def reserve(self, now: float, rate: float, burst: float, max_wait: float | None) -> Grant | None:
        await anyio.lowlevel.checkpoint()  # a round trip
        self.reserved.append((rate, burst, max_wait))
        if max_wait is not None and max_wait < 1.5:
            return None
        return Grant(1.5, 123456.0, 1.0 / rate)

    async def release(self, grant: Grant) -> bool:
        await anyio.lowlevel.checkpoint()
        self.released.append(grant)
        return True

    def next_free_in(self, now: float, rate: float, burst: float) -> float:
        return 1.5


async def test_token_state_is_swappable(fake_clock: FakeClock) -> None:
    """The limiter waits for the wait a custom state grants, and releases through it on cancel."""
    remote = _RemoteLikeState()
    state: TokenState = remote
    limiter = RateLimiter(RateLimit(8.0), state=state, clock=fake_clock.clock, sleep=fake_clock.sleep)
    assert await limiter.acquire(deadline=fake_clock.now + 10) == pytest.approx(1.5)
    assert remote.reserved == [(8.0, 1.0, 10.0)]
    with pytest.raises(RateLimitTimeout):
        await limiter.acquire(deadline=fake_clock.now + 1.0)
    assert limiter.next_free_in() == 1.5

    entered = anyio.Event()

    async def blocking_sleep(seconds: float) -> None:
        entered.set()
        await anyio.sleep_forever()

    blocked = RateLimiter(RateLimit(8.0), state=state, clock=fake_clock.clock, sleep=blocking_sleep)
    async with anyio.create_task_group() as tg:
        tg.start_soon(blocked.acquire)
        await entered.wait()
        tg.cancel_scope.cancel()
    assert remote.released == [Grant(1.5, 123456.0, 0.125)]
