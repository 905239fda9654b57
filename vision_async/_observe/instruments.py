"""The metric instruments (bounded attribute sets: operation, outcome, resource root, status)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Instruments"]

_BREAKER = {"closed": 0, "half-open": 1, "open": 2}


class Instruments:
    def __init__(
        self, meter: Any, upstreams: Iterable[Any], totals: Callable[[], tuple[int, int]] | None = None
    ) -> None:
        """``totals()``: (retries refused by the budget, stale-connection resends), read when collected."""
        from opentelemetry.metrics import Observation

        self.upstreams = tuple(upstreams)
        self.duration = meter.create_histogram(
            "http.client.request.duration", unit="s", description="Duration of HTTP client requests (per attempt)."
        )
        self.calls = meter.create_counter(
            "vision_async.calls", unit="{call}", description="Calls by operation and outcome."
        )
        self.attempts = meter.create_counter("vision_async.attempts", unit="{attempt}", description="Attempts sent.")
        self.retries = meter.create_counter("vision_async.retries", unit="{retry}", description="Retries made.")
        self.throttled = meter.create_counter("vision_async.throttled", unit="{response}", description="429 answers.")
        self.in_flight = meter.create_up_down_counter(
            "vision_async.in_flight", unit="{call}", description="Calls in flight."
        )

        def rates(_options: Any) -> Iterable[Any]:
            for upstream in self.upstreams:
                rate = upstream.allowed_rate
                if rate is not None:
                    yield Observation(float(rate), {"vision_async.resource": upstream.resource})

        def breakers(_options: Any) -> Iterable[Any]:
            for upstream in self.upstreams:
                if upstream.breaker is not None:
                    yield Observation(
                        _BREAKER.get(str(upstream.breaker.state), 0), {"vision_async.resource": upstream.resource}
                    )

        self.batch_items = meter.create_counter(
            "vision_async.batch.items", unit="{item}", description="Batch items finished, by outcome (done, failed)."
        )

        if totals is not None:
            read = totals

            def refused(_options: Any) -> Iterable[Any]:
                yield Observation(read()[0])

            def stale(_options: Any) -> Iterable[Any]:
                yield Observation(read()[1])

            meter.create_observable_counter(
                "vision_async.retries.refused",
                callbacks=[refused],
                unit="{retry}",
                description="Retries the retry budget refused.",
            )
            meter.create_observable_counter(
                "vision_async.stale_resends",
                callbacks=[stale],
                unit="{request}",
                description="Requests resent at once because the server had closed a pooled connection.",
            )

        meter.create_observable_gauge(
            "vision_async.allowed_rate",
            callbacks=[rates],
            unit="{request}/s",
            description="The rate the limiter allows now.",
        )
        meter.create_observable_gauge(
            "vision_async.breaker.state", callbacks=[breakers], unit="1", description="0 closed, 1 half-open, 2 open."
        )

    def call_done(self, operation: str, outcome: str) -> None:
        self.calls.add(1, {"vision_async.operation": operation, "vision_async.outcome": outcome})

    def attempt_done(
        self, operation: str, method: str, host: str, port: int, status: int | None, error: str | None, seconds: float
    ) -> None:
        attributes: dict[str, Any] = {"http.request.method": method, "server.address": host, "server.port": port}
        if status is not None:
            attributes["http.response.status_code"] = status
        if error is not None:
            attributes["error.type"] = error
        self.duration.record(seconds, attributes)
        self.attempts.add(1, {"vision_async.operation": operation})
        if status == 429:
            self.throttled.add(1, {"vision_async.operation": operation})
