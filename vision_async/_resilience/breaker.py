"""The circuit breaker: pybreaker's state machine driven safely from async code.

pybreaker 1.4 has no asyncio support: ``call_async`` is Tornado-only, ``call()`` on a coroutine
function records a success before the coroutine runs, and it guards its state with a thread
lock. So the breaker is driven in three synchronous steps, none of which awaits while pybreaker's
lock is held:

1. :meth:`Breaker.admit` before sending: fails fast with :class:`CircuitOpenError` while open,
   moves open -> half-open once ``reset_timeout`` has passed, and lets exactly one probe through
   while half-open.
2. the request is sent, with no lock held;
3. :meth:`Breaker.record` afterwards: the outcome is fed to pybreaker through ``call()`` with a
   synchronous function that returns (success) or raises (failure), so pybreaker's own counting,
   tripping and listeners do the rest. Cancellation feeds nothing.

Time comes from an injectable monotonic clock, not pybreaker's wall clock, so tests never sleep.

The decision rule is the one part beside pybreaker. In consecutive mode (``BreakerPolicy(fail_max=n)``
alone) pybreaker decides by itself: its ``fail_max``. In the default failure-ratio mode, a
:class:`_Window` counts attempts over the sampling window; pybreaker still counts the streak (its
``fail_counter``, fed through ``call()``), but its own ``fail_max`` is set out of reach, because a
streak must open the breaker only at low traffic: at 64 in flight, a handful of hung attempts
time out together while the service answers everything else, and pybreaker cannot be told "trip on
a streak only when the window is thin". So :meth:`Breaker._record_ratio` decides (ratio when the
window holds ``minimum_throughput`` attempts and at least half the calls in flight, so that a
window thinned by the client's own cool-down or rate limit is not trusted; or a streak of
``fail_max`` failures, or of half the calls in flight when that is more, so that hung attempts
timing out together at high concurrency do not open it) and calls pybreaker's ``open()``;
pybreaker's state machine and its listener (:meth:`Breaker._state_changed`) do the rest: the open
time, the growing break (``short_breaks`` of ``reset_timeout``, then doubled on each half-open ->
open; reset on close), events and logs.
Half-open probes go through pybreaker in both modes (its success closes, its failure re-opens).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from .._errors import APIConnectionError, APIStatusError, CircuitOpenError, InternalServerError
from .._events import BreakerState, BreakerStateChange, OnBreakerStateChange, call_hook
from .._policies import BreakerPolicy
from .latency import HungAttemptTimeout

__all__ = ["Breaker", "Ticket", "counts_as_failure"]

logger = logging.getLogger("vision_async.breaker")

Outcome = Literal["success", "failure", "neutral"]

#: Buckets of the failure-ratio window.
WINDOW_BUCKETS = 10


def counts_as_failure(exc: BaseException) -> bool:
    """5xx answers, 408, timeouts and connection errors are outages; nothing else is (other 4xx,
    429 included, are answers of a service that works; a batch's early cut-off of a hung attempt,
    :class:`HungAttemptTimeout`, is the client's own doing, taken while other attempts answer)."""
    if isinstance(exc, HungAttemptTimeout):
        return False
    if isinstance(exc, InternalServerError | APIConnectionError):
        return True
    return isinstance(exc, APIStatusError) and exc.status_code == 408


class Ticket:
    """Admission to send one request; ``probe`` when it is the half-open trial call."""

    __slots__ = ("probe",)

    def __init__(self, probe: bool) -> None:
        self.probe = probe


_NORMAL = Ticket(False)


class _Failure(Exception):
    """Stands for a failed request inside pybreaker's bookkeeping."""


def _succeed() -> None:
    return None


def _fail() -> None:
    raise _Failure


class _Window:
    """Outcomes over the last ``seconds`` seconds, in :data:`WINDOW_BUCKETS` buckets (O(1) per
    outcome): the window slides by a tenth of its length, so that it always holds between 90% and
    100% of it (a window that emptied at every whole second would fall back to the low-traffic rule
    at every boundary)."""

    __slots__ = ("_failures", "_size", "_slots", "_successes", "_total_failures", "_total_successes", "_width")

    def __init__(self, seconds: float) -> None:
        size = WINDOW_BUCKETS
        self._size = size
        self._width = seconds / size
        self._slots = [-1] * size  # which bucket number (time // width) each bucket holds
        self._successes = [0] * size
        self._failures = [0] * size
        self._total_successes = 0
        self._total_failures = 0

    def _bucket(self, now: float) -> int:
        number = int(now // self._width)
        index = number % self._size
        if self._slots[index] != number:
            self._expire(number)
            self._slots[index] = number
        return index

    def _expire(self, number: int) -> None:
        oldest = number - self._size
        for i, held in enumerate(self._slots):
            if held != -1 and held <= oldest:
                self._total_successes -= self._successes[i]
                self._total_failures -= self._failures[i]
                self._successes[i] = self._failures[i] = 0
                self._slots[i] = -1

    def add(self, now: float, failure: bool) -> tuple[int, int]:
        """Record one outcome; return (finished, failures) over the window."""
        index = self._bucket(now)
        if failure:
            self._failures[index] += 1
            self._total_failures += 1
        else:
            self._successes[index] += 1
            self._total_successes += 1
        return self._total_successes + self._total_failures, self._total_failures

    def clear(self) -> None:
        for i in range(self._size):
            self._slots[i] = -1
            self._successes[i] = self._failures[i] = 0
        self._total_successes = self._total_failures = 0


# pybreaker's state names (its STATE_* constants), so that this module needs no import of it:
# pybreaker imports redis when redis is installed, which would slow ``import vision_async`` down.
_CLOSED, _OPEN, _HALF_OPEN = "closed", "open", "half-open"


def _pybreaker() -> Any:
    """pybreaker, imported the first time a breaker is made."""
    import pybreaker

    return pybreaker


@functools.cache
def _listener_class() -> type:
    pybreaker = _pybreaker()

    class _Listener(pybreaker.CircuitBreakerListener):  # type: ignore[misc, name-defined]
        def __init__(self, owner: Breaker) -> None:
            self._owner = owner

        def state_change(self, cb: Any, old_state: Any, new_state: Any) -> None:
            self._owner._state_changed(old_state.name if old_state is not None else None, new_state.name)

    return _Listener


class Breaker:
    """One circuit breaker per client."""

    def __init__(
        self,
        policy: BreakerPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_state_change: OnBreakerStateChange | None = None,
        name: str = "vision_async",
        load: Callable[[], int] | None = None,
    ) -> None:
        self.policy = policy
        #: Calls in flight in the whole client (waiting at a cool-down or for a token included):
        #: the traffic a streak is weighed against, beside the attempts admitted here.
        self._load = load
        self._clock = clock
        self._on_state_change = on_state_change
        self._lock = threading.Lock()
        self._opened_at = 0.0
        #: The current break: reset_timeout for the first ``short_breaks`` breaks, then doubled
        #: after each failed probe up to max_reset_timeout.
        self._break = policy.reset_timeout
        #: Probes failed since the breaker last closed.
        self._failed_probes = 0
        self._probe_in_flight = False
        self._window = _Window(policy.sampling_window) if policy.failure_ratio is not None else None
        self._ratio_trip: tuple[int, int] | None = None
        self._mirrored = False
        self.changes = 0  # state changes so far (the shared store publishes after one)
        #: Attempts admitted and not yet recorded (probes aside): traffic that is under way.
        self.in_flight = 0
        #: True while closed: the hot path reads this instead of asking pybreaker's state property.
        self.is_closed = True
        pybreaker = _pybreaker()
        self._breaker_error: type[Exception] = pybreaker.CircuitBreakerError
        self._cb = pybreaker.CircuitBreaker(
            fail_max=policy.fail_max if self._window is None else 2**62,
            # pybreaker's own (wall clock) timer is never consulted: admit() moves open -> half-open.
            reset_timeout=policy.reset_timeout,
            listeners=[_listener_class()(self)],
            name=name,
        )

    @property
    def state(self) -> BreakerState:
        return BreakerState(self._cb.current_state)

    @property
    def failures(self) -> int:
        """Consecutive failures counted so far."""
        return int(self._cb.fail_counter)

    def mirror(self, state: BreakerState, *, open_remaining: float = 0.0) -> None:
        """Follow a state another process decided (shared coordination); no-op when already there.

        ``open_remaining``: seconds before the shared breaker lets a probe through.
        """
        with self._lock:
            current = self._cb.current_state
            if state is BreakerState.OPEN or state is BreakerState.HALF_OPEN:
                remaining = open_remaining if state is BreakerState.OPEN else 0.0
                if current == _CLOSED:
                    self._mirrored = True
                    self._cb.open()
                if self._cb.current_state == _OPEN:
                    self._opened_at = self._clock() - self._break + remaining
            elif current != _CLOSED:
                self._mirrored = True
                self._probe_in_flight = False
                self._cb.close()

    def release_probe(self, ticket: Ticket) -> None:
        """Give back a probe ticket that was not used (another process is probing)."""
        if ticket.probe:
            with self._lock:
                self._probe_in_flight = False

    @property
    def break_length(self) -> float:
        """Seconds of the current (or next) break: ``reset_timeout``, doubled per failed probe past
        the policy's ``short_breaks``."""
        return self._break

    def open_remaining(self) -> float:
        """Seconds before an open breaker lets a probe through (0.0 unless open)."""
        if self.is_closed or self._cb.current_state != _OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._break - self._clock())

    def admit(self) -> Ticket:
        """Let one request through, or raise :class:`CircuitOpenError` without sending anything."""
        if self.is_closed:
            self.in_flight += 1
            return _NORMAL
        cb = self._cb
        with self._lock:
            state = cb.current_state
            if state == _OPEN:
                remaining = self._opened_at + self._break - self._clock()
                if remaining > 0:
                    raise CircuitOpenError(
                        f"circuit breaker is open after failures; next probe allowed in {remaining:.3f}s",
                        retry_after=remaining,
                    )
                cb.half_open()
                state = _HALF_OPEN
            if state == _HALF_OPEN:
                if self._probe_in_flight:
                    raise CircuitOpenError(
                        "circuit breaker is half-open and its probe request is in flight",
                        retry_after=0.0,
                    )
                self._probe_in_flight = True
                return Ticket(True)
            self.in_flight += 1
            return _NORMAL

    def record(self, ticket: Ticket, outcome: Outcome) -> None:
        """Feed a finished request's outcome to the state machine."""
        if not ticket.probe and self.in_flight:
            self.in_flight -= 1
        window = self._window
        if window is not None and not ticket.probe and outcome != "neutral":
            self._record_ratio(outcome == "failure")
            return
        if outcome == "success" and not ticket.probe and self.is_closed and self._cb.fail_counter == 0:
            return  # the common case: nothing to reset, nothing to close
        with self._lock:
            if ticket.probe:
                self._probe_in_flight = False
            if outcome == "neutral":
                return
            if self._cb.current_state == _OPEN:
                # Opened by another request meanwhile; a late answer changes nothing.
                return
            with contextlib.suppress(_Failure, self._breaker_error):
                self._cb.call(_succeed if outcome == "success" else _fail)

    def _record_ratio(self, failure: bool) -> None:
        assert self._window is not None
        cb = self._cb
        if cb.current_state != _CLOSED:
            return  # a late answer from before the breaker opened changes nothing
        finished, failures = self._window.add(self._clock(), failure)
        if not failure:
            if cb.fail_counter:
                with self._lock:
                    if cb.current_state == _CLOSED:
                        cb.call(_succeed)  # pybreaker resets its consecutive count
            return
        policy = self.policy
        assert policy.failure_ratio is not None
        with self._lock:
            if cb.current_state != _CLOSED:
                return
            with contextlib.suppress(_Failure):
                cb.call(_fail)  # pybreaker counts the streak (its fail_max is out of reach)
            # The streak it takes: fail_max at low traffic; with many calls in flight (attempts
            # admitted here, or calls of the client, whichever is more: a 429 cool-down holds
            # calls before they reach the breaker), half of them, since that many hung attempts
            # timing out together would be a coincidence, while a dead service that answers fast
            # gives such a streak in milliseconds (long before a window full of recent successes
            # tips the ratio).
            load = self.in_flight if self._load is None else max(self.in_flight, self._load())
            half_load = load // 2
            trip = cb.fail_counter >= max(policy.fail_max, half_load)
            # The ratio is trusted once the window holds minimum_throughput attempts, and at least
            # half the calls in flight: a window thinner than that was thinned by the client
            # itself (a 429 cool-down or the rate limit holding most calls, so that little is
            # sent), and what finishes in it is mostly attempts sent long before (timeouts of hung
            # ones), not a sample of the service now. A dead service fills the window in
            # milliseconds, and while it is thin the streak rule above still opens the breaker.
            if not trip and finished >= max(policy.minimum_throughput, half_load):
                trip = failures >= policy.failure_ratio * finished
            if trip:
                self._ratio_trip = (failures, finished)
                cb.open()

    def _state_changed(self, old: str | None, new: str) -> None:
        # Called by pybreaker inside its lock; only bookkeeping and logging here.
        mirrored, self._mirrored = self._mirrored, False
        self.is_closed = new == _CLOSED
        if not mirrored:
            self.changes += 1
        if new == _OPEN:
            if old == _HALF_OPEN and not mirrored:
                # The probe failed: the service is still down; past the short breaks, the next
                # break is longer.
                self._failed_probes += 1
                if self._failed_probes >= self.policy.short_breaks:
                    self._break = min(self._break * 2, self.policy.max_reset_timeout)
            self._opened_at = self._clock()
        if new == _CLOSED:
            self._break = self.policy.reset_timeout
            self._failed_probes = 0
            if self._window is not None:
                self._window.clear()
        event = BreakerStateChange(
            old_state=BreakerState(old) if old else BreakerState.CLOSED,
            new_state=BreakerState(new),
            failures=self._cb.fail_counter,
        )
        if mirrored:
            logger.warning("circuit breaker %s: following the state shared by other workers", new)
        elif new == _OPEN and self._ratio_trip is not None:
            failures, finished = self._ratio_trip
            self._ratio_trip = None
            logger.warning(
                "circuit breaker opened: %d of the last %d attempts failed; probing again in %.1fs",
                failures,
                finished,
                self._break,
            )
        elif new == _OPEN:
            logger.warning(
                "circuit breaker opened after %d consecutive failures; probing again in %.1fs",
                event.failures,
                self._break,
            )
        elif new == _CLOSED:
            logger.warning("circuit breaker closed: the service answered again")
        else:
            logger.info("circuit breaker half-open: letting one probe request through")
        call_hook(self._on_state_change, event)
