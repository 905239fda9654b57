"""Frozen events handed to instrumentation hooks, and the safe way to call a hook."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

from ._errors import VisionError

__all__ = ["BreakerState", "BreakerStateChange", "OnBreakerStateChange", "OnRetry", "RetryEvent", "call_hook"]

logger = logging.getLogger("vision_async.hooks")


class BreakerState(StrEnum):
    """The state of a circuit breaker (the same strings pybreaker uses)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """A failed attempt that is about to be retried after ``wait`` seconds."""

    operation: str
    attempt: int
    wait: float
    error: VisionError
    retry_after: float | None


@dataclass(frozen=True, slots=True)
class BreakerStateChange:
    """The circuit breaker moved from ``old_state`` to ``new_state``."""

    old_state: BreakerState
    new_state: BreakerState
    failures: int


class OnRetry(Protocol):
    def __call__(self, event: RetryEvent, /) -> object: ...


class OnBreakerStateChange(Protocol):
    def __call__(self, event: BreakerStateChange, /) -> object: ...


E = TypeVar("E")


def call_hook(hook: Callable[[E], object] | None, event: E) -> None:
    """Call ``hook(event)``; a hook that raises is logged and never breaks the request."""
    if hook is None:
        return
    try:
        result = hook(event)
    except Exception:
        logger.exception("vision_async hook %r raised; ignored", hook)
        return
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        logger.warning("vision_async hook %r returned an awaitable; hooks must be plain functions", hook)
