"""Client-side rate limit: the GCRA (generic cell rate algorithm), on anyio.

GCRA is a token bucket kept as one number, the *theoretical arrival time* ``TAT``. With a rate of
``R`` per second and a burst of ``B`` tokens::

    T   = 1 / R                   emission interval: one token every T seconds
    tau = (B - 1) * T             tolerance: how far ahead of the schedule a caller may go

    reserve at time now:
        tat  = max(TAT, now)
        slot = tat - tau          the earliest time this caller may send
        wait = max(0, slot - now)
        if wait > max_wait: refuse, change nothing
        TAT  = tat + T            the slot is booked

Over any window of ``D`` seconds at most ``floor(D * R + B - 1) + 1 <= D * R + B`` callers are let
through, so a configured rate of ``R`` per second is exceeded by at most the burst over any one
second.

Waiting callers form one FIFO line. Only the head of the line holds a booking: it books the next
token and sleeps once, until its slot; the others wait for their turn (an event each, no polling)
and book when they reach the head. So a rate change (:meth:`RateLimiter.set_rate`, driven by the
adaptive layer after a 429) applies at once to every caller that has not got its token yet:
pre-booking a whole line of 64 callers would keep sending at the old rate for seconds after the
server said no. A caller whose token would come after its deadline at the current rate (tokens
for everyone ahead of it, then its own) fails at once with :class:`RateLimitTimeout`, queueing
and booking nothing. A cancelled caller leaves the line; a cancelled head gives its token back
(``TokenState.release``) so the next caller gets the same slot.

The arithmetic and the state (``TAT``) sit behind the small :class:`TokenState` protocol, so that
the in-memory :class:`LocalTokenState` (the default) can be swapped for a shared one (an atomic
Lua script in Redis, with Redis ``TIME`` as its clock). States return *relative* waits, so the
caller's clock and the state's clock never mix; with the head-only booking, a process holds at most
one booking in a shared state at a time (one round trip per token).

Not thread-safe: one limiter serves one event loop (asyncio or trio).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Protocol

import anyio

from .._checks import is_number
from .._defaults import BURST_SECONDS as DEFAULT_BURST_SECONDS
from .._errors import InvalidInputError, RateLimitTimeout

__all__ = [
    "DEFAULT_BURST_SECONDS",
    "Grant",
    "LocalTokenState",
    "RateLimit",
    "RateLimitTimeout",
    "RateLimiter",
    "TokenState",
    "default_burst",
]


def _positive_rate(value: object, what: str) -> float:
    if not is_number(value):
        raise InvalidInputError(f"{what} must be a number, not {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or number <= 0.0:
        raise InvalidInputError(f"{what} must be a finite number above 0, got {value!r}")
    return number


def _valid_burst(value: object) -> float:
    if not is_number(value):
        raise InvalidInputError(f"burst must be a number, not {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or number < 1.0:
        raise InvalidInputError(f"burst must be a finite number of at least 1 token, got {value!r}")
    return number


def default_burst(per_second: float) -> float:
    """The burst used when none is given: ``max(1, floor(per_second * DEFAULT_BURST_SECONDS))``.

    A tenth of a second's worth keeps the worst one-second window within about 10% of the rate
    (``R + B``) for rates of 10 per second and more, while a handful of simultaneous calls still
    leave together; below 10 per second it is one token, so the rate is kept exactly.
    """
    return max(1.0, float(math.floor(per_second * DEFAULT_BURST_SECONDS + 1e-9)))


@dataclass(frozen=True, slots=True)
class RateLimit:
    """How many requests per second the client may send to one Azure resource.

    ``burst`` is how many requests may leave at once after a quiet spell, on top of which the
    rate applies; over any one second at most ``per_second + burst`` requests leave. It defaults
    to :func:`default_burst`: a tenth of a second's worth, at least 1 (``RateLimit(20)`` has a
    burst of 2; ``RateLimit.F0`` a burst of 1). ``effective_burst`` tells the value in use.

    Presets named after the Azure pricing tiers of Computer Vision / Image Analysis:

    - ``RateLimit.F0``: 20 requests per minute (the free tier).
    - ``RateLimit.S1``: 20 requests per second, the figure in the current Azure docs (older
      pages said 10 per second, and some 30); set your own if your resource's quota differs.

    ```pycon
    >>> from vision_async import RateLimit
    >>> RateLimit(20).effective_burst
    2.0
    >>> RateLimit.per_minute(20) == RateLimit.F0
    True

    ```
    """

    per_second: float
    _: KW_ONLY
    burst: float | None = None

    F0: ClassVar[RateLimit]
    S1: ClassVar[RateLimit]

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_second", _positive_rate(self.per_second, "per_second"))
        if self.burst is not None:
            object.__setattr__(self, "burst", _valid_burst(self.burst))

    @classmethod
    def per_minute(cls, count: float, *, burst: float | None = None) -> RateLimit:
        """``count`` requests per minute (``RateLimit.per_minute(20) == RateLimit.F0``)."""
        return cls(_positive_rate(count, "count") / 60.0, burst=burst)

    @property
    def effective_burst(self) -> float:
        """The burst in use: ``burst`` if given, else :func:`default_burst` of the rate."""
        return self.burst if self.burst is not None else default_burst(self.per_second)


RateLimit.F0 = RateLimit.per_minute(20)
RateLimit.S1 = RateLimit(20.0)


@dataclass(frozen=True, slots=True)
class Grant:
    """One booked token: ``wait`` seconds from the reservation until the slot.

    ``ticket`` and ``cost`` belong to the state that issued the grant (for GCRA: ``TAT`` after
    the booking, in that state's clock, and the emission interval charged); they let the state
    take the slot back on :meth:`TokenState.release`.
    """

    wait: float
    ticket: float
    cost: float


class TokenState(Protocol):
    """Where the limiter's state lives, and the arithmetic that books tokens atomically.

    ``now`` is the caller's clock; a shared state may use its own clock instead (Redis ``TIME``),
    since every value it returns is relative to the moment of the call.
    """

    async def reserve(self, now: float, rate: float, burst: float, max_wait: float | None) -> Grant | None:
        """Book the next token and say how long to wait for it, or ``None`` (booking nothing)
        when that wait would exceed ``max_wait`` (``None``: no bound)."""
        ...

    async def release(self, grant: Grant) -> bool:
        """Give an unused booked token back if no later booking depends on it; ``True`` if so."""
        ...

    def next_free_in(self, now: float, rate: float, burst: float) -> float:
        """Seconds until a token would be free without queueing (a shared state may answer from
        its last known value)."""
        ...


class LocalTokenState:
    """GCRA state in this process's memory (the default :class:`TokenState`)."""

    __slots__ = ("tat",)

    def __init__(self) -> None:
        self.tat = -math.inf

    async def reserve(self, now: float, rate: float, burst: float, max_wait: float | None) -> Grant | None:
        interval = 1.0 / rate
        tat = self.tat if self.tat > now else now
        wait = tat - (burst - 1.0) * interval - now
        if wait < 0.0:
            wait = 0.0
        if max_wait is not None and wait > max_wait:
            return None
        self.tat = tat + interval
        return Grant(wait, self.tat, interval)

    async def release(self, grant: Grant) -> bool:
        if self.tat != grant.ticket:
            return False
        self.tat = grant.ticket - grant.cost
        return True

    def next_free_in(self, now: float, rate: float, burst: float) -> float:
        tat = self.tat if self.tat > now else now
        return max(0.0, tat - (burst - 1.0) / rate - now)


class RateLimiter:
    """Lets callers through at most ``current_rate`` per second (plus the burst), in FIFO order.

    ``limit`` is the configured :class:`RateLimit` (``None``: unlimited until :meth:`set_rate`).
    ``clock`` and ``sleep`` are injectable (defaults ``time.monotonic`` and ``anyio.sleep``);
    deadlines passed to :meth:`acquire` are on ``clock``. ``state`` defaults to a
    :class:`LocalTokenState`.

    When a token is free, :meth:`acquire` books it and returns without waiting, without a lock,
    a task or a checkpoint (the send that follows is the checkpoint).
    """

    __slots__ = ("_burst", "_clock", "_limit", "_queue", "_rate", "_sleep", "_state")

    def __init__(
        self,
        limit: RateLimit | None = None,
        *,
        state: TokenState | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = anyio.sleep,
    ) -> None:
        self._limit = limit
        self._state: TokenState = state if state is not None else LocalTokenState()
        self._clock = clock
        self._sleep = sleep
        self._rate: float | None = None if limit is None else limit.per_second
        self._burst: float = 1.0 if limit is None else limit.effective_burst
        # The head (index 0) books its token and sleeps until its slot; everyone behind it waits
        # for its turn on an Event. The head's entry is _HEAD when it never had to queue.
        self._queue: deque[anyio.Event | object] = deque()

    @property
    def limit(self) -> RateLimit | None:
        """The configured limit (the ceiling the adaptive layer never exceeds)."""
        return self._limit

    @property
    def current_rate(self) -> float | None:
        """Tokens per second allowed now; ``None`` when unlimited."""
        return self._rate

    @property
    def burst(self) -> float | None:
        """The burst in use now; ``None`` when unlimited."""
        return None if self._rate is None else self._burst

    @property
    def waiting(self) -> int:
        """How many callers are waiting for their token right now."""
        return len(self._queue)

    def set_rate(self, per_second: float | None, *, burst: float | None = None) -> None:
        """Change the rate at run time (``None``: unlimited); every caller that has not booked its
        token yet is served at the new rate (only the head of the line holds a booking).

        Without ``burst``: the configured burst at the configured rate or above, else
        :func:`default_burst` of the new rate, never more than the configured burst.
        """
        if per_second is None:
            self._rate = None
            return
        rate = _positive_rate(per_second, "per_second")
        if burst is not None:
            new_burst = _valid_burst(burst)
        elif self._limit is not None and rate >= self._limit.per_second:
            new_burst = self._limit.effective_burst
        elif self._limit is not None:
            new_burst = min(self._limit.effective_burst, default_burst(rate))
        else:
            new_burst = default_burst(rate)
        self._rate, self._burst = rate, new_burst

    def next_free_in(self) -> float:
        """Seconds until a token would be free for a caller that does not queue (0.0 if now)."""
        rate = self._rate
        if rate is None:
            return 0.0
        return self._state.next_free_in(self._clock(), rate, self._burst)

    async def acquire(self, *, deadline: float | None = None) -> float:
        """Wait for a token; return the seconds waited.

        Raises :class:`RateLimitTimeout` at once, queueing and booking nothing, when the token
        would come after ``deadline`` (on this limiter's clock) at the current rate. A caller
        cancelled while waiting gives its place, and its booked token, back.
        """
        rate = self._rate
        if rate is None:
            if deadline is not None and self._clock() > deadline:
                raise RateLimitTimeout("the deadline passed before the request could be sent", wait=0.0)
            return 0.0
        start = self._clock()
        queue = self._queue
        if not queue:
            queue.append(_HEAD)
            try:
                return await self._take(start, deadline, queued=False)
            finally:
                self._pass_turn()
        if deadline is not None:
            # Everyone ahead but the head (which holds the next booking) still needs a token.
            expected = self._state.next_free_in(start, rate, self._burst) + (len(queue) - 1) / rate
            if start + expected > deadline:
                raise _timeout(expected, deadline - start)
        turn = anyio.Event()
        queue.append(turn)
        try:
            await turn.wait()
        except BaseException:
            if queue[0] is turn:  # the turn came with the cancellation
                self._pass_turn()
            else:
                queue.remove(turn)
            raise
        try:
            return await self._take(start, deadline, queued=True)
        finally:
            self._pass_turn()

    def _pass_turn(self) -> None:
        queue = self._queue
        queue.popleft()
        if queue:
            turn = queue[0]
            assert isinstance(turn, anyio.Event)
            turn.set()

    async def _take(self, start: float, deadline: float | None, *, queued: bool) -> float:
        """As the head of the line: book the next token and sleep until its slot."""
        rate = self._rate
        if rate is None:  # the limit was lifted while this caller queued
            return max(0.0, self._clock() - start)
        now = self._clock() if queued else start
        max_wait = None if deadline is None else deadline - now
        grant = await self._state.reserve(now, rate, self._burst, max_wait)
        if grant is None:
            raise _timeout(self._state.next_free_in(now, rate, self._burst), max_wait or 0.0)
        if grant.wait <= 0.0:
            return max(0.0, self._clock() - start) if queued else 0.0
        try:
            await self._sleep(grant.wait)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._state.release(grant)
            raise
        return max(0.0, self._clock() - start)


_HEAD = object()


def _timeout(wait: float, left: float) -> RateLimitTimeout:
    return RateLimitTimeout(
        f"rate limit: the next token comes in {wait:.3f} s, after the deadline ({max(0.0, left):.3f} s left)",
        wait=wait,
    )
