"""The 429 cool-down gate: one throttled answer pauses new attempts of every call of a resource.

Azure's quota is per resource and shared by every call, so when the service answers 429 with a
wait of W seconds, the calls that have not hit it yet would only hit it too. The gate holds every
new attempt until W has passed (the longest wait asked for wins), then lets them through to the
rate limiter, which spaces them out again. Without a rate limit they would all leave at the same
instant; so each waiter adds a random share of :data:`RELEASE_SPREAD` of the pause (at most
:data:`MAX_RELEASE_SPREAD` seconds), and the release is a ramp rather than a wall.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable

import anyio

from .._defaults import COOLDOWN as DEFAULT_COOLDOWN
from .._errors import CooldownTimeout
from .state import CooldownState

__all__ = ["DEFAULT_COOLDOWN", "MAX_COOLDOWN", "MAX_RELEASE_SPREAD", "RELEASE_SPREAD", "Cooldown", "CooldownTimeout"]

#: The longest pause one 429 can impose (a hostile Retry-After cannot stop the client for hours).
MAX_COOLDOWN = 60.0
#: Waiters leave spread over this fraction of the pause after it ends ...
RELEASE_SPREAD = 0.1
#: ... but over no more than this many seconds.
MAX_RELEASE_SPREAD = 1.0


class Cooldown:
    """When new attempts may start again (on the client's monotonic clock)."""

    __slots__ = ("_clock", "_pause", "_rand", "_shared", "_sleep", "_until", "throttles")

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = anyio.sleep,
        shared: CooldownState | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._clock = clock
        self._rand = rand
        self._pause = 0.0
        self._sleep = sleep
        self._shared = shared
        self._until = 0.0
        self.throttles = 0

    def _deadline(self, now: float) -> float:
        until = self._until
        if self._shared is not None:
            shared = self._shared.remaining()
            if shared > 0 and now + shared > until:
                until = now + shared
        return until

    @property
    def idle(self) -> bool:
        """True when no 429 was ever seen here and nothing is shared: ``wait`` would return at once."""
        return self._until <= 0.0 and self._shared is None

    def remaining(self) -> float:
        """Seconds left in the current cool-down (0.0 when none)."""
        now = self._clock()
        left = self._deadline(now) - now
        return left if left > 0 else 0.0

    def on_throttle(self, wait: float | None) -> None:
        """A 429 arrived asking for ``wait`` seconds (None: it named no wait)."""
        self.throttles += 1
        seconds = DEFAULT_COOLDOWN if wait is None else min(max(wait, 0.0), MAX_COOLDOWN)
        until = self._clock() + seconds
        if until > self._until:
            self._until = until
            self._pause = seconds
        if self._shared is not None:
            self._shared.publish(seconds)

    async def wait(self, *, deadline: float | None) -> None:
        """Return when new attempts may start; fail at once if that is after ``deadline``."""
        if self._until <= 0.0 and self._shared is None:
            return
        now = self._clock()
        until = self._deadline(now)
        if until <= now:
            return
        if deadline is not None and until > deadline:
            raise CooldownTimeout(
                f"the service asked for a pause of {until - now:.3f}s after a 429, beyond the call's total deadline"
            )
        spread = min(MAX_RELEASE_SPREAD, RELEASE_SPREAD * max(self._pause, until - now))
        await self._sleep(until - now + spread * self._rand())
