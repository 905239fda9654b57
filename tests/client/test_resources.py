"""Several Azure resources behind one client: each its own quota, cool-down and breaker; calls go
where they can be taken now; a Read is polled where it was accepted. Virtual time."""

from __future__ import annotations

import anyio
import httpx
import pytest

from tests.helpers import png_bytes
from vision_async import (
    BreakerPolicy,
    BreakerState,
    CircuitOpenError,
    ConfigurationError,
    RateLimit,
    Resource,
    RetryPolicy,
    ServiceUnavailableError,
    VisionClient,
)
from vision_async.emulator import Emulator, EmulatorTransport
from vision_async.testing import VirtualClock, json_response

pytestmark = pytest.mark.anyio

URL = "https://example.com/cat.jpg"
TAGS = {"tags": [{"name": "cat", "confidence": 0.9}], "requestId": "r", "modelVersion": "2021-04-01"}
IMAGE = png_bytes(64, 64)
A = "https://a.cognitiveservices.azure.com"
B = "https://b.cognitiveservices.azure.com"


class Hosts(httpx.AsyncBaseTransport):
    """Answers per host; records (virtual time, host, path, key header) of every request."""

    def __init__(self, vc: VirtualClock, down: set[str] | None = None) -> None:
        self.vc = vc
        self.down = down or set()
        self.log: list[tuple[float, str, str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.log.append((self.vc.now, host, request.url.path, request.headers.get("ocp-apim-subscription-key", "")))
        await anyio.lowlevel.checkpoint()
        if host in self.down:
            return json_response(503, {"error": {"code": "ServiceUnavailable", "message": "down"}})
        if request.url.path.endswith("/read/analyze"):
            return httpx.Response(
                202, headers={"Operation-Location": f"https://{host}/vision/v3.2/read/analyzeResults/op-1"}
            )
        if "/read/analyzeResults/" in request.url.path:
            return json_response(
                200,
                {
                    "status": "succeeded",
                    "createdDateTime": "2021-04-08T00:00:00Z",
                    "lastUpdatedDateTime": "2021-04-08T00:00:01Z",
                    "analyzeResult": {"version": "3.2", "modelVersion": "2021-04-12", "readResults": []},
                },
            )
        return json_response(200, TAGS)

    def hosts(self) -> list[str]:
        return [h for _, h, _, _ in self.log]


def two_resources(vc: VirtualClock, transport: Hosts, **options: object) -> VisionClient:
    return VisionClient(
        resources=[
            Resource(A, "key-a", rate_limit=RateLimit(10.0, burst=1)),
            Resource(B, "key-b", rate_limit=RateLimit(10.0, burst=1)),
        ],
        transport=transport,
        clock=vc.clock,
        sleep=vc.sleep,
        **options,  # type: ignore[arg-type]
    )


async def run_calls(client: VisionClient, n: int, image: object = None) -> int:
    ok = 0

    async def one() -> None:
        nonlocal ok
        await client.tag(image if image is not None else URL)  # type: ignore[arg-type]
        ok += 1

    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(one)
    return ok


async def test_throughput_is_the_sum_of_the_quotas() -> None:
    """Two resources at 10/s each serve 200 calls in about 10 s, each with its own key."""
    vc = VirtualClock()
    transport = Hosts(vc)
    async with vc.running(), two_resources(vc, transport) as client:
        start = vc.now
        assert await run_calls(client, 200) == 200
        elapsed = vc.now - start
    assert 9.0 <= elapsed <= 10.5
    hosts = transport.hosts()
    assert abs(hosts.count("a.cognitiveservices.azure.com") - hosts.count("b.cognitiveservices.azure.com")) <= 2
    assert all(key == f"key-{host[0]}" for _, host, _, key in transport.log)
    stats = client.stats()
    assert [r.requests for r in stats.resources] == [100, 100]
    assert stats.allowed_rate == pytest.approx(20.0)


async def test_an_outage_on_one_resource_is_absorbed_by_the_other() -> None:
    """With resource A down, every call succeeds on B; A's breaker opens and A then gets no traffic."""
    vc = VirtualClock()
    transport = Hosts(vc, down={"a.cognitiveservices.azure.com"})
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0, budget=None)
    async with vc.running(), two_resources(vc, transport, retry=policy, breaker=BreakerPolicy(fail_max=3)) as client:
        assert await run_calls(client, 60) == 60
        stats = client.stats()
    assert stats.resources[0].breaker_state is BreakerState.OPEN
    assert stats.resources[1].breaker_state is BreakerState.CLOSED
    to_a = [t for t, host, _, _ in transport.log if host.startswith("a.")]
    assert len(to_a) <= 3 + 2  # the breaker's threshold, plus attempts already past it


async def test_a_retry_goes_to_another_resource() -> None:
    """The retry of an attempt that failed on A is sent to B."""
    vc = VirtualClock()
    transport = Hosts(vc, down={"a.cognitiveservices.azure.com"})
    policy = RetryPolicy(max_attempts=2, initial_backoff=0.0, max_backoff=0.0, budget=None)
    async with vc.running(), two_resources(vc, transport, retry=policy) as client:
        await client.tag(URL)
    assert transport.hosts() == ["a.cognitiveservices.azure.com", "b.cognitiveservices.azure.com"]


async def test_read_is_polled_on_the_resource_that_accepted_it() -> None:
    """A Read accepted by B is polled on B, even when A could take requests sooner."""
    vc = VirtualClock()
    transport = Hosts(vc)
    async with vc.running(), two_resources(vc, transport) as client:
        await client.tag(URL)  # A takes the first call; B's token is the sooner one now
        await client.read(URL)
    reads = [(host, path) for _, host, path, _ in transport.log if "/read/" in path]
    accepted_by = reads[0][0]
    assert all(host == accepted_by for host, _ in reads)
    assert len(reads) >= 2


async def test_resources_and_endpoint_are_exclusive() -> None:
    """resources= with endpoint/key is a ConfigurationError; so is an empty list or a duplicate."""
    with pytest.raises(ConfigurationError):
        VisionClient(A, "k", resources=[Resource(B, "k")])
    with pytest.raises(ConfigurationError):
        VisionClient(resources=[])
    with pytest.raises(ConfigurationError):
        VisionClient(resources=[Resource(A, "k"), Resource(A + "/", "k2")])


def test_resource_repr_hides_the_key() -> None:
    """A Resource's repr shows the endpoint, never the key."""
    assert "secret-key" not in repr(Resource(A, "secret-key")) and A in repr(Resource(A, "secret-key"))


async def test_results_and_errors_say_which_resource_answered() -> None:
    """A result names the resource that answered; with A down, an error names A and the result B."""
    vc = VirtualClock()
    transport = Hosts(vc, down={"a.cognitiveservices.azure.com"})
    async with vc.running(), two_resources(vc, transport, retry=None) as client:
        errors = []
        results = []
        for _ in range(4):
            try:
                results.append(await client.tag(URL))
            except Exception as exc:
                errors.append(exc)
    assert {r.resource for r in results} == {B}
    assert errors and {e.resource for e in errors} == {A}
    read = await VisionClient(A, "k", transport=Hosts(VirtualClock()), retry=None).read(URL)
    assert read.resource == A


class TwoEmulators(httpx.AsyncBaseTransport):
    """Two emulators as two Azure resources, told apart by host."""

    def __init__(self, a: Emulator, b: Emulator) -> None:
        self.by_host = {
            "a.cognitiveservices.azure.com": EmulatorTransport(a),
            "b.cognitiveservices.azure.com": EmulatorTransport(b),
        }

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.by_host[request.url.host].handle_async_request(request)


def emulators(vc: VirtualClock) -> tuple[Emulator, Emulator]:
    a = Emulator(clock=vc.clock, sleep=vc.sleep, ocr="off")
    b = Emulator(clock=vc.clock, sleep=vc.sleep, ocr="off")
    for em in (a, b):
        em.set_faults("tag", rate_limit=10)
    return a, b


async def test_two_emulators_give_the_sum_of_their_limits() -> None:
    """Two emulated resources that each take 10/s serve about 20/s together, with no 429."""
    vc = VirtualClock()
    a, b = emulators(vc)
    client = two_resources(vc, TwoEmulators(a, b))  # type: ignore[arg-type]
    done = 0
    stop_at = vc.now + 20.0

    async def worker() -> None:
        nonlocal done
        while vc.now < stop_at:
            await client.tag(IMAGE)
            done += 1

    async with vc.running(), client, anyio.create_task_group() as tg:
        for _ in range(32):
            tg.start_soon(worker)
    assert done >= 0.9 * 20 * 20
    for em in (a, b):
        assert em.stats.answered[("tag", 429)] == 0
        assert em.stats.answered[("tag", 200)] >= 0.9 * 10 * 20


async def test_with_one_emulator_in_an_outage_every_call_succeeds_on_the_other() -> None:
    """Resource A answers 503 to everything: all 100 calls still succeed, on B."""
    vc = VirtualClock()
    a, b = emulators(vc)
    a.set_faults("tag", rate_limit=10, p503=1.0)
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0)
    client = two_resources(vc, TwoEmulators(a, b), retry=policy)  # type: ignore[arg-type]
    async with vc.running(), client:
        assert await run_calls(client, 100, IMAGE) == 100
    assert b.stats.answered[("tag", 200)] == 100
    assert a.stats.answered[("tag", 503)] <= 10  # the breaker shut A off after a few


async def test_refused_by_every_breaker_the_wait_is_the_soonest_reopening() -> None:
    """Both resources' breakers open, A's closer to its probe than B's: a call refused by both says
    to wait for A (the soonest), not for whichever refused it last."""
    vc = VirtualClock()
    transport = Hosts(vc, down={"a.cognitiveservices.azure.com", "b.cognitiveservices.azure.com"})
    breaker = BreakerPolicy(fail_max=1, reset_timeout=30.0)
    async with vc.running(), two_resources(vc, transport, retry=None, breaker=breaker) as client:
        with pytest.raises(ServiceUnavailableError):  # the first resource answers 503: its breaker opens
            await client.tag(URL)
        await vc.sleep(20.0)
        with pytest.raises(ServiceUnavailableError):  # the other one answers 503, 20 s later
            await client.tag(URL)
        assert [r.breaker_state for r in client.stats().resources] == [BreakerState.OPEN, BreakerState.OPEN]
        with pytest.raises(CircuitOpenError) as refused:
            await client.tag(URL)
    assert refused.value.retry_after == pytest.approx(10.0, abs=0.5)  # the first to open reopens in ~10 s
