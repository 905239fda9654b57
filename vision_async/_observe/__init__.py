"""Observability: the OpenTelemetry observer (``otel``, imported lazily) and its factory; the call
path sees it through ``vision_async._core.observer.Observer`` and ``vision_async._events.note``."""
