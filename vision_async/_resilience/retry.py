"""Retry decisions: which failures to retry, how long to wait, when to give up.

Built on tenacity; no tenacity type leaves this module.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import (
    APIConnectionError,
    APIStatusError,
    CertificateVerificationError,
    CooldownTimeout,
    RateLimitTimeout,
    VisionError,
)
from .._events import OnRetry, RetryEvent, call_hook
from .._policies import RetryPolicy
from .stats import Counters

if TYPE_CHECKING:
    import tenacity

__all__ = ["RETRYABLE_STATUS", "Retrier", "is_retryable", "parse_retry_after"]

logger = logging.getLogger("vision_async.retry")

#: HTTP statuses worth another attempt.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})

_BODY_WAIT = re.compile(
    r"(?:try again|retry)\s+(?:in|after)\s+(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|sec|seconds?)?", re.I
)

T = TypeVar("T")


def _non_negative_float(value: str) -> float | None:
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if number != number or number < 0 or number == float("inf"):
        return None
    return number


def parse_retry_after(
    headers: Mapping[str, str],
    body: bytes | None = None,
    *,
    now: Callable[[], float] = time.time,
) -> float | None:
    """Seconds the server asked us to wait, or ``None``.

    Looks, in order, at ``retry-after-ms`` and ``x-ms-retry-after-ms`` (milliseconds),
    ``Retry-After`` (seconds, or an HTTP date, measured against ``now()``), and finally the
    body text Azure sends with some 429s ("Try again in 5 seconds", "retry after 1 second").
    ``headers`` must look names up case-insensitively (``httpx.Headers`` does).
    """
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        raw = headers.get(name)
        if raw is not None:
            ms = _non_negative_float(raw)
            if ms is not None:
                return ms / 1000.0
    raw = headers.get("retry-after")
    if raw is not None:
        seconds = _non_negative_float(raw)
        if seconds is not None:
            return seconds
        try:
            import email.utils  # only for the rare HTTP-date form (the module costs ms at import)

            when = email.utils.parsedate_to_datetime(raw.strip())
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - now())
    if body:
        match = _BODY_WAIT.search(body[:2000].decode("utf-8", "replace"))
        if match:
            value = float(match.group(1))
            unit = (match.group(2) or "s").lower()
            return value / 1000.0 if unit.startswith("m") else value
    return None


#: Timeouts that come from the call's own deadline, not from the service: never worth a retry.
_DEADLINE_ERRORS: tuple[type[VisionError], ...] = (CooldownTimeout, RateLimitTimeout)


#: Connection errors that fail the same way every time.
_NEVER_RETRIED: tuple[type[VisionError], ...] = (CertificateVerificationError,)


def is_retryable(exc: BaseException) -> bool:
    """Whether a failed attempt is worth another one."""
    if isinstance(exc, APIStatusError):
        return exc.status_code in RETRYABLE_STATUS
    return isinstance(exc, APIConnectionError) and not isinstance(exc, _DEADLINE_ERRORS + _NEVER_RETRIED)


class Retrier:
    """Decides and runs the retries of a call under a :class:`RetryPolicy` (through tenacity).

    The caller (the pipeline's retry layer) makes the first attempt itself, after
    :meth:`starting`: most calls succeed, and building tenacity's machinery costs tens of
    microseconds. A failure that :meth:`may_retry` allows goes to :meth:`retry`, which hands it to
    tenacity as its first attempt, so waits and limits count it as usual. ``deadline`` (on the
    retrier's clock) is the call's one total deadline: no wait is started that would end after it.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]],
        rand: Callable[[], float] = random.random,
        on_retry: OnRetry | None = None,
        budget: Any = None,
        counters: Counters | None = None,
    ) -> None:
        self.policy = policy
        self.budget = budget
        self._clock = clock
        self._sleep = sleep
        self._rand = rand
        #: The hook told of every retry (the user's ``on_retry``, chained with the observer's by the client).
        self.on_retry = on_retry
        self._counters = counters if counters is not None else Counters()

    def starting(self) -> None:
        """A call starts (the retry budget counts it)."""
        if self.budget is not None:
            self.budget.record_request(self._clock())

    def may_retry(self, exc: VisionError, operation: str) -> bool:
        """Whether the first attempt's failure ``exc`` may be retried at all."""
        if not is_retryable(exc) or self.policy.max_attempts <= 1:
            return False
        budget = self.budget
        if budget is not None and budget.available(self._clock()) < 1.0:
            # Refused before any retry machinery is built: a spent budget must be cheap.
            self._counters.retries_refused += 1
            logger.debug(
                "%s: not retrying after attempt 1 (%s): the retry budget is spent", operation, type(exc).__name__
            )
            return False
        return True

    async def retry(
        self, failure: VisionError, attempt: Callable[[], Awaitable[T]], *, operation: str, deadline: float | None
    ) -> T:
        """Go on after the first attempt failed with ``failure`` (which :meth:`may_retry` allowed)."""
        first = [failure]
        del failure

        async def replay_then_attempt() -> T:
            if first:
                raise first.pop()
            return await attempt()

        return await self._retrying(operation, deadline)(replay_then_attempt)

    def _retrying(self, operation: str, deadline: float | None) -> tenacity.AsyncRetrying:
        import tenacity  # with the first retry: most processes' calls never need one

        policy = self.policy
        clock = self._clock
        budget = self.budget
        counters = self._counters

        def wait(state: tenacity.RetryCallState) -> float:
            exc = _exception(state)
            server_wait = getattr(exc, "retry_after", None)
            if server_wait is not None:
                return float(server_wait)
            return self._rand() * policy.backoff_ceiling(state.attempt_number)

        def refuse(state: tenacity.RetryCallState, reason: str) -> bool:
            logger.debug(
                "%s: not retrying after attempt %d (%s): %s",
                operation,
                state.attempt_number,
                type(_exception(state)).__name__,
                reason,
            )
            return True

        class stop_when(tenacity.stop.stop_base):
            """A stop rule of this module as one of tenacity's, so that stop_any composes them."""

            def __init__(self, rule: Callable[[tenacity.RetryCallState], bool]) -> None:
                self.rule = rule

            def __call__(self, state: tenacity.RetryCallState) -> bool:
                return self.rule(state)

        class stop_after_attempts(tenacity.stop_after_attempt):
            """tenacity's own attempt limit, with the reason logged."""

            def __call__(self, state: tenacity.RetryCallState) -> bool:
                done: bool = super().__call__(state)
                return done and refuse(state, f"attempts exhausted ({policy.max_attempts})")

        def stop_when_server_wait_too_long(state: tenacity.RetryCallState) -> bool:
            upcoming = state.upcoming_sleep
            if getattr(_exception(state), "retry_after", None) is not None and upcoming > policy.max_retry_after:
                return refuse(
                    state, f"server asks for {upcoming:.3f}s, above max_retry_after={policy.max_retry_after}s"
                )
            return False

        def stop_before_deadline(state: tenacity.RetryCallState) -> bool:
            # tenacity's stop_before_delay, on the client's (injectable) clock and the call's deadline.
            upcoming = state.upcoming_sleep
            if deadline is not None and clock() + upcoming > deadline:
                return refuse(state, f"a {upcoming:.3f}s wait would pass the total deadline of {policy.total_timeout}s")
            return False

        def stop_when_budget_spent(state: tenacity.RetryCallState) -> bool:
            # Last: the budget is spent only by a retry that nothing else stops.
            if budget is not None and not budget.try_spend_retry(clock()):
                counters.retries_refused += 1
                return refuse(state, "the retry budget is spent (too many retries client-wide)")
            return False

        stop = tenacity.stop_any(
            stop_after_attempts(policy.max_attempts),
            stop_when(stop_when_server_wait_too_long),
            stop_when(stop_before_deadline),
            stop_when(stop_when_budget_spent),
        )

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = _exception(state)
            wait_s = state.upcoming_sleep
            counters.retries += 1
            logger.debug("%s: attempt %d failed (%s), retrying in %.3fs", operation, state.attempt_number, exc, wait_s)
            call_hook(
                self.on_retry,
                RetryEvent(
                    operation=operation,
                    attempt=state.attempt_number,
                    wait=wait_s,
                    error=exc,
                    retry_after=getattr(exc, "retry_after", None),
                ),
            )

        return tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception(is_retryable),
            wait=wait,
            stop=stop,
            before_sleep=before_sleep,
            sleep=self._sleep,  # type: ignore[arg-type]  # any awaitable result is fine
            reraise=True,
        )


def _exception(state: tenacity.RetryCallState) -> VisionError:
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    assert isinstance(exc, VisionError)  # the retry predicate only lets VisionErrors through
    return exc
