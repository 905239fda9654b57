"""Fault injection for the emulator, per route and changeable at run time, and its counters."""

from __future__ import annotations

import dataclasses
import math
import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FaultConfig", "FaultDecision", "Faults", "Stats", "TokenBucket"]

#: Route names, as the emulator counts and configures them.
ROUTES = (
    "analyze",
    "describe",
    "tag",
    "detect",
    "models",
    "analyze_by_domain",
    "ocr",
    "read",
    "read_result",
    "generate_thumbnail",
    "area_of_interest",
    "v4_analyze",
    "v4_vectorize_image",
    "v4_vectorize_text",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultConfig:
    """What can go wrong on a route.

    - ``rate_limit``: requests per second (a token bucket with a burst of ``max(1, rate)``);
      excess requests get 429 with ``Retry-After`` as Azure sends it. ``None``: no limit.
    - ``p429``, ``p500``, ``p503``: probability of answering with that status instead.
    - ``latency``: seconds added before answering.
    - ``p_hang``: probability of never answering (the client's timeout must fire).
    - ``p_drop``: probability of dropping the connection in the middle of the body.
    - ``outage``: ``(start, end)`` in emulator-clock seconds since the emulator started, during
      which every request on the route gets 503 (``Faults.elapsed()``, and ``elapsed`` in
      ``GET /_emulator/stats``, say where the emulator's clock is now).
    - ``p_slow``: probability that an answer is slow: it waits ``slow_latency`` seconds instead
      of ``latency`` (latency spikes, e.g. a tenth of answers ten times slower).
    - ``hang_every``: seconds; the first request after each such interval hangs, as ``p_hang``
      but on a schedule (a slow drip of hung connections). ``None``: no drip.
    """

    rate_limit: float | None = None
    p429: float = 0.0
    p500: float = 0.0
    p503: float = 0.0
    latency: float = 0.0
    p_hang: float = 0.0
    p_drop: float = 0.0
    outage: tuple[float, float] | None = None
    p_slow: float = 0.0
    slow_latency: float = 0.0
    hang_every: float | None = None

    def __post_init__(self) -> None:
        for name in ("p429", "p500", "p503", "p_hang", "p_drop", "p_slow"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
        if self.p429 + self.p500 + self.p503 > 1.0:
            raise ValueError("p429 + p500 + p503 must not exceed 1")
        if self.rate_limit is not None and not self.rate_limit > 0:
            raise ValueError(f"rate_limit must be > 0 requests/second, got {self.rate_limit!r}")
        if self.latency < 0:
            raise ValueError("latency must be >= 0")
        if self.slow_latency < 0:
            raise ValueError("slow_latency must be >= 0")
        if self.hang_every is not None and not self.hang_every > 0:
            raise ValueError(f"hang_every must be > 0 seconds, got {self.hang_every!r}")
        if self.outage is not None and not (len(self.outage) == 2 and self.outage[0] <= self.outage[1]):
            raise ValueError("outage must be (start, end) with start <= end")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> FaultConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}; known: {sorted(names)}")
        values = dict(data)
        if values.get("outage") is not None:
            values["outage"] = tuple(values["outage"])
        return cls(**values)

    def to_mapping(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do with one request."""

    status: int | None = None  # answer with this error status instead
    retry_after: int | None = None  # seconds, for 429
    latency: float = 0.0
    hang: bool = False
    drop: bool = False


class TokenBucket:
    """``rate`` tokens per second, up to ``burst``; time from an injectable clock."""

    def __init__(self, rate: float, clock: Callable[[], float], burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()

    def take(self) -> float:
        """Take a token: 0.0 if granted, else seconds until one is available."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


@dataclass
class Stats:
    """What the emulator received and answered, per route."""

    received: Counter[str] = field(default_factory=Counter)
    answered: Counter[tuple[str, int]] = field(default_factory=Counter)
    #: requests received per whole second of the emulator's clock (``Faults.elapsed()``), every route
    timeline: Counter[int] = field(default_factory=Counter)

    def total(self) -> int:
        return sum(self.received.values())

    def received_between(self, start: float, end: float) -> int:
        """Requests received in the seconds ``[floor(start), ceil(end))`` of the emulator's clock."""
        return sum(n for second, n in self.timeline.items() if math.floor(start) <= second < math.ceil(end))

    def snapshot(self) -> dict[str, Any]:
        return {
            "received": dict(self.received),
            "answered": {f"{route} {status}": n for (route, status), n in sorted(self.answered.items())},
            "total": self.total(),
            "timeline": {str(second): n for second, n in sorted(self.timeline.items())},
        }


class Faults:
    """Per-route fault settings (``"*"`` for every route without its own), and their state."""

    def __init__(self, *, clock: Callable[[], float], seed: int | None = 0) -> None:
        self._clock = clock
        self._start = clock()
        self._random = random.Random(seed)
        self._configs: dict[str, FaultConfig] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._next_hang: dict[str, float] = {}
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        """Seconds on the emulator's clock since it started: the time ``outage`` windows use."""
        return self._clock() - self._start

    def set(self, route: str = "*", config: FaultConfig | None = None, **settings: Any) -> FaultConfig:
        """Set the faults of ``route`` (or ``"*"``): a FaultConfig, or its fields as keywords."""
        if route != "*" and route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; routes: {', '.join(ROUTES)} or '*'")
        if config is None:
            config = FaultConfig.from_mapping(settings)
        elif settings:
            raise ValueError("pass a FaultConfig or keyword settings, not both")
        with self._lock:
            self._configs[route] = config
            self._buckets.pop(route, None)
            self._next_hang.pop(route, None)
        return config

    def clear(self) -> None:
        with self._lock:
            self._configs.clear()
            self._buckets.clear()
            self._next_hang.clear()

    def config(self, route: str) -> FaultConfig:
        return self._configs.get(route) or self._configs.get("*") or FaultConfig()

    def snapshot(self) -> dict[str, Any]:
        return {route: cfg.to_mapping() for route, cfg in self._configs.items()}

    def decide(self, route: str) -> FaultDecision:
        """Roll the dice for one request on ``route``."""
        key = route if route in self._configs else "*"
        cfg = self.config(route)
        if cfg == FaultConfig():
            return FaultDecision()
        with self._lock:
            elapsed = self._clock() - self._start
            if cfg.outage is not None and cfg.outage[0] <= elapsed < cfg.outage[1]:
                return FaultDecision(status=503, latency=cfg.latency)
            if cfg.rate_limit is not None:
                bucket = self._buckets.get(key)
                if bucket is None:
                    bucket = self._buckets[key] = TokenBucket(cfg.rate_limit, self._clock)
                wait = bucket.take()
                if wait > 0:
                    return FaultDecision(status=429, retry_after=max(1, math.ceil(wait)), latency=cfg.latency)
            roll = self._random.random()
            if roll < cfg.p429:
                return FaultDecision(status=429, retry_after=1, latency=cfg.latency)
            if roll < cfg.p429 + cfg.p500:
                return FaultDecision(status=500, latency=cfg.latency)
            if roll < cfg.p429 + cfg.p500 + cfg.p503:
                return FaultDecision(status=503, latency=cfg.latency)
            hang = cfg.p_hang > 0 and self._random.random() < cfg.p_hang
            drop = cfg.p_drop > 0 and self._random.random() < cfg.p_drop
            latency = cfg.latency
            if cfg.p_slow > 0 and self._random.random() < cfg.p_slow:
                latency = cfg.slow_latency
            if cfg.hang_every is not None:
                due = self._next_hang.setdefault(key, elapsed + cfg.hang_every)
                if elapsed >= due:
                    self._next_hang[key] = elapsed + cfg.hang_every
                    hang = True
            return FaultDecision(latency=latency, hang=hang, drop=drop)
