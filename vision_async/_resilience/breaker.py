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
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import pybreaker

from .._errors import APIConnectionError, CircuitOpenError, InternalServerError
from .._events import BreakerState, BreakerStateChange, OnBreakerStateChange, call_hook
from .._policies import BreakerPolicy

__all__ = ["Breaker", "Ticket", "counts_as_failure"]

logger = logging.getLogger("vision_async.breaker")

Outcome = Literal["success", "failure", "neutral"]


def counts_as_failure(exc: BaseException) -> bool:
    """5xx answers, timeouts and connection errors are outages; nothing else is."""
    return isinstance(exc, InternalServerError | APIConnectionError)


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


class _Listener(pybreaker.CircuitBreakerListener):
    def __init__(self, owner: Breaker) -> None:
        self._owner = owner

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        self._owner._state_changed(old_state.name if old_state is not None else None, new_state.name)


class Breaker:
    """One circuit breaker per client."""

    def __init__(
        self,
        policy: BreakerPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_state_change: OnBreakerStateChange | None = None,
        name: str = "vision_async",
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._on_state_change = on_state_change
        self._lock = threading.Lock()
        self._opened_at = 0.0
        self._probe_in_flight = False
        self._cb = pybreaker.CircuitBreaker(
            fail_max=policy.fail_max,
            # pybreaker's own (wall clock) timer is never consulted: admit() moves open -> half-open.
            reset_timeout=policy.reset_timeout,
            listeners=[_Listener(self)],
            name=name,
        )

    @property
    def state(self) -> BreakerState:
        return BreakerState(self._cb.current_state)

    @property
    def failures(self) -> int:
        """Consecutive failures counted so far."""
        return self._cb.fail_counter

    def admit(self) -> Ticket:
        """Let one request through, or raise :class:`CircuitOpenError` without sending anything."""
        cb = self._cb
        state = cb.current_state
        if state == pybreaker.STATE_CLOSED:
            return _NORMAL
        with self._lock:
            state = cb.current_state
            if state == pybreaker.STATE_OPEN:
                remaining = self._opened_at + self.policy.reset_timeout - self._clock()
                if remaining > 0:
                    raise CircuitOpenError(
                        f"circuit breaker is open after {cb.fail_counter} consecutive failures; "
                        f"next probe allowed in {remaining:.3f}s",
                        retry_after=remaining,
                    )
                cb.half_open()
                state = pybreaker.STATE_HALF_OPEN
            if state == pybreaker.STATE_HALF_OPEN:
                if self._probe_in_flight:
                    raise CircuitOpenError(
                        "circuit breaker is half-open and its probe request is in flight",
                        retry_after=0.0,
                    )
                self._probe_in_flight = True
                return Ticket(True)
            return _NORMAL

    def record(self, ticket: Ticket, outcome: Outcome) -> None:
        """Feed a finished request's outcome to the state machine."""
        if (
            outcome == "success"
            and not ticket.probe
            and self._cb.current_state == pybreaker.STATE_CLOSED
            and self._cb.fail_counter == 0
        ):
            return  # the common case: nothing to reset, nothing to close
        with self._lock:
            if ticket.probe:
                self._probe_in_flight = False
            if outcome == "neutral":
                return
            if self._cb.current_state == pybreaker.STATE_OPEN:
                # Opened by another request meanwhile; a late answer changes nothing.
                return
            with contextlib.suppress(_Failure, pybreaker.CircuitBreakerError):
                self._cb.call(_succeed if outcome == "success" else _fail)

    def _state_changed(self, old: str | None, new: str) -> None:
        # Called by pybreaker inside its lock; only bookkeeping and logging here.
        if new == pybreaker.STATE_OPEN:
            self._opened_at = self._clock()
        event = BreakerStateChange(
            old_state=BreakerState(old) if old else BreakerState.CLOSED,
            new_state=BreakerState(new),
            failures=self._cb.fail_counter,
        )
        if new == pybreaker.STATE_OPEN:
            logger.warning(
                "circuit breaker opened after %d consecutive failures; probing again in %.1fs",
                event.failures,
                self.policy.reset_timeout,
            )
        elif new == pybreaker.STATE_CLOSED:
            logger.warning("circuit breaker closed: the service answered again")
        else:
            logger.info("circuit breaker half-open: letting one probe request through")
        call_hook(self._on_state_change, event)
