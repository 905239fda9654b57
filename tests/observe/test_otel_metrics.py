"""Metrics with the OpenTelemetry SDK's in-memory reader, against the emulator, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from tests.helpers import png_bytes
from vision_async import BreakerPolicy, CircuitOpenError, InternalServerError, RetryPolicy, VisionClient
from vision_async.emulator import Emulator, EmulatorTransport
from vision_async.testing import FakeClock

pytestmark = pytest.mark.anyio

IMAGE = png_bytes(64, 64)
KEY = "k3y-that-must-never-leak-0123456789"


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    found: dict[str, list[Any]] = {}
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def total(found: dict[str, list[Any]], name: str, **match: object) -> float:
    return sum(p.value for p in found.get(name, []) if all(p.attributes.get(k) == v for k, v in match.items()))


async def test_metrics_agree_with_stats_after_mixed_outcomes(fake_clock: FakeClock) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    em = Emulator(clock=fake_clock.clock, sleep=fake_clock.sleep, ocr="off")
    client = VisionClient(
        "https://e.test",
        KEY,
        transport=EmulatorTransport(em),
        clock=fake_clock.clock,
        sleep=fake_clock.sleep,
        adaptive=False,
        retry=RetryPolicy(max_attempts=2),
        breaker=BreakerPolicy(fail_max=2, reset_timeout=30.0),
        meter_provider=provider,
        tracing=False,
    )
    async with client:
        em.set_faults("tag", rate_limit=1)
        await client.tag(IMAGE)
        await client.tag(IMAGE)  # a 429, a retry, a success
        em.reset()
        em.set_faults("tag", p500=1.0)
        with pytest.raises(InternalServerError):
            await client.tag(IMAGE)  # two 500s: the breaker opens
        with pytest.raises(CircuitOpenError):
            await client.tag(IMAGE)
        stats = client.stats()
        found = points(reader)
    assert total(found, "vision_async.calls", **{"vision_async.outcome": "success"}) == stats.successes == 2
    for name, count in stats.failures.items():
        assert total(found, "vision_async.calls", **{"vision_async.outcome": name}) == count
    assert total(found, "vision_async.attempts") == stats.requests == 5
    assert total(found, "vision_async.retries") == stats.retries == 2
    assert total(found, "vision_async.throttled") == stats.throttled == 1
    assert total(found, "vision_async.in_flight") == stats.in_flight == 0
    assert total(found, "vision_async.retries.refused") == stats.retries_refused
    assert total(found, "vision_async.stale_resends") == stats.stale_resends
    durations = found["http.client.request.duration"]
    assert sum(p.count for p in durations) == stats.requests
    assert {p.attributes["http.response.status_code"] for p in durations} == {200, 429, 500}
    (breaker,) = found["vision_async.breaker.state"]
    assert breaker.value == 2 and breaker.attributes == {"vision_async.resource": "https://e.test"}
    # Bounded attribute sets, and no secret anywhere.
    for name, series in found.items():
        for point in series:
            for key, value in point.attributes.items():
                assert key in {
                    "vision_async.operation",
                    "vision_async.outcome",
                    "vision_async.resource",
                    "http.request.method",
                    "server.address",
                    "server.port",
                    "http.response.status_code",
                    "error.type",
                }, (name, key)
                assert KEY not in str(value)


async def test_batch_items_done_and_failed(fake_clock: FakeClock) -> None:
    reader = InMemoryMetricReader()
    em = Emulator(clock=fake_clock.clock, sleep=fake_clock.sleep, ocr="off")
    client = VisionClient(
        "https://e.test",
        KEY,
        transport=EmulatorTransport(em),
        clock=fake_clock.clock,
        sleep=fake_clock.sleep,
        meter_provider=MeterProvider(metric_readers=[reader]),
    )
    async with client:
        async with client.batch([IMAGE, b"not an image", IMAGE, IMAGE], "tag") as outcomes:
            items = [item async for item in outcomes]
        found = points(reader)
    done = sum(item.error is None for item in items)
    assert done == 3
    assert total(found, "vision_async.batch.items", **{"vision_async.outcome": "done"}) == done
    assert total(found, "vision_async.batch.items", **{"vision_async.outcome": "failed"}) == 1
