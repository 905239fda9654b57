"""The tiny seam the call path calls: ``None`` (nothing, no cost) unless tracing or metrics are on.

The pipeline holds ``observer: Observer | None``; with ``None`` the call path pays one attribute
check per call and one per attempt. :func:`make_observer` imports OpenTelemetry (``otel``) only
when ``opentelemetry-api`` is installed and a provider is set or given.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .._core.call import Call, Response
    from .._transports.base import OutgoingRequest

__all__ = ["Observer", "batch_link", "call_span", "make_observer", "note"]

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


class Observer(Protocol):
    async def call(self, call: Call, inner: Callable[[Call], Awaitable[Response]]) -> Response: ...

    async def attempt(
        self, call: Call, request: OutgoingRequest, inner: Callable[[Call, OutgoingRequest], Awaitable[Response]]
    ) -> Response: ...

    def refused(self, operation: str, exc: BaseException) -> None: ...

    def on_retry(self, event: Any) -> None: ...

    def batch_start(self, operation: str) -> object: ...

    def batch_item(self, batch: object, operation: str, failed: bool) -> None: ...

    def batch_end(self, batch: object, submitted: int, error: BaseException | None) -> None: ...


def _provider_set(api: Any, getter: str, proxy: str) -> bool:
    provider = getattr(api, getter)()
    return type(provider).__name__ not in (proxy, "NoOpTracerProvider", "NoOpMeterProvider")


def make_observer(
    *, tracing: bool, tracer_provider: object | None, meter_provider: object | None, lanes: Any, totals: Any = None
) -> Observer | None:
    """An observer when OpenTelemetry is importable and a provider is given or set globally; else None."""
    if not tracing and meter_provider is None:
        return None
    if "opentelemetry" not in sys.modules and tracer_provider is None and meter_provider is None:
        # No one imported OpenTelemetry, so no one set a global provider: stay free.
        return None
    try:
        from opentelemetry import metrics, trace
    except ImportError:
        return None
    tracer = None
    if tracing and (tracer_provider is not None or _provider_set(trace, "get_tracer_provider", "ProxyTracerProvider")):
        tracer = tracer_provider
        if tracer is None:
            tracer = trace.get_tracer_provider()
    meter = meter_provider
    if meter is None and _provider_set(metrics, "get_meter_provider", "_ProxyMeterProvider"):
        meter = metrics.get_meter_provider()
    if tracer is None and meter is None:
        return None
    from .otel import OtelObserver

    return OtelObserver(tracer, meter, lanes, totals)
