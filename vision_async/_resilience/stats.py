"""Counters kept by the pipeline's layers, and the frozen snapshot ``client.stats()`` returns."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .._events import BreakerState

__all__ = ["ClientStats", "Counters", "ResourceStats"]


class Counters:
    """Plain integer counters, bumped by the layers (one event loop: no locks needed)."""

    __slots__ = ("failures", "in_flight", "requests", "retries", "retries_refused", "successes", "throttled")

    def __init__(self) -> None:
        self.requests = 0  # attempts handed to the transport
        self.successes = 0  # calls that returned a result
        self.failures: Counter[str] = Counter()  # calls that ended in an error, by class name
        self.retries = 0  # attempts after the first
        self.retries_refused = 0  # retries the budget refused
        self.throttled = 0  # 429 answers
        self.in_flight = 0  # calls started and not yet finished


@dataclass(frozen=True, slots=True)
class ResourceStats:
    """One Azure resource as the client sees it right now."""

    endpoint: str
    requests: int
    throttled: int
    allowed_rate: float | None
    cooldown_remaining: float
    breaker_state: BreakerState | None


@dataclass(frozen=True, slots=True)
class ClientStats:
    """A snapshot of a client's traffic and flow control; cheap to take.

    ``requests``: attempts sent (first tries and retries); ``successes`` and ``failures`` count
    whole calls (``failures`` by exception class name); ``retries``: attempts after the first;
    ``retries_refused``: retries the retry budget refused; ``throttled``: 429 answers;
    ``stale_resends``: requests resent at once because a pooled connection had been closed by the
    server; ``allowed_rate``: requests per second the client allows itself now (None when
    unlimited); ``cooldown_remaining``: seconds left in a 429 cool-down; ``breaker_state``: None
    without a breaker; ``in_flight``: calls started and not finished. With several resources the
    top-level figures are sums (rates) or the first resource's (breaker state, cool-down), and
    ``resources`` has each one. ``coordination``: where flow-control state lives ("local",
    "redis", or "redis (fallback: local)" while Redis is unreachable).
    """

    requests: int
    successes: int
    failures: Mapping[str, int]
    retries: int
    retries_refused: int
    throttled: int
    stale_resends: int
    allowed_rate: float | None
    cooldown_remaining: float
    breaker_state: BreakerState | None
    in_flight: int
    resources: tuple[ResourceStats, ...] = field(default=())
    coordination: str = "local"

    @property
    def failed(self) -> int:
        """Calls that ended in an error, all classes together."""
        return sum(self.failures.values())

    @staticmethod
    def freeze(counts: Mapping[str, int]) -> Mapping[str, int]:
        return MappingProxyType(dict(counts))
