"""The call-level layers, outermost first, each an object with one job and ``wrap(inner) -> handler``:
:class:`Lifecycle` (refuses when closing, ends calls on close), :class:`Bulkhead` (calls at once),
:class:`Deadline` (one total deadline), :class:`RetryLayer` (the retry loop, around the router).
They are composed in ``Pipeline.__init__``; the attempt-level layers are in ``attempt_layers``.

The retry layer is tenacity's ``async for attempt in AsyncRetrying(...)`` loop, with two fast
paths that measurement pays for (``benchmarks/bench_instructions.py``, callgrind, per call):

- the first attempt is made before the loop is built. Building and running the loop for every
  call made a successful ``tag()`` cost 1.42x the instructions over an in-memory transport
  (446,751 against 313,890) and 1.15x over the default pool (1,052,787 against 913,832), and
  most calls succeed at once. A failure the loop would retry is replayed into it as its attempt 1;
- a failure whose retry the spent budget refuses ends without the loop, when no other stop rule
  could end it first: a 503 refused so costs about 27,000 instructions more than the same 503
  with ``retry=None``, against about 480,000 through the loop.

``tests/resilience/test_retry_fast_path.py`` runs each scenario both ways and compares them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel

from .._backends import call_cancel_scope
from .._errors import (
    ClientClosedError,
    VisionError,
)
from .._resilience.retry import Retrier, is_retryable
from .._resilience.stats import Counters
from .call import Call, Handler, Response, closed_in_flight

__all__ = ["Bulkhead", "Deadline", "Lifecycle", "RetryLayer"]

logger = logging.getLogger("vision_async.pipeline")


class Lifecycle:
    """Refuses calls once the client is closing, and ends calls in flight when it closes.

    Every call runs in its own cancel scope; :meth:`shutdown` cancels them all and each ends with
    :class:`ClientClosedError` (never retried, never counted by the breaker, the budget or the
    adaptive limiter). A caller's own cancellation stays a cancellation, and the pipeline's
    shielded sections (a shared breaker's publication, a shared token's release) finish first.
    Under trio the scope is trio's own, cheaper than anyio's wrapper around it; on asyncio,
    anyio's (the figures: ``docs/performance.md``). Also keeps the call-level counters.
    """

    def __init__(self, counters: Counters) -> None:
        self.closing = False
        self._counters = counters
        self._scopes: set[Any] = set()

    def shutdown(self) -> None:
        self.closing = True
        for scope in list(self._scopes):
            scope.cancel()

    def check(self) -> None:
        if self.closing:
            raise ClientClosedError("this VisionClient is closed; create a new one")

    def wrap(self, inner: Handler) -> Handler:
        counters = self._counters
        scopes = self._scopes

        async def lifecycle(call: Call) -> Response:
            if self.closing:
                await anyio.lowlevel.checkpoint()
                self.check()
            scope = call_cancel_scope()
            scopes.add(scope)
            counters.in_flight += 1
            try:
                with scope:
                    response = await inner(call)
                    counters.successes += 1
                    return response
            except VisionError as exc:
                if self.closing and isinstance(exc, ClientClosedError):
                    await _callers_cancellation_first()
                counters.failures[type(exc).__name__] += 1
                raise
            finally:
                counters.in_flight -= 1
                scopes.discard(scope)
            # Only reached when shutdown() cancelled this call's scope.
            await _callers_cancellation_first()
            counters.failures["ClientClosedError"] += 1
            raise closed_in_flight(call.operation)

        return lifecycle


async def _callers_cancellation_first() -> None:
    """A call the shutdown ended whose caller cancelled it too ends as the caller's cancellation
    (under trio the closed socket can wake the call before the cancellation does). Called outside
    the call's own cancel scope, so only the caller's can raise here."""
    await anyio.lowlevel.checkpoint_if_cancelled()


class Bulkhead:
    """At most ``limit`` calls at once; the others wait in line (an anyio CapacityLimiter)."""

    def __init__(self, limit: int) -> None:
        self.limiter = anyio.CapacityLimiter(limit)

    def wrap(self, inner: Handler) -> Handler:
        limiter = self.limiter

        async def bulkhead(call: Call) -> Response:
            async with limiter:
                return await inner(call)

        return bulkhead


class Deadline:
    """Sets the call's one total deadline, ``total`` seconds from now on the client's clock (or
    keeps the call's own deadline when that is earlier)."""

    def __init__(self, total: float, clock: Callable[[], float]) -> None:
        self.total = total
        self._clock = clock

    def wrap(self, inner: Handler) -> Handler:
        total = self.total
        clock = self._clock

        async def deadline(call: Call) -> Response:
            end = clock() + total
            if call.deadline is None or end < call.deadline:
                call.deadline = end
            return await inner(call)

        return deadline


class RetryLayer:
    """The retry loop around the router: tenacity's ``AsyncRetrying`` with the :class:`Retrier`'s rules.

    With ``fast_path`` (the default; see the module docstring for why) the first attempt runs
    before the loop is built, and a failure that tenacity would retry is replayed into the loop as
    its attempt 1: from the first failure on, the two are one code path, the loop's (a test runs
    both and compares them). A failure tenacity would not retry is raised as the loop would raise
    it, and one whose retry the spent budget refuses is refused as the loop would refuse it
    (:meth:`Retrier.refuses_at_once`). ``fast_path=False`` is the plain loop, for that test.
    """

    def __init__(self, retrier: Retrier, *, fast_path: bool = True) -> None:
        self.retrier = retrier
        self.fast_path = fast_path

    def wrap(self, inner: Handler) -> Handler:
        retrier = self.retrier
        fast_path = self.fast_path

        async def retry(call: Call) -> Response:
            retrier.starting()
            failure: VisionError | None = None
            if fast_path:
                try:
                    return await inner(call)
                except VisionError as exc:
                    if not is_retryable(exc):  # the loop's retry predicate: it would raise it as is
                        raise
                    if retrier.refuses_at_once(exc, call.operation, call.deadline):
                        raise
                    failure = exc
            async for attempt in retrier.loop(call.operation, call.deadline):
                with attempt:
                    if failure is not None:
                        replayed, failure = failure, None
                        raise replayed  # the fast path's first attempt, as the loop's attempt 1
                    return await inner(call)
            raise AssertionError("unreachable: the loop re-raises the last failure")

        return retry
