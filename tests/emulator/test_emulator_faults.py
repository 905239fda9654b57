"""Fault injection: rate limits, error probabilities, latency, hangs, drops, outages, counters."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import png_bytes
from vision_async import (
    APIConnectionError,
    APITimeoutError,
    BreakerPolicy,
    CircuitOpenError,
    InternalServerError,
    RateLimitError,
    RetryPolicy,
    ServiceUnavailableError,
    VisionClient,
)
from vision_async.emulator import Emulator, EmulatorTransport, FaultConfig
from vision_async.emulator._faults import TokenBucket
from vision_async.testing import FakeClock

pytestmark = pytest.mark.anyio

IMAGE = png_bytes(64, 64)


def make(clock: FakeClock, **client_options: object) -> tuple[Emulator, VisionClient]:
    em = Emulator(clock=clock.clock, sleep=clock.sleep, ocr="off")
    client = VisionClient(
        "https://e.test", "k", transport=EmulatorTransport(em), clock=clock.clock, sleep=clock.sleep, **client_options
    )  # type: ignore[arg-type]
    return em, client


async def test_rate_limit_answers_429_with_retry_after(fake_clock: FakeClock) -> None:
    """Above the rate, the emulator answers 429 with Retry-After and Azure's message."""
    em, client = make(fake_clock, retry=None)
    em.set_faults("tag", rate_limit=2)
    async with client:
        await client.tag(IMAGE)
        await client.tag(IMAGE)
        with pytest.raises(RateLimitError) as info:
            await client.tag(IMAGE)
    assert info.value.retry_after == 1.0
    assert "exceeded rate limit" in info.value.message
    assert em.stats.answered[("tag", 429)] == 1


async def test_client_retries_through_the_rate_limit(fake_clock: FakeClock) -> None:
    """With retries on (and the adaptive limiter off), a burst over the rate limit completes by waiting as told."""
    em, client = make(fake_clock, adaptive=False)
    em.set_faults("*", rate_limit=1)
    async with client:
        for _ in range(4):
            await client.tag(IMAGE)
    assert em.stats.answered[("tag", 200)] == 4
    assert em.stats.answered[("tag", 429)] == 3
    assert fake_clock.sleeps == [1.0, 1.0, 1.0]


def test_token_bucket_refills_with_time() -> None:
    """The bucket grants `rate` requests per second and says how long to wait."""
    clock = FakeClock()
    bucket = TokenBucket(2.0, clock.clock)
    assert [bucket.take() for _ in range(2)] == [0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)
    clock.advance(0.5)
    assert bucket.take() == 0.0


@pytest.mark.parametrize(
    ("setting", "error"), [("p500", InternalServerError), ("p503", ServiceUnavailableError), ("p429", RateLimitError)]
)
async def test_error_probabilities(fake_clock: FakeClock, setting: str, error: type[Exception]) -> None:
    """A probability of 1 always answers with that status."""
    em, client = make(fake_clock, retry=None, breaker=None)
    em.set_faults("*", **{setting: 1.0})
    async with client:
        with pytest.raises(error):
            await client.tag(IMAGE)


async def test_probabilities_are_seeded_and_roughly_right(fake_clock: FakeClock) -> None:
    """With p500=0.3 about 30% of 400 requests fail, the same way for the same seed."""

    async def run() -> int:
        em, client = make(fake_clock, retry=None, breaker=None)
        em.set_faults("models", p500=0.3)
        failures = 0
        async with client:
            for _ in range(400):
                try:
                    await client.list_models()
                except InternalServerError:
                    failures += 1
        return failures

    first, second = await run(), await run()
    assert first == second
    assert 80 <= first <= 160


async def test_latency_is_added_with_the_injected_sleep(fake_clock: FakeClock) -> None:
    """latency= sleeps (on the emulator's sleep) before answering."""
    em, client = make(fake_clock)
    em.set_faults("models", latency=0.75)
    async with client:
        await client.list_models()
    assert fake_clock.sleeps == [0.75]


