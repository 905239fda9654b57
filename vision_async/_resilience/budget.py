"""Retry budget: retries may add only a fraction of the recent traffic, plus a small floor.

Per-call retry limits multiply load in an outage (every call retries ``max_attempts - 1`` times, so
a full outage turns into a retry storm). A budget bounds retries by what the client has been
doing lately, as Finagle, Envoy and gRPC's retry throttling do. Within the last ``window``
seconds::

    retries <= ratio * requests + min_per_second * window

where ``requests`` counts calls (first attempts; :meth:`RetryBudgetTracker.record_request`) and
``retries`` the retries let through (:meth:`RetryBudgetTracker.try_spend_retry`). A refused retry
means the call fails at once with its last error.

Defaults (:data:`DEFAULT_RATIO`, :data:`DEFAULT_MIN_PER_SECOND`, :data:`DEFAULT_WINDOW`):
20% and a 10-second window, as Finagle's default budget and Envoy's ``budget_percent``; a floor
of 1 retry per second rather than Finagle's 10, because one Azure resource takes only about 20
requests per second (S1): a 10 per second floor would let retries take half the quota in an
outage, while 1 per second (10 per window) still lets a quiet client, one call every few seconds,
retry every failed call of a short blip.

The window slides in ``ceil(window)`` buckets (at most :data:`MAX_BUCKETS`), kept in a ring with
running totals: each call is O(1), and the effective window is between ``window - window / n``
and ``window`` seconds. Pure arithmetic: no threads, no anyio, no clock of its own.
"""

from __future__ import annotations

import math

from .._defaults import BUDGET_MIN_PER_SECOND as DEFAULT_MIN_PER_SECOND
from .._defaults import BUDGET_RATIO as DEFAULT_RATIO
from .._defaults import BUDGET_WINDOW as DEFAULT_WINDOW
from .._policies import RetryBudget  # the settings; this module keeps the arithmetic

__all__ = [
    "DEFAULT_MIN_PER_SECOND",
    "DEFAULT_RATIO",
    "DEFAULT_WINDOW",
    "MAX_BUCKETS",
    "RetryBudget",
    "RetryBudgetTracker",
]

#: The most buckets the window is cut into (buckets are 1 second wide up to a 60-second window).
MAX_BUCKETS = 60


class RetryBudgetTracker:
    """Counts calls and retries over a sliding window and says whether one more retry fits.

    Times are seconds on any monotonic clock, passed in by the caller.
    """

    __slots__ = (
        "_floor",
        "_head",
        "_ratio",
        "_requests",
        "_requests_total",
        "_retries",
        "_retries_total",
        "_width",
        "budget",
        "requests",
        "retries_allowed",
        "retries_refused",
    )

    def __init__(self, budget: RetryBudget | None = None) -> None:
        self.budget = budget if budget is not None else RetryBudget()
        n = max(1, min(MAX_BUCKETS, math.ceil(self.budget.window)))
        self._width = self.budget.window / n
        self._ratio = self.budget.ratio
        self._floor = self.budget.min_per_second * self.budget.window
        self._requests = [0] * n
        self._retries = [0] * n
        self._requests_total = 0  # within the window
        self._retries_total = 0
        self._head: int | None = None  # absolute index of the newest bucket
        #: Lifetime counters: calls recorded, retries let through, retries refused.
        self.requests = 0
        self.retries_allowed = 0
        self.retries_refused = 0

    def _slot(self, now: float) -> int:
        """Slide the window to ``now``; return the ring position of ``now``'s bucket."""
        index = math.floor(now / self._width)
        head = self._head
        n = len(self._requests)
        if head is None or index - head >= n:
            if head is not None:
                self._requests = [0] * n
                self._retries = [0] * n
                self._requests_total = self._retries_total = 0
            self._head = index
        elif index > head:
            for absolute in range(head + 1, index + 1):
                slot = absolute % n
                self._requests_total -= self._requests[slot]
                self._retries_total -= self._retries[slot]
                self._requests[slot] = self._retries[slot] = 0
            self._head = index
        # A clock that steps back counts into the newest bucket.
        assert self._head is not None
        return self._head % n

    def record_request(self, now: float) -> None:
        """Count one call (its first attempt; retries are counted by :meth:`try_spend_retry`)."""
        slot = self._slot(now)
        self._requests[slot] += 1
        self._requests_total += 1
        self.requests += 1

    def available(self, now: float) -> float:
        """How many retries fit in the budget at ``now`` (may be fractional; never negative)."""
        self._slot(now)
        return max(0.0, self._ratio * self._requests_total + self._floor - self._retries_total)

    def can_spend(self, now: float) -> bool:
        """Whether :meth:`try_spend_retry` at ``now`` would let a retry through (nothing is spent)."""
        self._slot(now)
        return self._retries_total + 1 <= self._ratio * self._requests_total + self._floor + 1e-9

    def try_spend_retry(self, now: float) -> bool:
        """Spend one retry if the budget allows it; ``False`` (and counted) when it is spent."""
        if not self.can_spend(now):
            self.retries_refused += 1
            return False
        slot = self._slot(now)
        self._retries[slot] += 1
        self._retries_total += 1
        self.retries_allowed += 1
        return True
