"""Settings of the client, each a frozen dataclass with safe defaults stated as constants."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._errors import InvalidInputError

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_TIMEOUT",
    "BreakerPolicy",
    "ImageLimits",
    "RetryPolicy",
]

#: Seconds one attempt (connect, send, wait for and read the answer) may take.
DEFAULT_TIMEOUT = 30.0
#: Seconds to establish a connection, within the attempt timeout.
DEFAULT_CONNECT_TIMEOUT = 10.0
#: Connections the default pool keeps open to the endpoint.
DEFAULT_MAX_CONNECTIONS = 100

MIB = 1024 * 1024


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) or not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidInputError(f"{name} must be a number {bound}, got {value!r}")


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
    start of the call, retries and waits included; ``None`` for no total deadline).
    """

    max_attempts: int = 4
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    total_timeout: float | None = 60.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise InvalidInputError(f"max_attempts must be an int >= 1, got {self.max_attempts!r}")
        _positive("initial_backoff", self.initial_backoff, allow_zero=True)
        _positive("max_backoff", self.max_backoff, allow_zero=True)
        _positive("max_retry_after", self.max_retry_after, allow_zero=True)
        if self.total_timeout is not None:
            _positive("total_timeout", self.total_timeout)

    def backoff_ceiling(self, retry_number: int) -> float:
        """The upper bound of the jittered wait before retry ``retry_number`` (1-based)."""
        exponent = min(retry_number - 1, 62)
        return float(min(self.max_backoff, self.initial_backoff * (2**exponent)))


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerPolicy:
    """The circuit breaker: ``fail_max`` consecutive failures open it for ``reset_timeout`` s.

    Failures are 5xx answers, timeouts and connection errors. Any other answer (4xx included,
    429 too: a quota is not an outage) resets the count. Cancellation counts as nothing.
    After ``reset_timeout`` one probe request is let through (half-open): its success closes
    the breaker, its failure opens it again; other calls fail fast meanwhile.
    """

    fail_max: int = 5
    reset_timeout: float = 30.0

    def __post_init__(self) -> None:
        if isinstance(self.fail_max, bool) or not isinstance(self.fail_max, int) or self.fail_max < 1:
            raise InvalidInputError(f"fail_max must be an int >= 1, got {self.fail_max!r}")
        _positive("reset_timeout", self.reset_timeout, allow_zero=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageLimits:
    """Largest image the client will send, checked locally before any request.

    ``max_image_bytes`` applies to analyze, tag, describe, detect, OCR, the domain models,
    thumbnails and area of interest (the service takes images under 4 MB). ``max_read_bytes``
    applies to Read, which takes up to 500 MB on paid tiers; set it to ``4 * 1024 * 1024`` on
    the free tier.
    """

    max_image_bytes: int = 4 * MIB
    max_read_bytes: int = 500 * MIB

    def __post_init__(self) -> None:
        for name in ("max_image_bytes", "max_read_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name} must be an int >= 1, got {value!r}")