async def test_hang_makes_the_client_time_out() -> None:
    """A hung response never answers; the client's attempt timeout fires."""
    em = Emulator(ocr="off")
    em.set_faults("tag", p_hang=1.0)
    async with VisionClient("https://e.test", "k", transport=EmulatorTransport(em), timeout=0.05, retry=None) as client:
        with pytest.raises(APITimeoutError):
            await client.tag(IMAGE)


async def test_dropped_connection_is_a_connection_error(fake_clock: FakeClock) -> None:
    """A connection dropped mid-body is an APIConnectionError, retried like one."""
    em, client = make(fake_clock, retry=RetryPolicy(max_attempts=2), breaker=None)
    em.set_faults("tag", p_drop=1.0)
    async with client:
        with pytest.raises(APIConnectionError) as info:
            await client.tag(IMAGE)
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)
    assert em.stats.received["tag"] == 2


async def test_outage_window_then_recovery(fake_clock: FakeClock) -> None:
    """During the outage every request gets 503; afterwards the service answers again."""
    em, client = make(fake_clock, retry=None, breaker=None)
    em.set_faults("*", outage=(0.0, 10.0))
    async with client:
        with pytest.raises(ServiceUnavailableError):
            await client.tag(IMAGE)
        fake_clock.advance(10.0)
        assert (await client.tag(IMAGE)).tags


async def test_breaker_sends_nothing_while_open(fake_clock: FakeClock) -> None:
    """The emulator's counters prove the client sent nothing while its breaker was open."""
    em, client = make(fake_clock, retry=None, breaker=BreakerPolicy(fail_max=3, reset_timeout=30))
    em.set_faults("*", p500=1.0)
    async with client:
        for _ in range(3):
            with pytest.raises(InternalServerError):
                await client.tag(IMAGE)
        for _ in range(20):
            with pytest.raises(CircuitOpenError):
                await client.tag(IMAGE)
        assert em.stats.total() == 3
        em.faults.clear()
        fake_clock.advance(31)
        await client.tag(IMAGE)
    assert em.stats.total() == 4


def test_fault_config_is_validated() -> None:
    """Impossible settings are refused with a clear message."""
    with pytest.raises(ValueError, match="probability"):
        FaultConfig(p500=1.5)
    with pytest.raises(ValueError, match="exceed 1"):
        FaultConfig(p500=0.6, p503=0.6)
    with pytest.raises(ValueError, match="rate_limit"):
        FaultConfig(rate_limit=0)
    with pytest.raises(ValueError, match="unknown fault settings"):
        FaultConfig.from_mapping({"p404": 1})
    with pytest.raises(ValueError, match="unknown route"):
        Emulator(ocr="off").set_faults("nowhere", p500=1)


async def test_admin_routes_configure_and_report() -> None:
    """/_emulator/faults sets faults at run time; /_emulator/stats counts; /_emulator/reset clears."""
    em = Emulator(ocr="off")
    async with httpx.AsyncClient(transport=EmulatorTransport(em), base_url="https://e.test") as raw:
        r = await raw.post("/_emulator/faults", json={"route": "models", "p503": 1.0})
        assert r.status_code == 200 and r.json()["p503"] == 1.0
        assert (await raw.get("/vision/v3.2/models", headers={"Ocp-Apim-Subscription-Key": "k"})).status_code == 503
        stats = (await raw.get("/_emulator/stats")).json()
        assert stats["received"] == {"models": 1} and stats["answered"] == {"models 503": 1}
        assert stats["faults"]["models"]["p503"] == 1.0
        assert (await raw.post("/_emulator/faults", json={"p999": 1})).status_code == 400
        assert (await raw.post("/_emulator/reset")).status_code == 200
        assert (await raw.get("/_emulator/stats")).json()["total"] == 0


async def test_latency_spikes_slow_a_share_of_answers(fake_clock: FakeClock) -> None:
    """p_slow= makes that share of answers wait slow_latency instead of latency."""
    em, client = make(fake_clock, retry=None, breaker=None)
    em.set_faults("models", latency=0.1, p_slow=0.1, slow_latency=1.0)
    async with client:
        for _ in range(400):
            await client.list_models()
    slow = fake_clock.sleeps.count(1.0)
    assert fake_clock.sleeps.count(0.1) + slow == 400
    assert 20 <= slow <= 65


