"""The resilience pipeline: a chain of small layers, composed in one place.

From the outside in::

    lifecycle -> concurrency limit -> total deadline -> retry (with budget) -> router
        -> [per attempt, on the resource the router picked:]
           429 cool-down gate -> rate limit (adaptive) -> circuit breaker -> attempt timeout + send

Each layer is an object with one job and a ``wrap(inner) -> handler`` method; :func:`compose`
nests them once, at construction, so a call costs one coroutine frame per layer and nothing else.
Layers see one :class:`Call` (the logical call: what to send, its one deadline, its attempts).
Per-resource state (cool-down, limiter, adaptive rate, breaker) lives in a :class:`Upstream`; the
:class:`Router` picks an upstream for every attempt.

The total deadline is ``Call.deadline`` on the client's clock, the one source of truth: the retry
layer never sleeps past it, the gate and the rate limiter refuse to wait past it, and each attempt's
timeout is cut to what is left of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import anyio
import anyio.lowlevel

from .._errors import CircuitOpenError
from .._resilience.retry import Retrier
from .._resilience.stats import Counters
from .call import Call, Handler, Layer, Response, compose, encode_query, request_id_of
from .call_layers import Bulkhead, Deadline, Lifecycle, RetryLayer
from .observer import Observer
from .router import Router, Upstream

__all__ = [
    "Call",
    "Handler",
    "Upstream",
    "Layer",
    "Lifecycle",
    "Pipeline",
    "Response",
    "compose",
    "request_id_of",
]


# -- the whole pipeline ------------------------------------------------------------------------


class Pipeline:
    """Sends one logical call through the chain. Built once per client."""

    def __init__(
        self,
        *,
        upstreams: Sequence[Upstream],
        lifecycle: Lifecycle,
        counters: Counters,
        retrier: Retrier | None,
        total_timeout: float | None,
        max_concurrency: int | None,
        clock: Callable[[], float],
        default_max_body: int | None = None,
    ) -> None:
        self.upstreams = tuple(upstreams)
        self.lifecycle = lifecycle
        self.counters = counters
        self.router = Router(self.upstreams, lifecycle)
        self.default_max_body = default_max_body
        self._clock = clock
        self.bulkhead = Bulkhead(max_concurrency) if max_concurrency is not None else None
        # The total deadline starts once a call is past the concurrency limit. Without a limit
        # nothing before it waits, so the call gets its deadline when it is made (one layer less).
        deadline_layer = total_timeout is not None and self.bulkhead is not None
        self._deadline_at_once = total_timeout if total_timeout is not None and not deadline_layer else None
        self.handle = compose(
            [
                lifecycle,
                self.bulkhead,
                Deadline(total_timeout, clock) if deadline_layer and total_timeout is not None else None,
                RetryLayer(retrier) if retrier is not None else None,
            ],
            self.router,
        )
        by_resource: dict[str, Upstream] = {}
        for upstream in self.upstreams:
            by_resource.setdefault(upstream.resource, upstream)
        self._by_resource = by_resource
        # One resource: an open breaker can refuse a call at the door (with several, the router
        # sends it to another resource).
        self._only_breaker = self.upstreams[0].breaker if len(self.upstreams) == 1 else None
        self.observer: Observer | None = None  # tracing and metrics (vision_async._observe); None: free

    def observe(self, observer: Observer | None) -> None:
        """Route calls and attempts through ``observer`` (None: no instrumentation at all)."""
        self.observer = observer
        for upstream in self.upstreams:
            upstream.send.observer = observer

    def upstream_for(self, resource: str | None) -> Upstream | None:
        return self._by_resource.get(resource) if resource is not None else None

    async def call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        query: str | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
        expect: int = 200,
        accept: str = "application/json",
        max_body: int | None = None,
        resource: str | None = None,
        deadline: float | None = None,
    ) -> Response:
        """Send ``method path`` (below the resource root) through the whole chain.

        :meth:`refuse_if_open` (the breaker's fail-fast check) is the caller's to ask first (the
        :class:`Runner` does, before it reads the image). ``query``: the query string already
        encoded (instead of ``params``). ``resource`` pins every attempt to the resource with that
        root URL (as a Response's ``resource`` names it); ``max_body`` caps the response body
        (default: the JSON cap). ``deadline`` (on the client's clock) ends the call no later than
        that, as the total timeout does (the earlier one holds): a Read's submit and polls share
        the Read's one deadline this way.
        """
        call = Call(
            operation,
            method,
            path,
            query if query is not None else encode_query(params) if params else "",
            content,
            content_type,
            expect,
            accept,
            max_body if max_body is not None else self.default_max_body,
            upstream=self.upstream_for(resource),
        )
        if self._deadline_at_once is not None:
            call.deadline = self._clock() + self._deadline_at_once
        if deadline is not None and (call.deadline is None or deadline < call.deadline):
            call.deadline = deadline
        if self.observer is not None:
            return await self.observer.call(call, self.handle)
        return await self.handle(call)

    @property
    def may_refuse(self) -> bool:
        """Whether :meth:`refuse_if_open` may refuse a call now (a cheap check, for the hot path)."""
        breaker = self._only_breaker
        return breaker is not None and not breaker.is_closed

    async def refuse_if_open(self) -> None:
        """With one resource, an open breaker refuses a call at once: before its image is read,
        before it waits in any line or takes a token (it would be refused after them anyway)."""
        breaker = self._only_breaker
        if breaker is None or breaker.open_remaining() <= 0.0:
            return
        try:
            breaker.admit()  # raises CircuitOpenError while open, changing nothing
        except CircuitOpenError:
            self.counters.failures["CircuitOpenError"] += 1
            await anyio.lowlevel.checkpoint()
            raise
