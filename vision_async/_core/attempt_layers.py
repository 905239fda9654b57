"""The attempt-level layers, outermost first, on the upstream the router picked, each with
``wrap(inner) -> handler``: :class:`CooldownGate` (the 429 cool-down), :class:`RateLimitLayer`
(rate limit, adaptive), :class:`BreakerLayer` (the circuit breaker), :class:`Send` (attempt
timeout, signing, the transport, status to error). They are composed in ``Upstream.__init__``
(``router.py``); the call-level layers are in ``call_layers``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from .._errors import (
    APIStatusError,
    APITimeoutError,
    CircuitOpenError,
    ClientClosedError,
    RateLimitError,
    ResponseValidationError,
    VisionError,
    error_from_response,
)
from .._events import note
from .._resilience.adaptive import AdaptiveRate
from .._resilience.breaker import Breaker, Outcome, Ticket, counts_as_failure
from .._resilience.cooldown import Cooldown
from .._resilience.latency import HungAttempts, HungAttemptTimeout, batch_cuts
from .._resilience.rate_limit import RateLimiter
from .._resilience.retry import parse_retry_after
from .._resilience.state import BreakerStore
from .._resilience.stats import Counters
from .._transports.base import OutgoingRequest, RawResponse, Transport
from .auth import Auth
from .call import Call, Handler, Response, request_id_of
from .observer import Observer

if TYPE_CHECKING:
    from .call_layers import Lifecycle

__all__ = ["BreakerLayer", "CooldownGate", "RateLimitLayer", "Send"]

logger = logging.getLogger("vision_async.pipeline")


class CooldownGate:
    """The 429 cool-down: holds new attempts while the resource asked for a pause."""

    def __init__(self, cooldown: Cooldown) -> None:
        self.cooldown = cooldown

    def wrap(self, inner: Handler) -> Handler:
        cooldown = self.cooldown

        async def gate(call: Call) -> Response:
            if not cooldown.idle:
                await cooldown.wait(deadline=call.deadline)
            try:
                return await inner(call)
            except RateLimitError as exc:
                cooldown.on_throttle(exc.retry_after)
                raise

        return gate


class RateLimitLayer:
    """Takes a token from the rate limiter for every attempt, and tells the adaptive rate how it went.

    The adaptive rate changes the limiter's rate itself (its ``on_change``); a 429 cuts the rate
    only once per wave: attempts sent before the last cut do not cut it again.
    """

    def __init__(self, limiter: RateLimiter | None, adaptive: AdaptiveRate | None, clock: Callable[[], float]) -> None:
        self.limiter = limiter
        self.adaptive = adaptive
        self._clock = clock

    def wrap(self, inner: Handler) -> Handler:
        limiter = self.limiter
        adaptive = self.adaptive
        clock = self._clock

        async def rate_limit(call: Call) -> Response:
            if limiter is not None and limiter.current_rate is not None:  # unlimited until a 429 or a RateLimit
                wait = limiter.next_free_in()
                if wait > 0.0:
                    note("vision_async.rate_limit_wait", {"vision_async.wait_s": wait})
                await limiter.acquire(deadline=call.deadline)
            if adaptive is None:
                return await inner(call)
            sent_at = clock()
            adaptive.on_send(sent_at)
            try:
                response = await inner(call)
            except RateLimitError:
                adaptive.on_throttle(clock(), sent_at=sent_at)
                raise
            adaptive.on_success(clock())
            return response

        return rate_limit


class BreakerLayer:
    """Admits the attempt through the circuit breaker and reports how it ended.

    With a shared store (coordination across processes), the shared state is mirrored into the
    local breaker before admission, the half-open probe must also win the shared probe lock, and
    the local breaker's own state changes are published.
    """

    def __init__(self, breaker: Breaker, store: BreakerStore | None = None) -> None:
        self.breaker = breaker
        self.store = store

    def wrap(self, inner: Handler) -> Handler:
        breaker = self.breaker
        store = self.store

        async def refused() -> None:
            await anyio.lowlevel.checkpoint()  # a refused call still yields: no busy loop can starve others

        async def through(call: Call, ticket: Ticket) -> Response:
            outcome: Outcome = "neutral"  # cancellation counts as nothing
            try:
                response = await inner(call)
                outcome = "success"
                return response
            except (ClientClosedError, HungAttemptTimeout):
                raise  # a shutdown is not an outage, nor a batch's own cut-off of a hung attempt
            except VisionError as exc:
                outcome = "failure" if counts_as_failure(exc) else "success"
                raise
            finally:
                breaker.record(ticket, outcome)

        async def circuit(call: Call) -> Response:
            try:
                ticket = breaker.admit()
            except CircuitOpenError:
                await refused()
                raise
            return await through(call, ticket)

        if store is None:
            return circuit

        async def shared_circuit(call: Call) -> Response:
            await store.refresh(breaker)
            try:
                ticket = breaker.admit()
            except CircuitOpenError:
                await refused()
                raise
            if ticket.probe and not await store.try_probe():
                breaker.release_probe(ticket)
                raise CircuitOpenError("circuit breaker is half-open and another worker is probing", retry_after=1.0)
            changes = breaker.changes
            try:
                return await through(call, ticket)
            finally:
                if breaker.changes != changes:
                    with anyio.CancelScope(shield=True):
                        await store.publish(breaker)

        return shared_circuit


class Send:
    """The innermost step: sign, send with the attempt timeout, turn the answer into a Response or an error.

    Inside a batch, the attempt timeout is cut to what :class:`HungAttempts` says is far past the
    recent successful attempts (see ``_resilience/latency.py``); such a cut ends the attempt with
    :class:`HungAttemptTimeout`.
    """

    def __init__(
        self,
        *,
        transport: Transport,
        auth: Auth,
        root: str,
        timeout: float | None,
        user_agent: str,
        lifecycle: Lifecycle,
        counters: Counters,
        clock: Callable[[], float],
        redact: Callable[[str], str] | None,
        wall_clock: Callable[[], float],
    ) -> None:
        self._transport = transport
        self._auth = auth
        self._root = root
        self._timeout = timeout
        self._user_agent = user_agent
        self._lifecycle = lifecycle
        self._counters = counters
        self._clock = clock
        self._redact = redact
        self._wall_clock = wall_clock
        #: This resource's recent successful attempts inside batches, and the cut-off they give.
        self.hung = HungAttempts()
        self.observer: Observer | None = None  # set by Pipeline.observe

    async def __call__(self, call: Call) -> Response:
        lifecycle = self._lifecycle
        lifecycle.check()
        timeout = self._timeout
        by_deadline = False
        if call.deadline is not None:
            left = call.deadline - self._clock()
            if left <= 0:
                raise APITimeoutError(f"{call.operation}: the total deadline ran out before the attempt")
            if timeout is None or left < timeout:
                timeout, by_deadline = left, True
        header = self._auth.ready_header()
        name, secret = header if header is not None else await self._auth.secret_header()
        headers: list[tuple[str, Any]] = [("Accept", call.accept), ("User-Agent", self._user_agent), (name, secret)]
        if call.content_type is not None:
            headers.append(("Content-Type", call.content_type))
        url = self._root + call.path
        if call.query:
            url = f"{url}?{call.query}"
        cuts = batch_cuts.get()
        if cuts is not None:
            return await self._batch_attempt(call, url, headers, timeout, by_deadline, cuts)
        request = OutgoingRequest(call.method, url, tuple(headers), call.content, timeout, call.max_body)
        # _send_one's body, inline: going through it added 0.4-0.9% to every call's instructions
        # in two runs of benchmarks/bench_instructions.py --mode pipeline.
        if self.observer is not None:
            return await self.observer.attempt(
                call, request, self._exchange if not by_deadline else self._exchange_by_deadline
            )
        return await self._exchange(call, request, by_deadline)

    async def _batch_attempt(
        self,
        call: Call,
        url: str,
        headers: list[tuple[str, Any]],
        timeout: float | None,
        by_deadline: bool,
        cuts: list[int],
    ) -> Response:
        """An attempt of a batch's item: timed, and cut off when it runs far past the recent ones.

        With a cut-off known now, it is the attempt's timeout. Without one yet (too few recent
        successes: the batch's first attempts), the attempt is watched: a later success that
        makes a cut-off known cancels it once it has run past that cut-off.
        """
        hung = self.hung
        clock = self._clock
        start = clock()
        stretch = 2.0 ** cuts[0]  # each earlier cut-off of this item doubles its time
        cutoff = hung.cutoff(start)
        cut = False
        if cutoff is not None and (timeout is None or cutoff * stretch < timeout):
            timeout, by_deadline, cut = cutoff * stretch, False, True
        request = OutgoingRequest(call.method, url, tuple(headers), call.content, timeout, call.max_body)
        response: Response | None = None
        try:
            if cutoff is not None:
                response = await self._send_one(call, request, by_deadline)
            else:
                with anyio.CancelScope() as watched:
                    hung.watch(watched, start, stretch)
                    try:
                        response = await self._send_one(call, request, by_deadline)
                    finally:
                        hung.unwatch(watched)
        except APITimeoutError as exc:
            if not cut:
                raise
            raise self._hung(call, cuts, clock() - start) from exc
        if response is None:  # the watched attempt was cancelled: it ran past the cut-off
            raise self._hung(call, cuts, clock() - start)
        end = clock()
        hung.record(end - start, end)
        return response

    async def _send_one(self, call: Call, request: OutgoingRequest, by_deadline: bool) -> Response:
        """One exchange, through the observer when there is one."""
        if self.observer is not None:
            return await self.observer.attempt(
                call, request, self._exchange if not by_deadline else self._exchange_by_deadline
            )
        return await self._exchange(call, request, by_deadline)

    @staticmethod
    def _hung(call: Call, cuts: list[int], seconds: float) -> HungAttemptTimeout:
        cuts[0] += 1
        logger.debug("%s: attempt %d abandoned as hung after %.3fs", call.operation, call.attempts, seconds)
        return HungAttemptTimeout(
            f"{call.operation}: attempt {call.attempts} abandoned after {seconds:.3g}s, far longer than the "
            "recent successful attempts took (it is retried)"
        )

    async def _exchange_by_deadline(self, call: Call, request: OutgoingRequest) -> Response:
        return await self._exchange(call, request, True)

    async def _exchange(self, call: Call, request: OutgoingRequest, by_deadline: bool = False) -> Response:
        lifecycle = self._lifecycle
        self._counters.requests += 1
        try:
            raw = await self._transport.send(request)
        except APITimeoutError as exc:
            if lifecycle.closing:
                raise ClientClosedError(
                    f"{call.operation}: the client was closed while the call was in flight"
                ) from None
            if by_deadline:
                raise APITimeoutError(
                    f"{call.operation}: the total deadline ran out during attempt {call.attempts}"
                ) from exc
            raise
        except VisionError:
            if lifecycle.closing:
                raise ClientClosedError(
                    f"{call.operation}: the client was closed while the call was in flight"
                ) from None
            raise
        if raw.status_code != call.expect:
            raise self._error(call.operation, raw)
        return Response(raw.status_code, raw.headers, raw.content, request_id_of(raw.headers), redact=self._redact)

    def _error(self, operation: str, raw: RawResponse) -> VisionError:
        request_id = request_id_of(raw.headers)
        if 200 <= raw.status_code < 300:
            return ResponseValidationError(
                f"{operation}: unexpected success status {raw.status_code}", request_id=request_id
            )
        retry_after = None
        if raw.status_code == 429 or raw.status_code >= 500:
            retry_after = parse_retry_after(raw.headers, raw.content, now=self._wall_clock)
        if raw.status_code == 429:
            self._counters.throttled += 1
        kwargs: dict[str, Any] = {}
        if self._redact is not None:
            kwargs["redact"] = self._redact
        error: APIStatusError = error_from_response(
            raw.status_code,
            raw.reason,
            raw.content,
            request_id=request_id,
            retry_after=retry_after,
            headers=raw.headers,
            **kwargs,
        )
        if 300 <= raw.status_code < 400:
            error.message = (
                f"{operation}: the service answered with a redirect ({raw.status_code}); redirects are "
                "not followed, so that the key is never sent elsewhere. Check the endpoint."
            )
        logger.debug("%s: HTTP %d %s/%s", operation, raw.status_code, error.code, error.inner_code)
        return error
