"""A call's retries as tenacity's own pieces: the loop, its stop rules, its wait and its hook.

:class:`CallRetrying` is tenacity's ``AsyncRetrying`` for one call, with the rules of its
:class:`~vision_async._resilience.retry.Retrier` (built once per retrier, with the first retry)
and the call's operation and deadline, which the rules read through ``state.retry_object``::

    AsyncRetrying(
        retry=retry_if_exception(is_retryable),
        wait=wait_for_the_server(wait_full_jitter(policy)),   # Retry-After first, else full jitter
        stop=stop_any(
            stop_after_attempt(policy.max_attempts),
            stop_when_server_wait_too_long(policy.max_retry_after),
            stop_before_deadline(clock),                       # the call's one total deadline
            stop_when_budget_spent(budget, clock, counters),   # last: spent only if nothing else stops
        ),
        before_sleep=tell_of_retry(counters, hook),            # counts, logs, calls on_retry
        sleep=sleep, reraise=True,
    )

Each stop rule that ends a call logs why at DEBUG. Imported with the first retry only: most
processes never need tenacity.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import tenacity

from .._errors import VisionError
from .._events import OnRetry, RetryEvent, call_hook
from .._policies import RetryPolicy
from .retryable import BUDGET_SPENT, is_retryable, log_refusal, logger, paced_by_the_server
from .stats import Counters

__all__ = [
    "CallRetrying",
    "Rules",
    "stop_after_attempt",
    "stop_before_deadline",
    "stop_when_budget_spent",
    "stop_when_server_wait_too_long",
    "tell_of_retry",
    "wait_for_the_server",
    "wait_full_jitter",
]


class CallRetrying(tenacity.AsyncRetrying):
    """tenacity's loop for one call: the shared :class:`Rules`, the call's operation and deadline."""

    def __init__(self, rules: Rules, operation: str, deadline: float | None) -> None:
        super().__init__(
            retry=rules.retry,
            wait=rules.wait,
            stop=rules.stop,
            before_sleep=rules.before_sleep,
            sleep=rules.sleep,
            reraise=True,
        )
        self.operation = operation
        #: The call's total deadline on the retrier's clock; ``None``: none.
        self.deadline = deadline


class Rules:
    """The pieces of a :class:`CallRetrying`, built once per retrier."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
        rand: Callable[[], float],
        budget: Any,
        counters: Counters,
        hook: Callable[[], OnRetry | None],
    ) -> None:
        self.retry = tenacity.retry_if_exception(is_retryable)
        self.wait = wait_for_the_server(wait_full_jitter(policy, rand))
        stops: list[tenacity.stop.stop_base] = [
            stop_after_attempt(policy.max_attempts),
            stop_when_server_wait_too_long(policy.max_retry_after),
            stop_before_deadline(clock, policy.total_timeout),
        ]
        if budget is not None:
            stops.append(stop_when_budget_spent(budget, clock, counters))
        self.stop = tenacity.stop_any(*stops)
        self.before_sleep = tell_of_retry(counters, hook)
        self.sleep: Any = sleep  # tenacity types it as returning None; any awaitable result is fine

    def loop(self, operation: str, deadline: float | None) -> CallRetrying:
        return CallRetrying(self, operation, deadline)


def _exception(state: tenacity.RetryCallState) -> VisionError:
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    assert isinstance(exc, VisionError)  # the retry predicate only lets VisionErrors through
    return exc


def _operation(state: tenacity.RetryCallState) -> str:
    retrying = state.retry_object
    return retrying.operation if isinstance(retrying, CallRetrying) else "call"


def _refuse(state: tenacity.RetryCallState, reason: str) -> bool:
    """Log why the call ends with its last error; ``True`` (stop) for the stop rules to return."""
    log_refusal(_operation(state), state.attempt_number, _exception(state), reason)
    return True


