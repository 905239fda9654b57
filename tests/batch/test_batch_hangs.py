"""A hung attempt does not hold a batch: inside a batch, an attempt that runs far past the recent
successful ones is abandoned (HungAttemptTimeout) and retried long before the attempt timeout.
Virtual time: the transport below honours each request's timeout on the virtual clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import ENDPOINT, KEY, fixture_body, png_bytes
from vision_async import APITimeoutError, BreakerPolicy, BreakerState, BreakerStateChange, VisionClient
from vision_async._defaults import HUNG_FLOOR, HUNG_MIN_SAMPLES, TIMEOUT
from vision_async._resilience.breaker import counts_as_failure
from vision_async._resilience.latency import HungAttempts, HungAttemptTimeout
from vision_async._transports.base import OutgoingRequest, RawResponse, ResponseHeaders, TransportStats
from vision_async.testing import VirtualClock

pytestmark = pytest.mark.anyio

BODY = json.dumps(fixture_body("tag_image")).encode()
IMAGE = png_bytes()
HEADERS = ResponseHeaders([("content-type", "application/json"), ("apim-request-id", "r")])


class VirtualTransport:
    """Answers in 50 ms of virtual time, except the requests ``hangs(n)`` picks (n counts requests
    from 0), which never answer: they end when their timeout runs out on the virtual clock, as a
    real transport's deadline would. ``slow(n)`` gives a request's answer time instead of 50 ms."""

    def __init__(
        self,
        vc: VirtualClock,
        hangs: Callable[[int], bool] = lambda n: False,
        slow: Callable[[int], float | None] = lambda n: None,
    ) -> None:
        self.vc = vc
        self.hangs = hangs
        self.slow = slow
        self.timeouts: list[float | None] = []  # each request's timeout, in order

    async def send(self, request: OutgoingRequest) -> RawResponse:
        n = len(self.timeouts)
        self.timeouts.append(request.timeout)
        takes = float("inf") if self.hangs(n) else (self.slow(n) or 0.05)
        if request.timeout is not None and takes > request.timeout:
            await self.vc.sleep(request.timeout)
            raise APITimeoutError(f"{request.what}: no complete answer within {request.timeout}s")
        await self.vc.sleep(takes)
        return RawResponse(200, "OK", HEADERS, BODY)

    async def aclose(self) -> None:
        return None

    def stats(self) -> TransportStats:
        return TransportStats(0, 0, 0, 0)


def client_for(vc: VirtualClock, transport: VirtualTransport, **options: Any) -> VisionClient:
    return VisionClient(ENDPOINT, KEY, transport=transport, clock=vc.clock, sleep=vc.sleep, **options)


async def run_batch(client: VisionClient, vc: VirtualClock, n: int, concurrency: int = 4) -> tuple[list[Any], float]:
    """The batch's items, and how long it took in virtual seconds."""
    async with vc.running(), client, client.batch([IMAGE] * n, "tag", concurrency=concurrency) as outcomes:
        started = vc.now
        items = [item async for item in outcomes]
        return items, vc.now - started


async def test_a_hang_among_fast_answers_is_cut_off_and_retried_long_before_the_attempt_timeout() -> None:
    """Request 100 hangs after some 96 answers: its attempt is cut at the floor (2 s), the retry
    answers, and the item ends within seconds instead of after the 30 s attempt timeout."""
    vc = VirtualClock()
    transport = VirtualTransport(vc, hangs=lambda n: n == 100)
    items, seconds = await run_batch(client_for(vc, transport), vc, 200)
    assert all(item.ok for item in items) and len(items) == 200
    assert transport.timeouts[100] == HUNG_FLOOR  # fast answers: the floor is the cut-off
    assert sorted(item.attempts for item in items)[-2:] == [1, 2]
    assert seconds < TIMEOUT / 3  # 200 answers of 50 ms, 4 at a time, and one cut-off of 2 s


async def test_the_cut_off_waits_for_enough_successful_attempts() -> None:
    """A batch too small to gather HUNG_MIN_SAMPLES successes never cuts: its hang waits the attempt timeout."""
    vc = VirtualClock()
    transport = VirtualTransport(vc, hangs=lambda n: n == 5)
    items, seconds = await run_batch(client_for(vc, transport), vc, HUNG_MIN_SAMPLES - 4)
    assert all(item.ok for item in items)
    assert transport.timeouts[5] == TIMEOUT
    assert seconds >= TIMEOUT


