"""Resources as the pipeline sees them (:class:`Upstream`), and the :class:`Router` that picks one per attempt."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

from .._errors import CircuitOpenError, VisionError
from .._resilience.adaptive import AdaptiveRate
from .._resilience.breaker import Breaker
from .._resilience.cooldown import Cooldown
from .._resilience.rate_limit import RateLimiter
from .._resilience.state import ResourceState
from .._resilience.stats import Counters
from .._transports.base import Transport
from .attempt_layers import BreakerLayer, CooldownGate, RateLimitLayer, Send
from .auth import Auth
from .call import Call, Handler, Response, attempt_counter, compose
from .call_layers import Lifecycle

__all__ = ["Upstream", "Router"]


class Upstream:
    """One Azure resource: where to send, how to sign, and its own flow-control state."""

    def __init__(
        self,
        *,
        resource: str,
        auth: Auth,
        transport: Transport,
        timeout: float | None,
        user_agent: str,
        lifecycle: Lifecycle,
        counters: Counters,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
        breaker: Breaker | None = None,
        limiter: RateLimiter | None = None,
        adaptive: AdaptiveRate | None = None,
        redact: Callable[[str], str] | None = None,
        wall_clock: Callable[[], float] = time.time,
        shared: ResourceState | None = None,
    ) -> None:
        #: The resource's root URL, as results and errors name it (``resource``).
        self.resource = resource
        self.breaker = breaker
        self.limiter = limiter
        self.adaptive = adaptive
        shared = shared if shared is not None else ResourceState()
        self.shared = shared
        self.cooldown = Cooldown(clock=clock, sleep=sleep, shared=shared.cooldown)
        self.counters = counters
        self.requests = 0
        self._clock = clock
        send = Send(
            transport=transport,
            auth=auth,
            root=resource,
            timeout=timeout,
            user_agent=user_agent,
            lifecycle=lifecycle,
            counters=counters,
            clock=clock,
            redact=redact,
            wall_clock=wall_clock,
        )
        self.send = send
        self.handle: Handler = compose(
            [
                CooldownGate(self.cooldown),
                RateLimitLayer(limiter, adaptive, clock) if limiter is not None or adaptive is not None else None,
                BreakerLayer(breaker, shared.breaker) if breaker is not None else None,
            ],
            send,
        )

    def ready_in(self) -> float:
        """Seconds before this resource could take a request (0.0: now)."""
        wait = self.cooldown.remaining()
        limiter = self.limiter
        if limiter is not None:
            rate = limiter.current_rate
            queued = limiter.waiting / rate if rate else 0.0  # callers in line before this one
            wait = max(wait, limiter.next_free_in() + queued)
        if self.breaker is not None:
            wait = max(wait, self.breaker.open_remaining())
        return wait

    @property
    def allowed_rate(self) -> float | None:
        return self.limiter.current_rate if self.limiter is not None else None

    def __repr__(self) -> str:
        return f"Upstream({self.resource!r})"


class Router:
    """Picks the resource for every attempt, and refuses new attempts once the client is closing.

    One resource: always it. Several: a pinned call (a Read being polled) goes where it was
    accepted; otherwise the resource that can take a request soonest, avoiding one whose breaker
    is open or that is cooling down while another can take it, and preferring, on a retry, another
    resource than the one that just failed.
    """

    def __init__(self, upstreams: Sequence[Upstream], lifecycle: Lifecycle) -> None:
        if not upstreams:
            raise ValueError("at least one resource")
        self.upstreams = tuple(upstreams)
        self._lifecycle = lifecycle

    def pick(self, call: Call, refused: Sequence[Upstream] = ()) -> Upstream:
        upstreams = self.upstreams
        if len(upstreams) == 1:
            return upstreams[0]
        best: Upstream | None = None
        best_wait = 0.0
        for upstream in upstreams:
            if upstream in refused:
                continue
            wait = upstream.ready_in()
            if upstream is call.avoid:
                wait += 1e-3  # a tie goes to another resource
            if best is None or wait < best_wait:
                best, best_wait = upstream, wait
        assert best is not None
        return best

    async def __call__(self, call: Call) -> Response:
        self._lifecycle.check()
        call.attempts += 1
        counter = attempt_counter.get()
        if counter is not None:
            counter[0] += 1
        refused: list[Upstream] = []
        while True:
            upstream = cast(Upstream, call.upstream) if call.upstream is not None else self.pick(call, refused)
            upstream.requests += 1
            try:
                response = await upstream.handle(call)
            except CircuitOpenError as exc:
                # This resource's breaker refused (nothing was sent): another one may take it now.
                if call.upstream is None and len(refused) + 1 < len(self.upstreams):
                    refused.append(upstream)
                    continue
                # Refused everywhere: nothing was sent, so this was no attempt; the wait to report is
                # the soonest any of the refusing resources lets a request through.
                call.attempts -= 1
                if counter is not None:
                    counter[0] -= 1
                for other in refused:
                    if other.breaker is not None:
                        exc.retry_after = min(exc.retry_after, other.breaker.open_remaining())
                call.avoid = upstream
                exc.resource = upstream.resource
                raise
            except VisionError as exc:
                call.avoid = upstream
                exc.resource = upstream.resource
                raise
            response.attempts = call.attempts
            response.resource = upstream.resource
            return response