class wait_full_jitter(tenacity.wait.wait_base):
    """A uniform wait between 0 and ``min(max_backoff, initial_backoff * 2 ** (n - 1))`` before
    retry *n* (tenacity's ``wait_random_exponential``, on the retrier's random source)."""

    def __init__(self, policy: RetryPolicy, rand: Callable[[], float]) -> None:
        self.ceiling = policy.backoff_ceiling
        self.rand = rand

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        return self.rand() * self.ceiling(retry_state.attempt_number)


class wait_for_the_server(tenacity.wait.wait_base):
    """The wait the server asked for (``Retry-After``, ``retry-after-ms``, ...), else ``fallback``'s."""

    def __init__(self, fallback: tenacity.wait.wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        server_wait = getattr(_exception(retry_state), "retry_after", None)
        if server_wait is not None:
            return float(server_wait)
        return self.fallback(retry_state)


class stop_after_attempt(tenacity.stop_after_attempt):
    """tenacity's attempt limit, with the reason logged."""

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        done: bool = super().__call__(retry_state)
        return done and _refuse(retry_state, f"attempts exhausted ({self.max_attempt_number})")


class stop_when_server_wait_too_long(tenacity.stop.stop_base):
    """The server asks for a wait above ``max_retry_after``: fail now rather than sleep that long."""

    def __init__(self, max_retry_after: float) -> None:
        self.max_retry_after = max_retry_after

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        upcoming = retry_state.upcoming_sleep
        if getattr(_exception(retry_state), "retry_after", None) is not None and upcoming > self.max_retry_after:
            return _refuse(
                retry_state, f"server asks for {upcoming:.3f}s, above max_retry_after={self.max_retry_after}s"
            )
        return False


class stop_before_deadline(tenacity.stop.stop_base):
    """tenacity's ``stop_before_delay``, on the client's (injectable) clock and the call's own
    deadline: no wait is started that would end after it."""

    def __init__(self, clock: Callable[[], float], total_timeout: float | None) -> None:
        self.clock = clock
        self.total_timeout = total_timeout

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        retrying = retry_state.retry_object
        deadline = retrying.deadline if isinstance(retrying, CallRetrying) else None
        upcoming = retry_state.upcoming_sleep
        if deadline is not None and self.clock() + upcoming > deadline:
            return _refuse(
                retry_state, f"a {upcoming:.3f}s wait would pass the total deadline of {self.total_timeout}s"
            )
        return False


class stop_when_budget_spent(tenacity.stop.stop_base):
    """The retry budget (client-wide) has no retry left. Last of the stop rules: a retry is spent
    only when nothing else stops it. A 429 that says how long to wait (:func:`paced_by_the_server`)
    is neither refused nor counted: the server is pacing the client, not failing."""

    def __init__(self, budget: Any, clock: Callable[[], float], counters: Counters) -> None:
        self.budget = budget
        self.clock = clock
        self.counters = counters

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        if paced_by_the_server(_exception(retry_state)) or self.budget.try_spend_retry(self.clock()):
            return False
        self.counters.retries_refused += 1
        return _refuse(retry_state, BUDGET_SPENT)


class tell_of_retry:
    """Before each wait: count the retry, log it, and tell the ``on_retry`` hook (read at each
    retry: the client chains the observer's in after the retrier is built)."""

    def __init__(self, counters: Counters, hook: Callable[[], OnRetry | None]) -> None:
        self.counters = counters
        self.hook = hook

    def __call__(self, retry_state: tenacity.RetryCallState) -> None:
        exc = _exception(retry_state)
        wait = retry_state.upcoming_sleep
        operation = _operation(retry_state)
        self.counters.retries += 1
        logger.debug("%s: attempt %d failed (%s), retrying in %.3fs", operation, retry_state.attempt_number, exc, wait)
        call_hook(
            self.hook(),
            RetryEvent(
                operation=operation,
                attempt=retry_state.attempt_number,
                wait=wait,
                error=exc,
                retry_after=getattr(exc, "retry_after", None),
            ),
        )
