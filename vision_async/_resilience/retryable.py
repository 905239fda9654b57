"""Which failed attempts are worth another one, and the retry log's words: shared by the
:class:`~vision_async._resilience.retry.Retrier` and its tenacity rules (:mod:`.retry_rules`),
below both so that neither imports the other back.
"""

from __future__ import annotations

import logging

from .._errors import (
    APIConnectionError,
    APIStatusError,
    CertificateVerificationError,
    CooldownTimeout,
    RateLimitError,
    RateLimitTimeout,
    VisionError,
)

__all__ = ["BUDGET_SPENT", "RETRYABLE_STATUS", "is_retryable", "log_refusal", "logger", "paced_by_the_server"]

logger = logging.getLogger("vision_async.retry")

#: HTTP statuses worth another attempt.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})

#: Timeouts that come from the call's own deadline, not from the service: never worth a retry.
_DEADLINE_ERRORS: tuple[type[VisionError], ...] = (CooldownTimeout, RateLimitTimeout)


#: Connection errors that fail the same way every time.
_NEVER_RETRIED: tuple[type[VisionError], ...] = (CertificateVerificationError,)


def is_retryable(exc: BaseException) -> bool:
    """Whether a failed attempt is worth another one."""
    if isinstance(exc, APIStatusError):
        return exc.status_code in RETRYABLE_STATUS
    return isinstance(exc, APIConnectionError) and not isinstance(exc, _DEADLINE_ERRORS + _NEVER_RETRIED)


def paced_by_the_server(exc: BaseException) -> bool:
    """Whether ``exc`` is a 429 that says how long to wait (``Retry-After``, ``retry-after-ms``, ...).

    That is the server pacing the client, not a fault: its retry is neither refused by the retry
    budget nor counted in it. The wait itself, the cool-down that holds every call of the resource
    and the adaptive rate already slow the client down, and ``max_retry_after`` and the call's
    deadline still end it. A 429 without a wait, and 5xx, stay under the budget.
    """
    return isinstance(exc, RateLimitError) and exc.retry_after is not None


#: Why a retry the budget refuses is not made (logged).
BUDGET_SPENT = "the retry budget is spent (too many retries client-wide)"


def log_refusal(operation: str, attempt: int, exc: BaseException, reason: str) -> None:
    """The DEBUG line that says why a call ends with its last error instead of retrying."""
    logger.debug("%s: not retrying after attempt %d (%s): %s", operation, attempt, type(exc).__name__, reason)
