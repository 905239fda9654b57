"""Tracing off, or no provider: nothing recorded, no OpenTelemetry imported, no observer in the path."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.helpers import png_bytes
from vision_async import VisionClient
from vision_async.emulator import Emulator, EmulatorTransport
from vision_async.testing import FakeClock

IMAGE = png_bytes(64, 64)


def test_import_vision_async_imports_no_opentelemetry() -> None:
    code = "import vision_async, json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert not [m for m in json.loads(out.stdout) if m.startswith("opentelemetry")]


def test_a_client_without_provider_has_no_observer_and_loads_no_instrumentation() -> None:
    """(Another installed package, such as redis, may import opentelemetry itself; ours stays unloaded.)"""
    code = textwrap.dedent(
        """
        import json, sys, vision_async
        client = vision_async.VisionClient("https://e.test", "k")
        assert client._pipeline.observer is None
        print(json.dumps(sorted(sys.modules)))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    loaded = json.loads(out.stdout.splitlines()[-1])
    assert "vision_async._observe.otel" not in loaded
    assert "vision_async._observe.instruments" not in loaded


@pytest.mark.anyio
async def test_tracing_false_records_nothing_even_with_a_global_provider(
    fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry import trace

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    em = Emulator(clock=fake_clock.clock, sleep=fake_clock.sleep, ocr="off")
    off = VisionClient(
        "https://e.test",
        "k",
        transport=EmulatorTransport(em),
        clock=fake_clock.clock,
        sleep=fake_clock.sleep,
        tracing=False,
    )
    assert off._pipeline.observer is None
    async with off:
        await off.tag(IMAGE)
    assert exporter.get_finished_spans() == ()
    assert em.traceparents == []
    on = VisionClient(  # the same global provider, tracing on (the default): recorded
        "https://e.test", "k", transport=EmulatorTransport(em), clock=fake_clock.clock, sleep=fake_clock.sleep
    )
    async with on:
        await on.tag(IMAGE)
    assert sorted(s.name for s in exporter.get_finished_spans()) == ["POST", "vision_async tag"]


@pytest.mark.anyio
async def test_no_provider_records_nothing(fake_clock: FakeClock) -> None:
    """OpenTelemetry imported but no provider set, none given: no observer, no traceparent sent."""
    import opentelemetry.trace  # noqa: F401

    em = Emulator(clock=fake_clock.clock, sleep=fake_clock.sleep, ocr="off")
    client = VisionClient(
        "https://e.test", "k", transport=EmulatorTransport(em), clock=fake_clock.clock, sleep=fake_clock.sleep
    )
    assert client._pipeline.observer is None
    async with client:
        await client.tag(IMAGE)
    assert em.traceparents == []


def test_meter_provider_alone_records_metrics_not_spans() -> None:
    reader = InMemoryMetricReader()
    client = VisionClient("https://e.test", "k", meter_provider=MeterProvider(metric_readers=[reader]), tracing=False)
    observer = client._pipeline.observer
    assert observer is not None and getattr(observer, "tracer", None) is None
