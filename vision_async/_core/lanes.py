"""Resources as the pipeline sees them (:class:`Lane`), and the :class:`Router` that picks one per attempt."""

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
from .auth import Auth
from .call import Call, Handler, Response, attempt_counter, compose
from .layers import BreakerLayer, Gate, Lifecycle, RateLimitLayer, Send

__all__ = ["Lane", "Router"]


class Lane:
    """One Azure resource: where to send, how to sign, and its own flow-control state."""

    def __init__(
        self,
        *,
        root: str,
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
        self.root = root
        self.auth = auth
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
            root=root,
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
                Gate(self.cooldown),
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
        return f"Lane({self.root!r})"


class Router:
    """Picks the resource for every attempt, and refuses new attempts once the client is closing.

    One resource: always it. Several: a pinned call (a Read being polled) goes where it was
    accepted; otherwise the resource that can take a request soonest, avoiding one whose breaker
    is open or that is cooling down while another can take it, and preferring, on a retry, another
    resource than the one that just failed.
    """

    def __init__(self, lanes: Sequence[Lane], lifecycle: Lifecycle) -> None:
        if not lanes:
            raise ValueError("at least one resource")
        self.lanes = tuple(lanes)
        self._lifecycle = lifecycle

    def pick(self, call: Call, refused: Sequence[Lane] = ()) -> Lane:
        lanes = self.lanes
        if len(lanes) == 1:
            return lanes[0]
        best: Lane | None = None
        best_wait = 0.0
        for lane in lanes:
            if lane in refused:
                continue
            wait = lane.ready_in()
            if lane is call.avoid:
                wait += 1e-3  # a tie goes to another resource
            if best is None or wait < best_wait:
                best, best_wait = lane, wait
        assert best is not None
        return best

    async def __call__(self, call: Call) -> Response:
        self._lifecycle.check()
        call.attempts += 1
        counter = attempt_counter.get()
        if counter is not None:
            counter[0] += 1
        refused: list[Lane] = []
        while True:
            lane = cast(Lane, call.lane) if call.lane is not None else self.pick(call, refused)
            lane.requests += 1
            try:
                response = await lane.handle(call)
            except CircuitOpenError as exc:
                # This resource's breaker refused (nothing was sent): another one may take it now.
                if call.lane is None and len(refused) + 1 < len(self.lanes):
                    refused.append(lane)
                    continue
                # Refused everywhere: nothing was sent, so this was no attempt; the wait to report is
                # the soonest any of the refusing resources lets a request through.
                call.attempts -= 1
                if counter is not None:
                    counter[0] -= 1
                for other in refused:
                    if other.breaker is not None:
                        exc.retry_after = min(exc.retry_after, other.breaker.open_remaining())
                call.avoid = lane
                exc.resource = lane.root
                raise
            except VisionError as exc:
                call.avoid = lane
                exc.resource = lane.root
                raise
            response.attempts = call.attempts
            response.resource = lane.root
            return response
