"""Traces with the OpenTelemetry SDK's in-memory exporter, against the emulator, on both backends."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import tests.helpers.hostile_server as hs
from tests.helpers import png_bytes
from tests.helpers.transport_cases import close_on_reuse
from vision_async import (
    BreakerPolicy,
    CircuitOpenError,
    InternalServerError,
    RateLimit,
    RetryPolicy,
    VisionClient,
    VisionError,
)
from vision_async.emulator import Emulator, EmulatorTransport
from vision_async.testing import FakeClock

pytestmark = pytest.mark.anyio

IMAGE = png_bytes(64, 64)
KEY = "k3y-that-must-never-leak-0123456789"


def make(clock: FakeClock, **options: object) -> tuple[Emulator, VisionClient, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    em = Emulator(clock=clock.clock, sleep=clock.sleep, ocr="off")
    options.setdefault("adaptive", False)
    client = VisionClient(
        "https://e.test",
        KEY,
        transport=EmulatorTransport(em),
        clock=clock.clock,
        sleep=clock.sleep,
        tracer_provider=provider,
        **options,  # type: ignore[arg-type]
    )
    return em, client, exporter


async def test_one_retry_gives_one_call_span_and_two_attempt_spans(fake_clock: FakeClock) -> None:
    em, client, exporter = make(fake_clock)
    em.set_faults("tag", rate_limit=1)
    async with client:
        await client.tag(IMAGE)
        exporter.clear()
        await client.tag(IMAGE)  # 429, then a retry after Retry-After
    spans = exporter.get_finished_spans()
    calls = [s for s in spans if s.kind is SpanKind.INTERNAL]
    attempts = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert [s.name for s in calls] == ["vision_async tag"]
    assert [s.name for s in attempts] == ["POST", "POST"]
    call = calls[0]
    assert all(a.parent is not None and a.parent.span_id == call.context.span_id for a in attempts)
    assert call.attributes is not None
    assert call.attributes["vision_async.operation"] == "tag"
    assert call.attributes["vision_async.api_version"] == "3.2"
    assert call.attributes["vision_async.attempts"] == 2
    assert call.attributes["vision_async.resource"] == "https://e.test"
    assert call.attributes["vision_async.throttled"] is True
    assert call.attributes["vision_async.request_id"]
    assert call.status.status_code is StatusCode.UNSET
    first, second = sorted(attempts, key=lambda s: s.start_time or 0)
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["http.request.method"] == "POST"
    assert first.attributes["server.address"] == "e.test"
    assert first.attributes["server.port"] == 443
    assert str(first.attributes["url.full"]).startswith("https://e.test/vision/v3.2/tag")
    assert first.attributes["http.response.status_code"] == 429
    assert first.attributes["error.type"] == "429"
    assert "http.request.resend_count" not in first.attributes
    assert second.attributes["http.response.status_code"] == 200
    assert second.attributes["http.request.resend_count"] == 1
    assert "error.type" not in second.attributes
    names = [e.name for e in call.events]
    assert "vision_async.cooldown" in names
    retry = next(e for e in call.events if e.name == "vision_async.retry")
    assert retry.attributes is not None and retry.attributes["vision_async.wait_s"] == 1.0
    assert retry.attributes["error.type"] == "RateLimitError"


async def test_traceparent_received_names_the_attempt_span(fake_clock: FakeClock) -> None:
    em, client, exporter = make(fake_clock)
    async with client:
        await client.tag(IMAGE)
    (attempt,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
    (traceparent,) = em.traceparents
    _version, trace_id, span_id, _flags = traceparent.split("-")
    assert int(trace_id, 16) == attempt.context.trace_id
    assert int(span_id, 16) == attempt.context.span_id


async def test_failed_call_span_is_error_with_error_type(fake_clock: FakeClock) -> None:
    em, client, exporter = make(fake_clock, retry=None, breaker=None)
    em.set_faults("tag", p500=1.0)
    async with client:
        with pytest.raises(InternalServerError):
            await client.tag(IMAGE)
    (call,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.INTERNAL]
    assert call.status.status_code is StatusCode.ERROR
    assert call.attributes is not None and call.attributes["error.type"] == "InternalServerError"
    assert any(e.name == "exception" for e in call.events)


async def test_breaker_refusal_is_an_event(fake_clock: FakeClock) -> None:
    em, client, exporter = make(
        fake_clock, retry=RetryPolicy(max_attempts=1), breaker=BreakerPolicy(fail_max=1, reset_timeout=30.0)
    )
    em.set_faults("tag", p500=1.0)
    async with client:
        with pytest.raises(InternalServerError):
            await client.tag(IMAGE)
        with pytest.raises(CircuitOpenError):
            await client.tag(IMAGE)
    calls = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.INTERNAL]
    assert len(calls) == 2
    refused = calls[1]
    assert any(e.name == "vision_async.breaker_refused" for e in refused.events)
    assert refused.attributes is not None and refused.attributes["error.type"] == "CircuitOpenError"
    assert refused.status.status_code is StatusCode.ERROR


async def test_v4_span_name(fake_clock: FakeClock) -> None:
    _em, client, exporter = make(fake_clock)
    async with client:
        await client.v4.analyze(IMAGE, features=["tags"])
    (call,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.INTERNAL]
    assert call.name == "vision_async v4.analyze"
    assert call.attributes is not None and call.attributes["vision_async.api_version"] == "4.0"


async def test_no_secret_in_any_exported_value(fake_clock: FakeClock) -> None:
    em, client, exporter = make(fake_clock, breaker=BreakerPolicy(fail_max=1, reset_timeout=30.0))
    em.set_faults("tag", rate_limit=1)
    async with client:
        await client.tag(IMAGE)
        await client.tag(IMAGE)
        em.set_faults("tag", p500=1.0)
        for _ in range(2):
            with pytest.raises((InternalServerError, CircuitOpenError)):
                await client.tag(IMAGE)
    spans = exporter.get_finished_spans()
    assert spans
    values: list[str] = []
    for span in spans:
        values.append(span.name)
        values.extend(f"{k}={v}" for k, v in (span.attributes or {}).items())
        for event in span.events:
            values.append(event.name)
            values.extend(f"{k}={v}" for k, v in (event.attributes or {}).items())
        values.append(str(span.status.description))
    assert not [v for v in values if KEY in v]


async def test_a_batch_is_one_span_and_each_item_a_linked_trace(fake_clock: FakeClock) -> None:
    _, client, exporter = make(fake_clock, retry=None, breaker=None)
    async with client, client.batch([IMAGE, IMAGE, b"not an image"], "tag", concurrency=2) as outcomes:
        items = [item async for item in outcomes]
    assert sum(item.error is None for item in items) == 2
    spans = exporter.get_finished_spans()
    (batch,) = [s for s in spans if s.name == "vision_async batch tag"]
    assert batch.attributes is not None
    assert batch.attributes["vision_async.batch.submitted"] == 3
    assert batch.attributes["vision_async.batch.done"] == 2
    assert batch.attributes["vision_async.batch.failed"] == 1
    calls = [s for s in spans if s.name == "vision_async tag"]
    assert len(calls) == 2  # the bad image is refused before the pipeline: no call span
    for call in calls:
        assert call.parent is None  # a trace of its own ...
        assert call.context.trace_id != batch.context.trace_id
        assert [link.context.span_id for link in call.links] == [batch.context.span_id]  # ... linked to the batch


def exported_values(exporter: InMemorySpanExporter) -> list[str]:
    values: list[str] = []
    for span in exporter.get_finished_spans():
        values.append(span.name)
        values.extend(f"{k}={v}" for k, v in (span.attributes or {}).items())
        for event in span.events:
            values.append(event.name)
            values.extend(f"{k}={v}" for k, v in (event.attributes or {}).items())
        values.append(str(span.status.description))
    return values


TOKEN = "bearer-t0ken-that-must-never-leak-42"
PROXY_PASSWORD = "pr0xy-passw0rd-never-leaks"


class Token:
    def __init__(self, token: str) -> None:
        self.token = token
        self.expires_on = int(time.time()) + 3600


class Credential:
    async def get_token(self, *scopes: str) -> Token:
        return Token(TOKEN)


async def test_no_bearer_token_in_any_exported_value(fake_clock: FakeClock) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    em = Emulator(clock=fake_clock.clock, sleep=fake_clock.sleep, ocr="off")
    em.set_faults("tag", rate_limit=1)
    client = VisionClient(
        "https://e.test",
        credential=Credential(),
        transport=EmulatorTransport(em),
        clock=fake_clock.clock,
        sleep=fake_clock.sleep,
        tracer_provider=provider,
    )
    async with client:
        await client.tag(IMAGE)
        await client.tag(IMAGE)
    values = exported_values(exporter)
    assert any("vision_async tag" in v for v in values)
    assert not [v for v in values if TOKEN in v]


async def test_no_proxy_password_in_any_exported_value() -> None:
    """Through a proxy (with a password) that refuses connections: the failure is exported, the password is not."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    transport = httpx.AsyncHTTPTransport(proxy=f"http://user:{PROXY_PASSWORD}@127.0.0.1:{port}")
    client = VisionClient(
        "https://e.test", KEY, transport=transport, retry=RetryPolicy(max_attempts=1), tracer_provider=provider
    )
    async with client:
        with pytest.raises(VisionError):
            await client.tag(IMAGE)
    values = exported_values(exporter)
    assert any(v.startswith("exception.message=") for v in values)  # the failure was exported
    assert not [v for v in values if PROXY_PASSWORD in v or KEY in v]


async def test_rate_limit_wait_is_an_event(fake_clock: FakeClock) -> None:
    _, client, exporter = make(fake_clock, rate_limit=RateLimit(per_second=1.0, burst=1))
    async with client:
        await client.tag(IMAGE)
        await client.tag(IMAGE)  # waits for its token
    calls = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.INTERNAL]
    waits = [e for s in calls for e in s.events if e.name == "vision_async.rate_limit_wait"]
    assert len(waits) == 1
    assert waits[0].attributes is not None and float(waits[0].attributes["vision_async.wait_s"]) > 0


async def test_stale_connection_resend_is_an_event(anyio_backend: str) -> None:
    """The default pool against a server closing every reused connection: the second call resends."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with hs.HostileServer(close_on_reuse()) as server:
        async with VisionClient(server.url, KEY, tracer_provider=provider) as client:
            await client.tag(IMAGE)
            await client.tag(IMAGE)
            assert client.stats().stale_resends == 1
    calls = sorted(
        (s for s in exporter.get_finished_spans() if s.kind is SpanKind.INTERNAL), key=lambda s: s.start_time or 0
    )
    assert [[e.name for e in s.events] for s in calls] == [[], ["vision_async.stale_resend"]]
