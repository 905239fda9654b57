"""Frozen events handed to instrumentation hooks, the safe way to call a hook, and the context the
tracing observer keeps per call (read by any layer, the transports too, at the cost of one
context-variable read when nothing traces)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from ._errors import VisionError

__all__ = [
    "BreakerState",
    "BreakerStateChange",
    "OnBreakerStateChange",
    "OnRetry",
    "RetryEvent",
    "batch_link",
    "call_hook",
    "call_span",
    "note",
]

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


#: The current call's span while an observer traces it (set by the observer; opaque here).
call_span: ContextVar[Any] = ContextVar("vision_async_call_span", default=None)


def note(name: str, attributes: dict[str, Any]) -> None:
    """An event on the current call's span, if one is being traced (for rare paths: a rate-limit
    wait, a stale-connection resend); without tracing, one context-variable read."""
    span = call_span.get()
    if span is not None:
        span.add_event(name, attributes)


#: Set in each batch item's own task: the batch span that item's call span links to (opaque here).
batch_link: ContextVar[object | None] = ContextVar("vision_async_batch_link", default=None)
