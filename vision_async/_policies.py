"""Settings of the client, each a frozen dataclass with safe defaults stated as constants."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ._checks import is_int, is_number
from ._defaults import BREAKER_FAIL_MAX as DEFAULT_FAIL_MAX
from ._defaults import BREAKER_FAILURE_RATIO as DEFAULT_FAILURE_RATIO
from ._defaults import BREAKER_MAX_RESET_TIMEOUT as DEFAULT_MAX_RESET_TIMEOUT
from ._defaults import BREAKER_MINIMUM_THROUGHPUT as DEFAULT_MINIMUM_THROUGHPUT
from ._defaults import BREAKER_RESET_TIMEOUT as DEFAULT_RESET_TIMEOUT
from ._defaults import BREAKER_SAMPLING_WINDOW as DEFAULT_SAMPLING_WINDOW
from ._defaults import BREAKER_SHORT_BREAKS as DEFAULT_SHORT_BREAKS
from ._defaults import (
    BUDGET_MIN_PER_SECOND,
    BUDGET_RATIO,
    BUDGET_WINDOW,
    RETRY_INITIAL_BACKOFF,
    RETRY_MAX_ATTEMPTS,
    RETRY_MAX_BACKOFF,
    RETRY_MAX_RETRY_AFTER,
    RETRY_TOTAL_TIMEOUT,
)
from ._errors import InvalidInputError

__all__ = [
    "BreakerPolicy",
    "ImageLimits",
    "ResponseLimits",
    "RetryBudget",
    "RetryPolicy",
]


MIB = 1024 * 1024


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not is_number(value) or math.isnan(value) or not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidInputError(f"{name} must be a number {bound}, got {value!r}")


def _finite_number(value: object, what: str, *, minimum: float, inclusive: bool) -> float:
    if not is_number(value):
        raise InvalidInputError(f"{what} must be a number, not {type(value).__name__}")
    number = float(value)
    too_small = number < minimum if inclusive else number <= minimum
    if not math.isfinite(number) or too_small:
        bound = f">= {minimum:g}" if inclusive else f"> {minimum:g}"
        raise InvalidInputError(f"{what} must be a finite number {bound}, got {value!r}")
    return number


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryBudget:
    """How many retries a client may add to its traffic (the formula: ``vision_async._resilience.budget``).

    ``ratio``: retries per recent call (0.2: one retry per five calls); ``min_per_second``: a
    floor of retries always allowed, per second of ``window``; ``window``: seconds looked back.
    """

    ratio: float = BUDGET_RATIO
    min_per_second: float = BUDGET_MIN_PER_SECOND
    window: float = BUDGET_WINDOW

    def __post_init__(self) -> None:
        object.__setattr__(self, "ratio", _finite_number(self.ratio, "ratio", minimum=0.0, inclusive=True))
        object.__setattr__(
            self, "min_per_second", _finite_number(self.min_per_second, "min_per_second", minimum=0.0, inclusive=True)
        )
        object.__setattr__(self, "window", _finite_number(self.window, "window", minimum=0.0, inclusive=False))


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """When and how long to wait before trying a failed request again.

    Retried: HTTP 429, 500, 502, 503, 504, timeouts and connection errors. Never retried: other
    4xx answers, an open circuit, local validation errors, cancellation.

    The wait before retry ``n`` (``n`` = 1 for the first retry) is the server's ``Retry-After``
    when it sent one, else full jitter::

        wait = random.uniform(0, min(max_backoff, initial_backoff * 2 ** (n - 1)))

    The call fails at once, without sleeping, when the server asks for a wait longer than
    ``max_retry_after`` or longer than the time left before ``total_timeout`` (measured from the
    start of the call, retries and waits included; ``None`` for no total deadline). The total
    deadline is the one deadline of a call: waiting for a rate-limit token or a 429 cool-down,
    every attempt and every backoff all count against it.

    ``budget`` caps retries client-wide (see :class:`RetryBudget`): when it is spent, a call
    fails at once with its last error instead of retrying. A 429 that says how long to wait is
    outside the budget (neither refused nor counted: the server paces it). ``None`` turns the
    budget off.
    """

    max_attempts: int = RETRY_MAX_ATTEMPTS
    initial_backoff: float = RETRY_INITIAL_BACKOFF
    max_backoff: float = RETRY_MAX_BACKOFF
    total_timeout: float | None = RETRY_TOTAL_TIMEOUT
    max_retry_after: float = RETRY_MAX_RETRY_AFTER
    budget: RetryBudget | None = field(default_factory=RetryBudget)

    def __post_init__(self) -> None:
        if not is_int(self.max_attempts) or self.max_attempts < 1:
            raise InvalidInputError(f"max_attempts must be an int >= 1, got {self.max_attempts!r}")
        _positive("initial_backoff", self.initial_backoff, allow_zero=True)
        _positive("max_backoff", self.max_backoff, allow_zero=True)
        _positive("max_retry_after", self.max_retry_after, allow_zero=True)
        if self.total_timeout is not None:
            _positive("total_timeout", self.total_timeout)
        if self.budget is not None and not isinstance(self.budget, RetryBudget):
            raise InvalidInputError(f"budget must be a RetryBudget or None, got {self.budget!r}")

    def backoff_ceiling(self, retry_number: int) -> float:
        """The upper bound of the jittered wait before retry ``retry_number`` (1-based)."""
        exponent = min(retry_number - 1, 62)
        return float(min(self.max_backoff, self.initial_backoff * (2**exponent)))


class _DefaultRatio(float):
    """The default failure ratio, told apart from a ratio the caller chose (``fail_max`` alone)."""

    __slots__ = ()


_AUTO_RATIO = _DefaultRatio(DEFAULT_FAILURE_RATIO)


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerPolicy:
    """The circuit breaker: when it opens, and for how long.

    What counts: every **attempt** (a retry is an attempt), because the breaker exists to stop
    sending to a service that is down, and attempts are what the service sees. Failures are 5xx
    answers, 408, timeouts and connection errors; any other answer (other 4xx, 429 too: a quota
    is not an outage, the adaptive rate and cool-down handle it) is a success for the breaker.
    Cancellation and a client shutting down count as nothing.

    The default rule (``BreakerPolicy()``) trips on evidence of an outage, not on a streak:

    - **failure ratio**: it opens when, over the last ``sampling_window`` seconds (1 s), at least
      ``minimum_throughput`` attempts (20) finished and at least ``failure_ratio`` (50%) of them
      failed. At 64 calls in flight, 10% transient faults never get near it, and a batch of hung
      attempts timing out together is a small share of what the window holds; a dead service
      fails every attempt and opens it within about a second.
    - **a streak**: ``fail_max`` (5) failures in a row open it, so that a dead service called
      once a second is noticed within a handful of calls; with many attempts in flight the streak
      must be half of them (32 at 64 in flight), so that a few hung attempts timing out together
      do not open it, while a dead service that answers fast still opens it in milliseconds.

    ``BreakerPolicy(fail_max=n)`` alone (or ``failure_ratio=None``) keeps the consecutive rule only:
    ``fail_max`` failures in a row open it, whatever the traffic; any success resets the count.

    Open, it refuses calls for ``reset_timeout`` seconds (5 s, as Polly's and Hystrix's default
    break); then one probe request is let through (half-open): its success closes the breaker,
    its failure opens it again. The first ``short_breaks`` breaks (6) last ``reset_timeout``;
    after that each failed probe doubles the break, up to ``max_reset_timeout`` (30 s), as Polly's
    break-duration generator and Envoy's ejection time grow: six of 5 s, then 10, 20, 30, 30 s.
    Closing resets the break to ``reset_timeout``. The short breaks notice a recovered service
    within 5 s of its recovery for an outage of up to 30 s (doubling from the first failed probe
    would probe at 5, 15 and 35 s: a 16 s outage noticed 19 s late); the growth keeps a long
    outage down to a probe every 30 s. ``short_breaks=1`` doubles from the first failed probe.
    """

    fail_max: int = DEFAULT_FAIL_MAX
    reset_timeout: float = DEFAULT_RESET_TIMEOUT
    failure_ratio: float | None = _AUTO_RATIO
    minimum_throughput: int = DEFAULT_MINIMUM_THROUGHPUT
    sampling_window: float = DEFAULT_SAMPLING_WINDOW
    max_reset_timeout: float = DEFAULT_MAX_RESET_TIMEOUT
    short_breaks: int = DEFAULT_SHORT_BREAKS

    def __post_init__(self) -> None:
        if not is_int(self.short_breaks) or self.short_breaks < 1:
            raise InvalidInputError(f"short_breaks must be an int >= 1, got {self.short_breaks!r}")
        if not is_int(self.fail_max) or self.fail_max < 1:
            raise InvalidInputError(f"fail_max must be an int >= 1, got {self.fail_max!r}")
        _positive("reset_timeout", self.reset_timeout, allow_zero=True)
        _positive("max_reset_timeout", self.max_reset_timeout, allow_zero=True)
        if self.max_reset_timeout < self.reset_timeout:
            # A cap below the first break: the break stays at reset_timeout (no growth).
            object.__setattr__(self, "max_reset_timeout", self.reset_timeout)
        if isinstance(self.failure_ratio, _DefaultRatio):
            # fail_max given alone keeps its old meaning: the consecutive rule only.
            ratio = None if self.fail_max != DEFAULT_FAIL_MAX else DEFAULT_FAILURE_RATIO
            object.__setattr__(self, "failure_ratio", ratio)
        if self.failure_ratio is not None:
            ratio = self.failure_ratio
            if not is_number(ratio) or not 0 < ratio <= 1:
                raise InvalidInputError(f"failure_ratio must be a number in (0, 1], got {ratio!r}")
        value = self.minimum_throughput
        if not is_int(value) or value < 1:
            raise InvalidInputError(f"minimum_throughput must be an int >= 1, got {value!r}")
        _positive("sampling_window", self.sampling_window)


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageLimits:
    """Largest image the client will send, checked locally before any request.

    ``max_image_bytes`` applies to analyze, tag, describe, detect, OCR, the domain models,
    thumbnails and area of interest (the service takes images under 4 MB). ``max_read_bytes``
    applies to Read, which takes up to 500 MB on paid tiers; set it to ``4 * 1024 * 1024`` on
    the free tier. ``max_v4_image_bytes`` applies to Image Analysis 4.0 (20 MB), and
    ``max_retrieval_image_bytes`` to its multimodal embeddings (``v4.vectorize_image``, 20 MB).
    """

    max_image_bytes: int = 4 * MIB
    max_read_bytes: int = 500 * MIB
    max_v4_image_bytes: int = 20 * MIB
    max_retrieval_image_bytes: int = 20 * MIB

    def __post_init__(self) -> None:
        for name in ("max_image_bytes", "max_read_bytes", "max_v4_image_bytes", "max_retrieval_image_bytes"):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise InvalidInputError(f"{name} must be an int >= 1, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseLimits:
    """Largest response body the client will read, per kind of operation.

    Reading stops at the cap with :class:`~vision_async.ResponseTooLargeError` (not retried), so
    a hostile or broken server cannot make the client hold an unbounded body in memory.

    - ``json_bytes``: every JSON answer of the analyze family (3.2 and 4.0), OCR, the model list
      and error bodies. Real answers are a few hundred KB at most.
    - ``read_bytes``: a Read result, which grows with the pages of the document.
    - ``thumbnail_bytes``: a thumbnail (at most 1024 x 1024 pixels).
    """

    json_bytes: int = 4 * MIB
    read_bytes: int = 64 * MIB
    thumbnail_bytes: int = 8 * MIB

    def __post_init__(self) -> None:
        for name in ("json_bytes", "read_bytes", "thumbnail_bytes"):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise InvalidInputError(f"{name} must be an int >= 1, got {value!r}")
