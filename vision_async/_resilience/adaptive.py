"""Adaptive throttling: after a 429, send below the rate that was throttled; climb back with CUBIC.

Until the first 429 nothing is limited (beyond the configured ceiling, if any) and each call costs
a counter update. On a 429 (a *throttle*)::

    w_max   = min(measured send rate, allowed rate)      the rate the server just refused
    allowed = BETA * w_max                               multiplicative decrease (x0.7)

and from then on, ``dt`` seconds after the throttle (CUBIC, RFC 8312, as botocore's adaptive
retry mode does)::

    K       = cbrt(w_max * (1 - BETA) / SCALE)
    cubic   = SCALE * (dt - K) ** 3 + w_max              = BETA * w_max at dt = 0
    allowed = clamp(min(cubic, MAX_OVER_MEASURED * measured), MIN_RATE, ceiling)

The curve rises fast, flattens around ``w_max`` (at ``dt = K``) where the server said no, then
probes above it. Once ``cubic`` reaches ``RECOVERY_FACTOR * w_max`` (or the ceiling) without a
new 429, throttled mode ends and the limit is lifted again. ``SCALE = 0.4`` and ``BETA = 0.7``
are RFC 8312's and botocore's constants: from a throttle at 20 per second the rate is back at 20
after K = 2.5 s and lifted after about 6 s.

The send rate is measured as botocore does: sends are counted in ``MEASURE_BUCKET`` buckets and
each finished bucket's rate is smoothed into the estimate (``rate = SMOOTHING * bucket_rate +
(1 - SMOOTHING) * rate``); before the first bucket ends, sends / elapsed (at least one bucket).

One congestion event cuts once: a 429 for a request sent before the last cut, or less than
``CUT_GRACE`` (1 s) after it, changes nothing (``sent_at``). Those requests left at the old rate,
or while the server's one-second window still held the traffic sent before the cut; cutting for
each of them would cut once per in-flight call (64 calls in flight: 0.7 ** 64). Waiting callers
are not pre-booked (see ``rate_limit``), so a cut slows every request not yet sent.

The measurement and the throttle memory live behind :class:`AdaptiveState`, so that several
processes can share them (one worker's 429 slows all); :class:`LocalAdaptiveState` is the
in-memory default. The allowed rate is pushed to ``on_change`` (``RateLimiter.set_rate``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .._checks import is_number
from .._errors import InvalidInputError

__all__ = [
    "BETA",
    "CUT_GRACE",
    "MAX_OVER_MEASURED",
    "MEASURE_BUCKET",
    "MIN_RATE",
    "RECOVERY_FACTOR",
    "SCALE",
    "SMOOTHING",
    "AdaptiveRate",
    "AdaptiveState",
    "LocalAdaptiveState",
    "Throttle",
]

logger = logging.getLogger("vision_async.adaptive")

#: Multiplicative decrease after a 429 (RFC 8312's beta_cubic, botocore's ``_BETA``).
BETA = 0.7
#: CUBIC's scaling constant C, in requests per second per second cubed (RFC 8312, botocore).
SCALE = 0.4
#: The allowed rate never drops below this many requests per second (botocore's bucket minimum),
#: unless the ceiling is lower.
MIN_RATE = 0.5
#: The allowed rate never runs ahead of the measured send rate by more than this factor.
MAX_OVER_MEASURED = 2.0
#: Throttled mode ends once the CUBIC curve reaches this multiple of the throttled rate.
RECOVERY_FACTOR = 2.0
#: A 429 for a request sent less than this many seconds after the last cut does not cut again.
CUT_GRACE = 1.0
#: Width, in seconds, of the buckets the send rate is counted in.
MEASURE_BUCKET = 0.5
#: Weight of the newest bucket in the smoothed send rate.
SMOOTHING = 0.8


@dataclass(frozen=True, slots=True)
class Throttle:
    """The last multiplicative decrease: the send rate refused (``rate``, w_max) and when (``at``,
    on the caller's clock)."""

    rate: float
    at: float


class AdaptiveState(Protocol):
    """Where the send-rate measurement and the last throttle live.

    Synchronous on purpose: a shared implementation answers from a local copy that it keeps up
    to date in the background, and converts ``Throttle.at`` between its clock and the caller's.
    """

    def record_send(self, now: float) -> None:
        """Count one request sent at ``now``."""
        ...

    def send_rate(self, now: float) -> float:
        """The smoothed send rate at ``now``, requests per second."""
        ...

    def last_throttle(self) -> Throttle | None:
        """The throttle in force, or ``None`` when not throttled."""
        ...

    def set_throttle(self, throttle: Throttle | None) -> None:
        """Record a new throttle, or ``None`` once recovered."""
        ...


class LocalAdaptiveState:
    """The in-memory :class:`AdaptiveState` (the default)."""

    __slots__ = ("_bucket", "_count", "_first", "_rate", "_throttle")

    def __init__(self) -> None:
        self._bucket: int | None = None  # index of the bucket being counted
        self._count = 0
        self._first = 0.0
        self._rate: float | None = None  # smoothed rate; None until a first bucket ends
        self._throttle: Throttle | None = None

    def record_send(self, now: float) -> None:
        bucket = math.floor(now / MEASURE_BUCKET)
        if self._bucket is None:
            self._bucket, self._count, self._first = bucket, 1, now
            return
        if bucket > self._bucket:
            self._rate = self._smoothed(bucket)
            self._bucket, self._count = bucket, 0
        self._count += 1

    def _smoothed(self, bucket: int) -> float:
        assert self._bucket is not None
        bucket_rate = self._count / ((bucket - self._bucket) * MEASURE_BUCKET)
        if self._rate is None:
            return bucket_rate
        return SMOOTHING * bucket_rate + (1.0 - SMOOTHING) * self._rate

    def send_rate(self, now: float) -> float:
        if self._bucket is None:
            return 0.0
        bucket = math.floor(now / MEASURE_BUCKET)
        if bucket > self._bucket:
            return self._smoothed(bucket)
        if self._rate is None:
            return self._count / max(now - self._first, MEASURE_BUCKET)
        return self._rate

    def last_throttle(self) -> Throttle | None:
        return self._throttle

    def set_throttle(self, throttle: Throttle | None) -> None:
        self._throttle = throttle


def _rate_or_none(value: float | None, what: str) -> float | None:
    if value is None:
        return None
    if not is_number(value) or not math.isfinite(value) or value <= 0:
        raise InvalidInputError(f"{what} must be a finite number above 0 or None, got {value!r}")
    return float(value)


class AdaptiveRate:
    """The rate the client allows itself, adapted to the 429s it meets (see the module docs).

    ``ceiling`` is the configured rate limit (``None``: unlimited); ``on_change`` receives every
    new allowed rate (``None``: no limit), typically ``RateLimiter.set_rate``.
    """

    __slots__ = ("_allowed", "_ceiling", "_floor", "_on_change", "_state", "cuts")

    def __init__(
        self,
        *,
        ceiling: float | None = None,
        state: AdaptiveState | None = None,
        on_change: Callable[[float | None], object] | None = None,
    ) -> None:
        self._ceiling = _rate_or_none(ceiling, "ceiling")
        self._floor = MIN_RATE if self._ceiling is None else min(MIN_RATE, self._ceiling)
        self._state: AdaptiveState = state if state is not None else LocalAdaptiveState()
        self._on_change = on_change
        self._allowed = self._ceiling
        #: How many times a 429 cut the rate (lifetime, this client).
        self.cuts = 0

    @property
    def allowed_rate(self) -> float | None:
        """Requests per second allowed now; ``None`` when unlimited."""
        return self._allowed

    @property
    def ceiling(self) -> float | None:
        """The configured limit the allowed rate never exceeds (``None``: unlimited)."""
        return self._ceiling

    @property
    def throttled(self) -> bool:
        """Whether a 429 is limiting the rate now."""
        return self._state.last_throttle() is not None

    def send_rate(self, now: float) -> float:
        """The measured send rate, requests per second."""
        return self._state.send_rate(now)

    def on_send(self, now: float) -> None:
        """Call when a request is sent (every attempt)."""
        self._state.record_send(now)

    def on_throttle(self, now: float, *, sent_at: float | None = None) -> bool:
        """Call on a 429. ``sent_at``: when that attempt was sent (after its token).

        Returns whether the rate was cut: not when the attempt was sent before the last cut or
        within ``CUT_GRACE`` after it (the server was still counting the traffic before the cut).
        """
        last = self._state.last_throttle()
        if last is not None and sent_at is not None and sent_at < last.at + CUT_GRACE:
            return False
        measured = self._state.send_rate(now)
        refused = measured if self._allowed is None else min(measured, self._allowed)
        refused = max(refused, self._floor)
        self._state.set_throttle(Throttle(rate=refused, at=now))
        self.cuts += 1
        logger.debug("429: send rate %.2f/s refused; allowing %.2f/s", refused, BETA * refused)
        self._update(now)
        return True

    def on_success(self, now: float) -> None:
        """Call on an answer that is not a 429; raises the allowed rate along the CUBIC curve."""
        if self._allowed == self._ceiling and self._state.last_throttle() is None:
            return
        self._update(now)

    def _update(self, now: float) -> None:
        throttle = self._state.last_throttle()
        allowed: float | None
        if throttle is None:
            allowed = self._ceiling
        else:
            w_max = throttle.rate
            k = (w_max * (1.0 - BETA) / SCALE) ** (1.0 / 3.0)
            cubic = SCALE * (max(0.0, now - throttle.at) - k) ** 3 + w_max
            if cubic >= RECOVERY_FACTOR * w_max or (self._ceiling is not None and cubic >= self._ceiling):
                self._state.set_throttle(None)
                logger.debug("no 429 since %.1f s: rate limit back to %s", now - throttle.at, self._ceiling)
                allowed = self._ceiling
            else:
                allowed = min(cubic, MAX_OVER_MEASURED * self._state.send_rate(now))
                allowed = max(allowed, self._floor)
                if self._ceiling is not None:
                    allowed = min(allowed, self._ceiling)
        if allowed != self._allowed:
            self._allowed = allowed
            if self._on_change is not None:
                self._on_change(allowed)
