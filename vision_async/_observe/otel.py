"""The OpenTelemetry observer (``vision_async._core.observer.Observer``); imported only when a provider is in play.

One INTERNAL span per call (``vision_async <operation>``), one CLIENT span per attempt (HTTP client
semantic conventions, name ``POST``), the attempt span's W3C ``traceparent``/``tracestate`` on the
request, events on the call span for retries, 429 cool-downs and breaker refusals. Metrics:
``http.client.request.duration`` per attempt and ``vision_async.*`` counters with bounded attributes.
No attribute is ever built from a header value: the key and tokens travel in headers only, and
``url.full`` is the URL the pipeline built (root + path + the operation's own query), which holds
no secret.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import inject
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from .._errors import CircuitOpenError, RateLimitError, VisionError
from .._events import batch_link, call_span
from .._version import __version__

if TYPE_CHECKING:
    from .._core.call import Call, Response
    from .._transports.base import OutgoingRequest

__all__ = ["OtelObserver"]

SCOPE = "vision_async"


def _version_of(operation: str) -> str:
    return "4.0" if operation.startswith("v4.") else "3.2"


class OtelObserver:
    def __init__(self, tracer_provider: Any, meter_provider: Any, upstreams: Iterable[Any], totals: Any = None) -> None:
        self.tracer = tracer_provider.get_tracer(SCOPE, __version__) if tracer_provider is not None else None
        self.upstreams = tuple(upstreams)
        self.meter = None
        if meter_provider is not None:
            from .instruments import Instruments

            self.meter = Instruments(meter_provider.get_meter(SCOPE, __version__), self.upstreams, totals)

    # -- one call ---------------------------------------------------------------------------

    async def call(self, call: Call, inner: Callable[[Call], Awaitable[Response]]) -> Response:
        meter = self.meter
        if meter is not None:
            meter.in_flight.add(1, {"vision_async.operation": call.operation})
        tracer = self.tracer
        try:
            if tracer is None:
                try:
                    response = await inner(call)
                except VisionError as exc:
                    if meter is not None:
                        meter.call_done(call.operation, type(exc).__name__)
                    raise
                if meter is not None:
                    meter.call_done(call.operation, "success")
                return response
            batch = batch_link.get()
            with tracer.start_as_current_span(
                f"vision_async {call.operation}",
                # A batch item's call is a trace of its own, linked to the batch span (see batch_start).
                context=otel_context.Context() if batch is not None else None,
                links=[Link(batch.get_span_context())] if batch is not None else None,  # type: ignore[attr-defined]
                kind=SpanKind.INTERNAL,
                attributes={
                    "vision_async.operation": call.operation,
                    "vision_async.api_version": _version_of(call.operation),
                    "vision_async.throttled": False,
                },
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                token = call_span.set(span)
                try:
                    response = await inner(call)
                except BaseException as exc:
                    span.set_attribute("vision_async.attempts", call.attempts)
                    if isinstance(exc, VisionError):
                        resource = getattr(exc, "resource", None)
                        if resource:
                            span.set_attribute("vision_async.resource", resource)
                        if getattr(exc, "request_id", None):
                            span.set_attribute("vision_async.request_id", str(exc.request_id))
                        if isinstance(exc, CircuitOpenError):
                            span.add_event(
                                "vision_async.breaker_refused", {"vision_async.retry_after": float(exc.retry_after)}
                            )
                        if isinstance(exc, RateLimitError):
                            span.set_attribute("vision_async.throttled", True)
                    name = type(exc).__name__
                    span.set_attribute("error.type", name)
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, name))
                    if meter is not None and isinstance(exc, VisionError):
                        meter.call_done(call.operation, name)
                    raise
                finally:
                    call_span.reset(token)
                span.set_attribute("vision_async.attempts", response.attempts)
                if response.resource:
                    span.set_attribute("vision_async.resource", response.resource)
                if response.request_id:
                    span.set_attribute("vision_async.request_id", response.request_id)
                if meter is not None:
                    meter.call_done(call.operation, "success")
                return response
        finally:
            if meter is not None:
                meter.in_flight.add(-1, {"vision_async.operation": call.operation})

    def refused(self, operation: str, exc: BaseException) -> None:
        """A call the breaker refused at the door (before the pipeline): a short failed call span."""
        if self.meter is not None:
            self.meter.call_done(operation, type(exc).__name__)
        if self.tracer is None:
            return
        with self.tracer.start_as_current_span(
            f"vision_async {operation}",
            kind=SpanKind.INTERNAL,
            attributes={
                "vision_async.operation": operation,
                "vision_async.api_version": _version_of(operation),
                "vision_async.attempts": 0,
                "error.type": type(exc).__name__,
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            span.add_event(
                "vision_async.breaker_refused", {"vision_async.retry_after": float(getattr(exc, "retry_after", 0.0))}
            )
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))

    def on_retry(self, event: Any) -> None:
        """The retry layer's hook: an event on the call span (the current one between attempts)."""
        span = trace.get_current_span()
        if span.is_recording():
            attributes: dict[str, Any] = {
                "vision_async.attempt": event.attempt,
                "vision_async.wait_s": float(event.wait),
                "error.type": type(event.error).__name__,
            }
            if event.retry_after is not None:
                attributes["vision_async.retry_after"] = float(event.retry_after)
            span.add_event("vision_async.retry", attributes)
        if self.meter is not None:
            self.meter.retries.add(1, {"vision_async.operation": event.operation})

    # -- a batch ----------------------------------------------------------------------------

    def batch_start(self, operation: str) -> object:
        """The batch span (started, not made current): each item's call span is the root of a
        trace of its own with a link to it, so a batch of a million inputs is a million small
        traces, never one trace with a million children (which tracing backends truncate)."""
        state = _BatchState()
        if self.tracer is not None:
            state.span = self.tracer.start_span(
                f"vision_async batch {operation}",
                kind=SpanKind.INTERNAL,
                attributes={"vision_async.operation": operation},
            )
        return state

    def batch_item(self, batch: object, operation: str, failed: bool) -> None:
        assert isinstance(batch, _BatchState)
        if failed:
            batch.failed += 1
        else:
            batch.done += 1
        if self.meter is not None:
            outcome = "failed" if failed else "done"
            self.meter.batch_items.add(1, {"vision_async.operation": operation, "vision_async.outcome": outcome})

    def batch_end(self, batch: object, submitted: int, error: BaseException | None) -> None:
        assert isinstance(batch, _BatchState)
        span = batch.span
        if span is None:
            return
        span.set_attribute("vision_async.batch.submitted", submitted)
        span.set_attribute("vision_async.batch.done", batch.done)
        span.set_attribute("vision_async.batch.failed", batch.failed)
        if error is not None:
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()

    # -- one attempt ------------------------------------------------------------------------

    async def attempt(
        self, call: Call, request: OutgoingRequest, inner: Callable[[Call, OutgoingRequest], Awaitable[Response]]
    ) -> Response:
        parts = urlsplit(request.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname or ""
        tracer = self.tracer
        meter = self.meter
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        call_span = trace.get_current_span()
        try:
            if tracer is None:
                try:
                    response = await inner(call, request)
                except VisionError as exc:
                    status = getattr(exc, "status_code", None)
                    error = str(status) if status is not None else type(exc).__name__
                    raise
                status = response.status_code
                return response
            attributes: dict[str, Any] = {
                "http.request.method": request.method,
                "server.address": host,
                "server.port": port,
                "url.full": request.url,
            }
            if call.attempts > 1:
                attributes["http.request.resend_count"] = call.attempts - 1
            with tracer.start_as_current_span(
                request.method,
                kind=SpanKind.CLIENT,
                attributes=attributes,
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                carrier: dict[str, str] = {}
                inject(carrier)
                if carrier:
                    request = type(request)(
                        request.method,
                        request.url,
                        request.headers + tuple(carrier.items()),
                        request.content,
                        request.timeout,
                        request.max_body,
                    )
                try:
                    response = await inner(call, request)
                except BaseException as exc:
                    status = getattr(exc, "status_code", None)
                    if status is not None:
                        span.set_attribute("http.response.status_code", status)
                    error = str(status) if status is not None else type(exc).__name__
                    span.set_attribute("error.type", error)
                    span.set_status(Status(StatusCode.ERROR, error))
                    if isinstance(exc, RateLimitError) and call_span.is_recording():
                        call_span.add_event(
                            "vision_async.cooldown",
                            {
                                "vision_async.resource": f"{parts.scheme}://{parts.netloc}",
                                "vision_async.retry_after": float(exc.retry_after or 0.0),
                            },
                        )
                        call_span.set_attribute("vision_async.throttled", True)
                    raise
                status = response.status_code
                span.set_attribute("http.response.status_code", status)
                return response
        finally:
            if meter is not None:
                meter.attempt_done(
                    call.operation, request.method, host, port, status, error, time.perf_counter() - started
                )


class _BatchState:
    __slots__ = ("done", "failed", "span")

    def __init__(self) -> None:
        self.span: Any = None
        self.done = 0
        self.failed = 0

    def get_span_context(self) -> Any:
        return self.span.get_span_context() if self.span is not None else trace.INVALID_SPAN_CONTEXT
