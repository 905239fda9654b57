"""Making the observer: OpenTelemetry is imported only when it is installed and a provider is in play."""

from __future__ import annotations

import sys
from typing import Any

from .._core.observer import Observer

__all__ = ["make_observer"]


def _provider_set(api: Any, getter: str, proxy: str) -> bool:
    provider = getattr(api, getter)()
    return type(provider).__name__ not in (proxy, "NoOpTracerProvider", "NoOpMeterProvider")


def make_observer(
    *, tracing: bool, tracer_provider: object | None, meter_provider: object | None, upstreams: Any, totals: Any = None
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

    return OtelObserver(tracer, meter, upstreams, totals)
