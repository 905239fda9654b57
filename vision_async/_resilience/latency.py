"""Hung attempts inside a batch: an attempt that runs far past the recent answers is abandoned early.

A batch's end waits for its slowest item. An attempt that hangs (the service took the request and
never answers) holds its item for the whole attempt timeout (30 s by default) before the retry
that would answer in milliseconds; the last hung attempts of a batch hold its end, and a batch at
the quota ends at half its goodput. So inside a batch (``batch_cuts`` is set, per item, by
``client.batch``) the attempt layer (``Send``) gives an attempt less time than the attempt
timeout: :meth:`HungAttempts.cutoff`, ``max(HUNG_FLOOR, HUNG_FACTOR x the HUNG_QUANTILE of the
last HUNG_SAMPLES successful attempts)``, once at least ``HUNG_MIN_SAMPLES`` attempts succeeded
and the last success is at most ``HUNG_FRESH`` seconds old (with no recent answers there is no
"recent latency" to compare with, and a service that hangs on everything must be seen by the
breaker as timeouts). An attempt that runs past it ends with :class:`HungAttemptTimeout`, which
the retry layer retries as any timeout and the breaker does not count: it is the client's own
early cut, not evidence of an outage.

An attempt that started before a cut-off was known (a batch's first attempts, before
``HUNG_MIN_SAMPLES`` answers came) is watched instead: each success recorded later cancels the
watched attempts that have run past the cut-off by then, so that a hang among the very first
attempts does not hold the batch's end either.

Each cut-off doubles the cut-off of that item's later attempts (up to the attempt timeout), so an
image that truly takes long (a large scan, a slow model) gets the time it needs within a few
attempts instead of being cut again and again.

Calls outside a batch (a web handler's) are never cut: ``batch_cuts`` is unset there. The hot
path costs one context-variable lookup outside a batch; inside, a clock read and a ring-buffer
store per attempt, and a sort of the samples every ``HUNG_REFRESH`` successes (plus a cancel scope
for the few attempts watched).
"""

from __future__ import annotations

from contextvars import ContextVar

import anyio

from .._defaults import (
    HUNG_FACTOR,
    HUNG_FLOOR,
    HUNG_FRESH,
    HUNG_MIN_SAMPLES,
    HUNG_QUANTILE,
    HUNG_REFRESH,
    HUNG_SAMPLES,
)
from .._errors import APITimeoutError

__all__ = ["HungAttemptTimeout", "HungAttempts", "batch_cuts"]

#: Set by ``client.batch`` in each item's task to ``[0]``: the item's cut-offs so far. Unset (None)
#: outside a batch, where attempts are never cut.
batch_cuts: ContextVar[list[int] | None] = ContextVar("vision_async_batch_cuts", default=None)


class HungAttemptTimeout(APITimeoutError):
    """An attempt of a batch abandoned because it ran far past the recent successful attempts.

    Retried like any timeout; not counted as a failure by the circuit breaker (it is the client's
    own early cut-off, taken while other attempts are answering, not evidence of an outage).
    """


class HungAttempts:
    """The recent successful attempts' latencies (one resource's), and the cut-off they give."""

    __slots__ = (
        "_count",
        "_cutoff",
        "_factor",
        "_floor",
        "_fresh",
        "_last_at",
        "_min_samples",
        "_next",
        "_quantile",
        "_refresh",
        "_ring",
        "_size",
        "_watched",
    )

    def __init__(
        self,
        *,
        floor: float = HUNG_FLOOR,
        factor: float = HUNG_FACTOR,
        quantile: float = HUNG_QUANTILE,
        samples: int = HUNG_SAMPLES,
        min_samples: int = HUNG_MIN_SAMPLES,
        fresh: float = HUNG_FRESH,
        refresh: int = HUNG_REFRESH,
    ) -> None:
        if not 1 <= min_samples <= samples:
            raise ValueError("min_samples must be between 1 and samples")
        self._size = samples
        self._floor = floor
        self._factor = factor
        self._quantile = quantile
        self._min_samples = min_samples
        self._fresh = fresh
        self._refresh = max(1, refresh)
        self._ring: list[float] = []
        self._next = 0  # where the next sample goes once the ring is full
        self._count = 0  # samples recorded, in all
        self._cutoff: float | None = None
        self._last_at = 0.0
        #: Attempts started before a cut-off was known: their cancel scope -> (start, stretch).
        self._watched: dict[anyio.CancelScope, tuple[float, float]] = {}

    def record(self, seconds: float, now: float) -> None:
        """One successful attempt took ``seconds``; it ended at ``now``."""
        ring = self._ring
        if len(ring) < self._size:
            ring.append(seconds)
        else:
            ring[self._next] = seconds
            self._next = (self._next + 1) % len(ring)
        self._count += 1
        self._last_at = now
        count = self._count
        if count >= self._min_samples and (count == self._min_samples or count % self._refresh == 0):
            ordered = sorted(ring)
            high = ordered[min(len(ordered) - 1, int(self._quantile * len(ordered)))]
            self._cutoff = max(self._floor, self._factor * high)
        if self._watched and self._cutoff is not None:
            self._cut_watched(now, self._cutoff)

    def watch(self, scope: anyio.CancelScope, start: float, stretch: float = 1.0) -> None:
        """An attempt started at ``start`` with no cut-off known: once one is, a success recorded
        after the attempt has run past ``stretch`` times it cancels ``scope``."""
        self._watched[scope] = (start, stretch)

    def unwatch(self, scope: anyio.CancelScope) -> None:
        self._watched.pop(scope, None)

    def _cut_watched(self, now: float, cutoff: float) -> None:
        for scope, (start, stretch) in list(self._watched.items()):
            if now - start > cutoff * stretch:
                del self._watched[scope]
                scope.cancel()

    def cutoff(self, now: float) -> float | None:
        """Seconds an attempt starting ``now`` may run before it counts as hung; None: no cut-off
        (too few successes yet, or none recent)."""
        cutoff = self._cutoff
        if cutoff is None or now - self._last_at > self._fresh:
            return None
        return cutoff

    @property
    def samples(self) -> int:
        """Successful attempts recorded so far."""
        return self._count