async def test_latency_spikes_always_when_p_slow_is_one(fake_clock: FakeClock) -> None:
    """p_slow=1 slows every answer; p_slow=0 (the default) none."""
    em, client = make(fake_clock, retry=None, breaker=None)
    em.set_faults("models", p_slow=1.0, slow_latency=2.5)
    async with client:
        await client.list_models()
        em.set_faults("models", slow_latency=2.5)
        await client.list_models()
    assert fake_clock.sleeps == [2.5]


async def test_hang_every_drips_one_hung_request_per_interval(fake_clock: FakeClock) -> None:
    """hang_every= hangs the first request after each interval, and only that one."""
    em = Emulator(clock=fake_clock.clock, sleep=fake_clock.sleep, ocr="off")
    em.set_faults("tag", hang_every=10.0)
    async with VisionClient(
        "https://e.test", "k", transport=EmulatorTransport(em), timeout=0.05, retry=None, breaker=None
    ) as client:
        for _ in range(3):
            assert (await client.tag(IMAGE)).tags  # before the first interval passes
        fake_clock.advance(10.0)
        with pytest.raises(APITimeoutError):
            await client.tag(IMAGE)
        assert (await client.tag(IMAGE)).tags  # the drip is one request per interval
        fake_clock.advance(10.0)
        with pytest.raises(APITimeoutError):
            await client.tag(IMAGE)
    assert em.stats.answered[("tag", 200)] == 4


def test_new_fault_settings_are_validated() -> None:
    """p_slow is a probability; slow_latency and hang_every must be positive."""
    with pytest.raises(ValueError, match="probability"):
        FaultConfig(p_slow=2)
    with pytest.raises(ValueError, match="slow_latency"):
        FaultConfig(slow_latency=-1)
    with pytest.raises(ValueError, match="hang_every"):
        FaultConfig(hang_every=0)


async def test_timeline_counts_requests_per_second(fake_clock: FakeClock) -> None:
    """Requests are counted per second of the emulator's clock, so a window (an outage) can be measured."""
    em, client = make(fake_clock, retry=None, breaker=None)
    em.set_faults("*", outage=(5.0, 10.0))
    async with client:
        await client.tag(IMAGE)
        fake_clock.advance(5.5)
        assert em.faults.elapsed() == pytest.approx(5.5)
        for _ in range(3):
            with pytest.raises(ServiceUnavailableError):
                await client.tag(IMAGE)
        fake_clock.advance(5.0)
        await client.tag(IMAGE)
    assert em.stats.timeline == {0: 1, 5: 3, 10: 1}
    assert em.stats.received_between(5.0, 10.0) == 3
    assert em.stats.snapshot()["timeline"] == {"0": 1, "5": 3, "10": 1}


async def test_admin_stats_report_the_clock_and_timeline() -> None:
    """GET /_emulator/stats says where the emulator's clock is, so a remote caller can place an outage."""
    clock = FakeClock()
    em = Emulator(clock=clock.clock, sleep=clock.sleep, ocr="off")
    async with httpx.AsyncClient(transport=EmulatorTransport(em), base_url="https://e.test") as raw:
        clock.advance(7.25)
        await raw.get("/vision/v3.2/models", headers={"Ocp-Apim-Subscription-Key": "k"})
        stats = (await raw.get("/_emulator/stats")).json()
    assert stats["elapsed"] == pytest.approx(7.25)
    assert stats["timeline"] == {"7": 1}


async def test_a_client_that_disconnects_while_its_body_is_read_is_not_an_emulator_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The client gave up (its attempt timed out) before the body arrived: nothing to answer, and
    no traceback in the emulator's log as if it had a bug."""
    em = Emulator(key=None)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/computervision/imageanalysis:analyze",
        "query_string": b"api-version=2023-10-01&features=tags",
        "headers": [(b"content-type", b"application/octet-stream"), (b"ocp-apim-subscription-key", b"k")],
    }
    with caplog.at_level("ERROR", logger="vision_async.emulator"):
        await em(scope, receive, send)  # type: ignore[arg-type]
    assert sent == []
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
