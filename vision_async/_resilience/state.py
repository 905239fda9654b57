"""Where flow-control state lives: in this process (the default), or shared (Redis, the ``redis`` extra).

Each resource (Azure endpoint) of a client has four pieces of state: the rate limiter's tokens,
the adaptive rate, the 429 cool-down and the circuit breaker. A :class:`Coordination` hands out
the state of one resource by its namespace (derived from the endpoint, so that workers of
different resources never share a quota by accident); ``None`` for a piece means "keep it in
this process". :class:`LocalCoordination` keeps everything local.

The protocols:

- tokens: :class:`~vision_async._resilience.rate_limit.TokenState` (async ``reserve``/``release``);
- adaptive rate: :class:`~vision_async._resilience.adaptive.AdaptiveState` (synchronous, answered
  from a local copy a shared implementation keeps up to date);
- cool-down: :class:`CooldownState` below (synchronous, same idea);
- breaker: :class:`BreakerStore` below (async, consulted by the breaker layer around each attempt).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .._policies import BreakerPolicy
    from .adaptive import AdaptiveState
    from .breaker import Breaker
    from .rate_limit import RateLimit, TokenState

__all__ = ["BreakerStore", "Coordination", "CooldownState", "LocalCoordination", "ResourceState", "namespace_for"]


class CooldownState(Protocol):
    """A cool-down shared with other processes."""

    def remaining(self) -> float:
        """Seconds left in the shared cool-down (from the last known value; 0.0 when none)."""
        ...

    def publish(self, seconds: float) -> None:
        """A 429 here asked for ``seconds`` of pause: tell the others (may be sent in the background
        or with the next round trip; never blocks, never raises)."""
        ...


class BreakerStore(Protocol):
    """A circuit breaker's state shared with other processes.

    The breaker layer calls :meth:`refresh` before admitting an attempt (an implementation reads
    the shared state at most about once a second and mirrors it into the local breaker with
    :meth:`Breaker.mirror`), :meth:`try_probe` when the local breaker is half-open (one probe
    across all workers: a lock with an expiry), and :meth:`publish` after the local breaker
    changed state. None of them may raise: an unreachable store means local state only.
    """

    async def refresh(self, breaker: Breaker) -> None: ...

    async def try_probe(self) -> bool: ...

    async def publish(self, breaker: Breaker) -> None: ...


@dataclass(frozen=True, slots=True)
class ResourceState:
    """The shared pieces of one resource's state; ``None``: keep that piece local."""

    tokens: TokenState | None = None
    adaptive: AdaptiveState | None = None
    cooldown: CooldownState | None = None
    breaker: BreakerStore | None = None


class Coordination(Protocol):
    """Hands out each resource's state; opened and closed with the client."""

    def resource(
        self,
        namespace: str,
        *,
        rate_limit: RateLimit | None,
        breaker: BreakerPolicy | None,
    ) -> ResourceState: ...

    async def aclose(self) -> None: ...

    def describe(self) -> str:
        """One word for ``client.stats()``: e.g. "local", "redis", "redis (fallback: local)"."""
        ...


class LocalCoordination:
    """Everything in this process (the default)."""

    def resource(
        self,
        namespace: str,
        *,
        rate_limit: RateLimit | None,
        breaker: BreakerPolicy | None,
    ) -> ResourceState:
        return ResourceState()

    async def aclose(self) -> None:
        return None

    def describe(self) -> str:
        return "local"


def namespace_for(root_url: str) -> str:
    """A short, stable key prefix for a resource's root URL (scheme, host and path, lower-cased)."""
    import hashlib  # with the first client (OpenSSL's hash module costs ~2 ms to import)

    digest = hashlib.sha256(root_url.rstrip("/").lower().encode()).hexdigest()[:16]
    return f"vision_async:{digest}"