async def test_a_hang_among_the_first_attempts_is_cut_once_enough_attempts_succeeded() -> None:
    """Request 5 hangs before any cut-off is known; it is cut once HUNG_MIN_SAMPLES answers give one."""
    vc = VirtualClock()
    transport = VirtualTransport(vc, hangs=lambda n: n == 5)
    items, seconds = await run_batch(client_for(vc, transport), vc, 200)
    assert all(item.ok for item in items)
    assert transport.timeouts[5] == TIMEOUT  # sent with the whole attempt timeout, and watched
    assert sorted(item.attempts for item in items)[-2:] == [1, 2]
    assert seconds < TIMEOUT / 3


async def test_calls_outside_a_batch_are_never_cut_off() -> None:
    """After a batch filled the samples, a web-handler-style call that hangs waits its whole timeout."""
    vc = VirtualClock()
    transport = VirtualTransport(vc, hangs=lambda n: n == 100)
    client = client_for(vc, transport)
    async with vc.running(), client:
        async with client.batch([IMAGE] * 100, "tag", concurrency=4) as outcomes:
            assert all([item.ok async for item in outcomes])
        started = vc.now
        await client.tag(IMAGE)  # request 100 hangs: timed out after 30 s, then retried
        assert vc.now - started >= TIMEOUT
    assert transport.timeouts[100] == TIMEOUT


async def test_an_item_that_truly_takes_long_gets_twice_the_time_after_each_cut() -> None:
    """An image that takes 5 s on every attempt, after fast ones: cut at 2 s, then 4 s, then given 8 s: done."""
    vc = VirtualClock()
    transport = VirtualTransport(vc, slow=lambda n: 5.0 if n >= 100 else None)
    client = client_for(vc, transport)
    async with vc.running(), client:
        async with client.batch([IMAGE] * 100, "tag", concurrency=4) as outcomes:
            assert all([item.ok async for item in outcomes])
        async with client.batch([IMAGE], "tag") as outcomes:  # its requests are the only ones from 100 on
            (item,) = [item async for item in outcomes]
    assert item.ok and item.attempts == 3
    assert transport.timeouts[100:] == [HUNG_FLOOR, 2 * HUNG_FLOOR, 4 * HUNG_FLOOR]


async def test_cut_offs_do_not_open_the_breaker() -> None:
    """Hung attempts cut off in a batch are not failures: a breaker that opens on one failure stays closed."""
    vc = VirtualClock()
    transport = VirtualTransport(vc, hangs=lambda n: n >= 100 and n % 20 == 0)
    changes: list[BreakerStateChange] = []
    client = client_for(vc, transport, breaker=BreakerPolicy(fail_max=1), on_breaker_state_change=changes.append)
    items, _ = await run_batch(client, vc, 300)
    assert all(item.ok for item in items)
    assert sum(item.attempts - 1 for item in items) >= 5  # the cut attempts were retried
    assert [t for t in transport.timeouts[100:] if t == TIMEOUT] == []  # every hang was cut
    assert changes == [] and client.breaker_state is BreakerState.CLOSED


def test_the_breaker_does_not_count_a_hung_attempt_timeout() -> None:
    """HungAttemptTimeout is a timeout (retried as one) that the breaker does not count."""
    error = HungAttemptTimeout("cut")
    assert isinstance(error, APITimeoutError)
    assert not counts_as_failure(error) and counts_as_failure(APITimeoutError("timed out"))


def test_hung_attempts_needs_enough_samples_and_recent_ones() -> None:
    """No cut-off before min_samples successes, nor once the last success is older than ``fresh``;
    then max(floor, factor x the quantile) of the recent samples."""
    hung = HungAttempts(floor=2.0, factor=4.0, quantile=0.99, samples=100, min_samples=10, fresh=10.0, refresh=1)
    for i in range(9):
        hung.record(0.1, now=float(i))
        assert hung.cutoff(float(i)) is None
    hung.record(0.1, now=9.0)
    assert hung.cutoff(9.0) == 2.0  # 4 x 0.1 is below the floor
    for i in range(10, 100):
        hung.record(1.0, now=float(i))
    assert hung.cutoff(99.0) == 4.0  # 4 x the p99 of 90 samples of 1 s and 10 of 0.1 s
    assert hung.cutoff(109.0) == 4.0
    assert hung.cutoff(109.5) is None  # no success for more than 10 s: no recent latency to compare with
