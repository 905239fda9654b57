"""The client's assembly: ``VisionClient``'s options checked, then turned into the parts it delegates to.

:func:`assemble` runs once per client, top to bottom:

1. checks: the resources' URLs and auth, every option the policies do not check
   themselves (nothing is built before all of them pass, so a refused client leaves nothing open);
2. the transport, with the proxy routes and TLS trust resolved here;
3. per resource, an :class:`Upstream`: its shared state (``coordination``), rate limiter,
   adaptive rate and circuit breaker, wired to the transport and the resource's auth;
4. the retrier, the :class:`Pipeline` over the upstreams, the observer (only when OpenTelemetry
   is in play), the :class:`Runner` and the v3.2 surface.

:class:`ClientParts` holds what was built, reads it for ``client.stats()`` and closes it.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio

from ._checks import is_int, is_number
from ._core.call_layers import Lifecycle
from ._core.pipeline import Pipeline
from ._core.resource import Resource
from ._core.router import Upstream
from ._core.runner import Runner
from ._errors import ConfigurationError
from ._events import BreakerState, OnBreakerStateChange, OnRetry, call_hook
from ._observe.factory import make_observer
from ._policies import BreakerPolicy, ImageLimits, ResponseLimits, RetryPolicy
from ._resilience.adaptive import AdaptiveRate
from ._resilience.breaker import Breaker
from ._resilience.budget import RetryBudgetTracker
from ._resilience.rate_limit import RateLimit, RateLimiter
from ._resilience.retry import Retrier
from ._resilience.state import Coordination, LocalCoordination, namespace_for
from ._resilience.stats import ClientStats, Counters, ResourceStats
from ._secrets import Redactor
from ._transports import Transport, make_transport
from ._transports.proxy import FROM_ENV, ProxyRoutes, is_loopback, routes
from ._v32.read import ReadPoller
from ._v32.surface import ImageAnalysisV32
from ._version import __version__

if TYPE_CHECKING:
    import httpx

    from ._transports.tls import VerifyArg

__all__ = ["SUPPORTED_PLATFORMS", "ClientParts", "assemble", "check_platform"]

#: The systems the client supports (``sys.platform``): the default pool checks an idle socket with
#: ``select.poll``, and the client is tested on Linux and macOS only.
SUPPORTED_PLATFORMS = ("linux", "darwin")


@dataclasses.dataclass(frozen=True, slots=True)
class ClientParts:
    """What :func:`assemble` built for one client."""

    endpoint: str
    auth_kind: str
    sleep: Callable[[float], Awaitable[object]]
    transport: Transport
    coordination: Coordination
    counters: Counters
    lifecycle: Lifecycle
    pipeline: Pipeline
    runner: Runner
    v32: ImageAnalysisV32

    @property
    def breaker(self) -> Breaker | None:
        """The first resource's breaker (the client's ``breaker_state``)."""
        return self.pipeline.upstreams[0].breaker

    async def aclose(self) -> None:
        """Refuse new calls, end calls in flight, close the transport (if the client made it) and the coordination."""
        self.lifecycle.shutdown()
        try:
            await self.transport.aclose()
        finally:
            await self.coordination.aclose()

    def stats(self) -> ClientStats:
        counters = self.counters
        resources = tuple(
            ResourceStats(
                endpoint=upstream.resource,
                requests=upstream.requests,
                throttled=upstream.cooldown.throttles,
                allowed_rate=upstream.allowed_rate,
                cooldown_remaining=upstream.cooldown.remaining(),
                breaker_state=upstream.breaker.state if upstream.breaker is not None else None,
            )
            for upstream in self.pipeline.upstreams
        )
        rates = [r.allowed_rate for r in resources]
        return ClientStats(
            requests=counters.requests,
            successes=counters.successes,
            failures=ClientStats.freeze(counters.failures),
            retries=counters.retries,
            retries_refused=counters.retries_refused,
            throttled=counters.throttled,
            stale_resends=self.transport.stats().stale_resends,
            allowed_rate=None if any(r is None for r in rates) else sum(r for r in rates if r is not None),
            cooldown_remaining=resources[0].cooldown_remaining,
            breaker_state=resources[0].breaker_state,
            in_flight=counters.in_flight,
            resources=resources,
            coordination=self.coordination.describe(),
        )

    def breaker_state(self) -> BreakerState | None:
        breaker = self.breaker
        return breaker.state if breaker is not None else None


def check_platform() -> None:
    """ConfigurationError on a system the client does not support (the first check of all)."""
    if sys.platform not in SUPPORTED_PLATFORMS:
        raise ConfigurationError(
            f"vision_async supports Linux and macOS only, not {sys.platform!r} (see the README, Install)"
        )


def assemble(
    chosen: Sequence[Resource],
    *,
    retry: RetryPolicy | None,
    breaker: BreakerPolicy | None,
    rate_limit: RateLimit | None,
    adaptive: bool,
    max_concurrency: int | None,
    coordination: Coordination | None,
    timeout: float | None,
    read_timeout: float,
    limits: ImageLimits,
    response_limits: ResponseLimits,
    transport: httpx.AsyncBaseTransport | Transport | str | None,
    max_connections: int,
    allow_insecure_http: bool,
    proxy: str | object | None,
    verify: VerifyArg,
    trust_env: bool,
    on_retry: OnRetry | None,
    on_breaker_state_change: OnBreakerStateChange | None,
    tracing: bool,
    tracer_provider: object | None,
    meter_provider: object | None,
    clock: Callable[[], float] | None,
    sleep: Callable[[float], Awaitable[object]] | None,
) -> ClientParts:
    """The parts of a client of the ``chosen`` resources (from :func:`chosen_resources`, after
    :func:`check_platform`) with these options (the meaning of each: ``VisionClient``'s docstring)."""
    # 1. checks
    roots = [r.root(allow_insecure_http=allow_insecure_http) for r in chosen]
    if len(set(roots)) != len(roots):
        raise ConfigurationError("the same endpoint is given twice in resources=")
    auths = [r.auth() for r in chosen]
    _check_options(
        timeout=timeout,
        read_timeout=read_timeout,
        limits=limits,
        response_limits=response_limits,
        rate_limits=(rate_limit, *(r.rate_limit for r in chosen)),
        adaptive=adaptive,
        max_concurrency=max_concurrency,
        trust_env=trust_env,
        tracing=tracing,
    )
    proxy_routes = _proxy_routes(proxy, chosen, roots, trust_env=trust_env)
    insecure_ok = allow_insecure_http or all(is_loopback(urlsplit(root).hostname or "") for root in roots)
    from ._transports.tls import resolve_verify  # imports ssl: not at `import vision_async`

    trust = resolve_verify(verify, trust_env=trust_env, insecure_allowed=insecure_ok)
    if transport is not None and not isinstance(transport, str) and (proxy is not FROM_ENV or verify is not True):
        raise ConfigurationError("proxy= and verify= apply to the transports the client makes, not to a given one")

    # 2. the transport
    clock = clock or time.monotonic
    sleep = sleep or anyio.sleep
    sender = make_transport(transport, max_connections=max_connections, verify=trust, proxy=proxy_routes)

    # 3. one upstream per resource
    coordination = coordination if coordination is not None else LocalCoordination()
    counters = Counters()
    lifecycle = Lifecycle(counters)
    user_agent = f"vision-async/{__version__} python/{'.'.join(map(str, sys.version_info[:3]))}"
    redact = Redactor(*(a.secrets for a in auths))
    upstreams = []
    for resource, root, auth in zip(chosen, roots, auths, strict=True):
        limit = resource.rate_limit if resource.rate_limit is not None else rate_limit
        shared = coordination.resource(namespace_for(root), rate_limit=limit, breaker=breaker)
        limiter = (
            RateLimiter(limit, state=shared.tokens, clock=clock, sleep=sleep) if limit is not None or adaptive else None
        )
        upstreams.append(
            Upstream(
                resource=root,
                auth=auth,
                transport=sender,
                timeout=timeout,
                user_agent=user_agent,
                lifecycle=lifecycle,
                counters=counters,
                clock=clock,
                sleep=sleep,
                breaker=Breaker(
                    breaker,
                    clock=clock,
                    on_state_change=on_breaker_state_change,
                    name=root,
                    # one resource: the client's calls in flight are that resource's traffic
                    load=(lambda: counters.in_flight) if len(chosen) == 1 else None,
                )
                if breaker is not None
                else None,
                limiter=limiter,
                adaptive=AdaptiveRate(
                    ceiling=limit.per_second if limit is not None else None,
                    state=shared.adaptive,
                    on_change=limiter.set_rate if limiter is not None else None,
                )
                if adaptive
                else None,
                redact=redact,
                shared=shared,
            )
        )

    # 4. the call path above the upstreams
    retrier = (
        Retrier(
            retry,
            clock=clock,
            sleep=sleep,
            on_retry=on_retry,
            budget=RetryBudgetTracker(retry.budget) if retry.budget is not None else None,
            counters=counters,
        )
        if retry is not None
        else None
    )
    pipeline = Pipeline(
        upstreams=upstreams,
        lifecycle=lifecycle,
        counters=counters,
        retrier=retrier,
        total_timeout=retry.total_timeout if retry is not None else None,
        max_concurrency=max_concurrency,
        clock=clock,
        default_max_body=response_limits.json_bytes,
    )
    observer = make_observer(
        tracing=tracing,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        upstreams=upstreams,
        totals=lambda: (counters.retries_refused, sender.stats().stale_resends),
    )
    if observer is not None:
        pipeline.observe(observer)
        if retrier is not None:
            retrier.on_retry = _chain(on_retry, observer.on_retry)
    runner = Runner(pipeline, limits=limits, response_limits=response_limits, clock=clock)
    poller = ReadPoller(runner, clock=clock, sleep=sleep, wall_clock=time.time, max_body=response_limits.read_bytes)
    return ClientParts(
        endpoint=chosen[0].endpoint.strip().rstrip("/"),
        auth_kind="token" if chosen[0].credential is not None else "key",
        sleep=sleep,
        transport=sender,
        coordination=coordination,
        counters=counters,
        lifecycle=lifecycle,
        pipeline=pipeline,
        runner=runner,
        v32=ImageAnalysisV32(runner, read_timeout=float(read_timeout), poller=poller),
    )


def _check_options(
    *,
    timeout: float | None,
    read_timeout: float,
    limits: object,
    response_limits: object,
    rate_limits: Sequence[object],
    adaptive: object,
    max_concurrency: object,
    trust_env: object,
    tracing: object,
) -> None:
    """The checks of the options that are not a policy checking its own fields."""
    for name, value in (("timeout", timeout), ("read_timeout", read_timeout)):
        if value is not None and (not is_number(value) or value <= 0):
            raise ConfigurationError(f"{name} must be a number of seconds > 0, got {value!r}")
    if not isinstance(limits, ImageLimits):
        raise ConfigurationError("limits must be an ImageLimits")
    if not isinstance(response_limits, ResponseLimits):
        raise ConfigurationError("response_limits must be a ResponseLimits")
    for limit in rate_limits:
        if limit is not None and not isinstance(limit, RateLimit):
            raise ConfigurationError(f"rate_limit must be a RateLimit or None, got {limit!r}")
    if not isinstance(adaptive, bool):
        raise ConfigurationError(f"adaptive must be a bool, got {adaptive!r}")
    if max_concurrency is not None and (not is_int(max_concurrency) or max_concurrency < 1):
        raise ConfigurationError(f"max_concurrency must be an int >= 1 or None, got {max_concurrency!r}")
    for name, flag in (("trust_env", trust_env), ("tracing", tracing)):
        if not isinstance(flag, bool):
            raise ConfigurationError(f"{name} must be a bool, got {flag!r}")


def _proxy_routes(
    proxy: str | object | None, chosen: Sequence[Resource], roots: Sequence[str], *, trust_env: bool
) -> ProxyRoutes:
    """The client's proxy routes, with each resource's own ``proxy=`` as an override for its origin."""
    client_routes = routes(proxy, trust_env=trust_env, environ=os.environ)
    overrides: dict[tuple[str, str, int], ProxyRoutes] = {}
    for resource, root in zip(chosen, roots, strict=True):
        if resource.proxy is not FROM_ENV:
            parts = urlsplit(root)
            origin = (parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
            overrides[origin] = routes(resource.proxy, trust_env=trust_env, environ=os.environ)
    return dataclasses.replace(client_routes, overrides=overrides) if overrides else client_routes


def _chain(first: OnRetry | None, second: Callable[[Any], None]) -> Callable[[Any], None]:
    """The user's on_retry (if any), then the observer's."""
    if first is None:
        return second

    def both(event: Any) -> None:
        call_hook(first, event)
        second(event)

    return both
