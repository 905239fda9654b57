"""Retry decisions: which failures to retry, how long to wait, when to give up.

Built on tenacity, whose pieces are composed in :mod:`.retry_rules` (imported with the first
retry); no tenacity type leaves these two modules but the loop itself, which the pipeline's retry
layer runs.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._errors import VisionError
from .._events import OnRetry
from .._policies import RetryPolicy
from .retryable import BUDGET_SPENT, RETRYABLE_STATUS, is_retryable, log_refusal, paced_by_the_server
from .stats import Counters

if TYPE_CHECKING:
    from .retry_rules import CallRetrying, Rules

__all__ = ["RETRYABLE_STATUS", "Retrier", "is_retryable", "paced_by_the_server", "parse_retry_after"]

_BODY_WAIT = re.compile(
    r"(?:try again|retry)\s+(?:in|after)\s+(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|sec|seconds?)?", re.I
)


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


class Retrier:
    """Decides and runs the retries of a call under a :class:`RetryPolicy`, through tenacity.

    :meth:`starting` counts a call in the retry budget; :meth:`loop` is tenacity's loop for one
    call (:class:`~vision_async._resilience.retry_rules.CallRetrying`), with rules built once, at
    the first retry (most processes never import tenacity). ``deadline`` (on the retrier's clock)
    is the call's one total deadline: no wait is started that would end after it.
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
        self._rules: Rules | None = None

    def starting(self) -> None:
        """A call starts (the retry budget counts it)."""
        if self.budget is not None:
            self.budget.record_request(self._clock())

    def refuses_at_once(self, exc: VisionError, operation: str, deadline: float | None) -> bool:
        """Whether the loop would end the call after its first attempt, failed with ``exc``,
        because the retry budget is spent; if so, counted and logged as the loop does, and the
        caller raises ``exc`` without building the loop (a spent budget stays cheap).

        Only when no stop rule before the budget's could end it first (they would log another
        reason): the attempt limit, a server wait above ``max_retry_after``, and the deadline,
        judged against the longest wait the loop could draw. Otherwise ``False``, nothing spent,
        and the loop decides.
        """
        budget = self.budget
        if budget is None or paced_by_the_server(exc):
            return False
        policy = self.policy
        if policy.max_attempts <= 1:
            return False
        server_wait = getattr(exc, "retry_after", None)
        if server_wait is not None and server_wait > policy.max_retry_after:
            return False
        now = self._clock()
        longest = float(server_wait) if server_wait is not None else policy.backoff_ceiling(1)
        if deadline is not None and now + longest > deadline:
            return False
        if budget.can_spend(now):
            return False
        budget.retries_refused += 1  # counted by the budget as the loop's refusal is (try_spend_retry)
        self._counters.retries_refused += 1
        log_refusal(operation, 1, exc, BUDGET_SPENT)
        return True

    def loop(self, operation: str, deadline: float | None) -> CallRetrying:
        """tenacity's ``AsyncRetrying`` for one call: ``async for attempt in retrier.loop(...)``."""
        rules = self._rules
        if rules is None:
            from .retry_rules import Rules  # with the first retry: most processes' calls never need one

            rules = self._rules = Rules(
                self.policy,
                clock=self._clock,
                sleep=self._sleep,
                rand=self._rand,
                budget=self.budget,
                counters=self._counters,
                hook=lambda: self.on_retry,
            )
        return rules.loop(operation, deadline)
