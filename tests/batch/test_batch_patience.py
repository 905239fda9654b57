"""client.batch's patience: an input turned away for now (throttled past its retries, refused by an
open circuit breaker) waits as it was told and runs again, for at most ``patience`` seconds of
waiting in all. An outage or a quota storm pauses the batch instead of failing inputs. Virtual time."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest

from tests.helpers import png_bytes
from vision_async import (
    BadRequestError,
    BreakerPolicy,
    CircuitOpenError,
    InternalServerError,
    InvalidInputError,
    RateLimitError,
    RetryPolicy,
    ServiceUnavailableError,
    VisionClient,
    cli,
)
from vision_async.batch import DEFAULT_PATIENCE, Batch, turned_away_for
from vision_async.cli import _batch as _cli_batch
from vision_async.testing import VirtualClock, json_response

pytestmark = pytest.mark.anyio

TAGS = {"tags": [{"name": "cat", "confidence": 0.9}], "requestId": "r", "modelVersion": "2021-04-01"}
UNAVAILABLE = {"error": {"code": "ServiceUnavailable", "message": "down"}}


class Outage(httpx.AsyncBaseTransport):
    """503 while the virtual clock is before ``until``, 200 after; records when requests came."""

    def __init__(self, vc: VirtualClock, until: float) -> None:
        self.vc = vc
        self.until = until
        self.times: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.times.append(self.vc.now)
        await self.vc.sleep(0.05)
        return json_response(
            503 if self.vc.now < self.until else 200, UNAVAILABLE if self.vc.now < self.until else TAGS
        )


def client_for(vc: VirtualClock, transport: httpx.AsyncBaseTransport, *, throttling: bool = False) -> VisionClient:
    """A client in virtual time: with a breaker that opens after two failures and no retries, or
    (``throttling``) with no breaker and two attempts per call (no retry budget, no adaptive rate)."""
    options: dict[str, Any] = (
        {"retry": RetryPolicy(max_attempts=2, total_timeout=None, budget=None), "breaker": None, "adaptive": False}
        if throttling
        else {"retry": None, "breaker": BreakerPolicy(fail_max=2, reset_timeout=30.0)}
    )
    return VisionClient("https://unit.example.com", "k", transport=transport, clock=vc.clock, sleep=vc.sleep, **options)


async def run(client: VisionClient, inputs: list[Any], **options: Any) -> list[Any]:
    async with client.batch(inputs, "tag", concurrency=4, **options) as outcomes:
        return sorted([item async for item in outcomes], key=lambda item: item.index)


URLS = [f"https://example.com/{i}.jpg" for i in range(20)]


async def test_an_outage_shorter_than_patience_pauses_the_batch() -> None:
    """The breaker opens after two 503s; the other inputs wait for it instead of failing, the two
    that got a 503 go back in line, and all succeed once the service is back."""
    vc = VirtualClock()
    transport = Outage(vc, until=vc.now + 20.0)
    async with vc.running(), client_for(vc, transport) as client:
        start = vc.now
        items = await run(client, URLS)
    assert len(items) == 20
    assert [item.ok for item in items] == [True] * 20
    sent_in_outage = sum(1 for t in transport.times if t < transport.until)
    assert 2 <= sent_in_outage <= 4 + 1  # the first wave, then nothing while the breaker was open
    assert vc.now - start >= 30.0  # the others waited out the breaker's 30 s
    assert len(transport.times) == 20 + sent_in_outage  # a refusal by the breaker sends nothing


async def test_patience_zero_keeps_the_fail_at_once_behaviour() -> None:
    vc = VirtualClock()
    transport = Outage(vc, until=vc.now + 20.0)
    async with vc.running(), client_for(vc, transport) as client:
        start = vc.now
        items = await run(client, URLS, patience=0)
    refused = [item for item in items if isinstance(item.error, CircuitOpenError)]
    assert len(refused) == 20 - len(transport.times) >= 10
    assert vc.now - start < 1.0  # refused at once, without waiting


async def test_an_outage_longer_than_patience_ends_the_waiting_inputs_with_circuit_open() -> None:
    """A service that stays down: every input ends, each waited at most patience for the breaker."""
    vc = VirtualClock()
    transport = Outage(vc, until=float("inf"))
    async with vc.running(), client_for(vc, transport) as client:
        start = vc.now
        items = await run(client, URLS, patience=60.0)
    assert len(items) == 20 and not any(item.ok for item in items)
    kinds = {type(item.error) for item in items}
    assert kinds == {ServiceUnavailableError, CircuitOpenError}
    assert all(item.attempts == 1 for item in items if isinstance(item.error, ServiceUnavailableError))
    # Each input waits at most 60 s and only the four in flight at a time wait, so the batch ends
    # within 20 / 4 rounds of 60 s; what it sends is the first wave (before the breaker opened)
    # and then one probe each time the breaker lets one through (every 30 s).
    assert vc.now - start <= 5 * 60.0 + 5.0
    first_wave = sum(1 for t in transport.times if t - start < 1.0)
    assert first_wave <= 4 + 1
    assert len(transport.times) - first_wave <= (vc.now - start) / 30.0 + 1


async def test_an_input_read_from_a_file_object_is_not_waited_for() -> None:
    """A file object may have been read by the refused call: it ends with CircuitOpenError at once."""
    vc = VirtualClock()
    transport = Outage(vc, until=float("inf"))
    async with vc.running(), client_for(vc, transport) as client:
        await run(client, URLS[:2], patience=0)  # two 503s: the breaker is open now
        start = vc.now
        (item,) = await run(client, [io.BytesIO(png_bytes(64, 64))])
    assert isinstance(item.error, CircuitOpenError) and vc.now == start


@pytest.mark.parametrize("value", [-1, "60", True, float("nan")])
async def test_bad_patience_is_refused(value: Any) -> None:
    async with VisionClient("https://unit.example.com", "k", transport=httpx.MockTransport(lambda r: None)) as client:  # type: ignore[arg-type, return-value]
        with pytest.raises(InvalidInputError, match="patience"):
            Batch(client, URLS, "tag", patience=value)


def test_the_cli_takes_patience_and_refuses_a_negative_one(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["batch", "x", "-o", "y"]).patience == DEFAULT_PATIENCE
    assert parser.parse_args(["batch", "x", "-o", "y", "--patience", "0"]).patience == 0.0
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["batch", "x", "-o", "y", "--patience", "-5"])
    assert exit_info.value.code == 2 and "seconds >= 0" in capsys.readouterr().err
    assert VisionClient.batch.__kwdefaults__["patience"] == _cli_batch.DEFAULT_PATIENCE


class Quota(httpx.AsyncBaseTransport):
    """A quota storm: 429 (Retry-After: 2) for the first ``storm`` requests, then 200."""

    def __init__(self, vc: VirtualClock, storm: int) -> None:
        self.vc = vc
        self.storm = storm
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.vc.sleep(0.05)
        status = 429 if len(self.statuses) < self.storm else 200
        self.statuses.append(status)
        if status == 429:
            return json_response(429, {"error": {"code": "429", "message": "slow down"}}, headers={"Retry-After": "2"})
        return json_response(200, TAGS)


async def test_inputs_throttled_past_their_retries_run_again_and_none_fails() -> None:
    """40 429s for 20 inputs with two attempts each: every call's retries end in 429 at first,
    yet every input ends with its result, after waiting what the server asked."""
    vc = VirtualClock()
    transport = Quota(vc, storm=40)
    async with vc.running(), client_for(vc, transport, throttling=True) as client:
        items = await run(client, URLS)
    assert [item.ok for item in items] == [True] * 20
    assert transport.statuses.count(429) == 40 and transport.statuses.count(200) == 20
    assert sum(item.attempts for item in items) == 60  # every request sent is counted, once


async def test_patience_zero_lets_throttled_inputs_fail_as_before() -> None:
    vc = VirtualClock()
    transport = Quota(vc, storm=40)
    async with vc.running(), client_for(vc, transport, throttling=True) as client:
        items = await run(client, URLS, patience=0)
    failed = [item for item in items if not item.ok]
    assert failed and all(isinstance(item.error, RateLimitError) for item in failed)


def test_only_not_now_errors_are_waited_for() -> None:
    """Throttling, refusals and transient faults are waited for (as long as they say); permanent
    errors are not."""
    from vision_async import (
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        CooldownTimeout,
        InternalServerError,
        NotFoundError,
        RateLimitTimeout,
    )

    assert turned_away_for(CircuitOpenError("open", retry_after=12.5)) == 12.5
    assert turned_away_for(CircuitOpenError("probe out", retry_after=0.0)) == 0.5
    assert turned_away_for(RateLimitError(429, retry_after=3.0)) == 3.0
    assert turned_away_for(RateLimitError(429)) == 1.0
    assert turned_away_for(RateLimitTimeout("token", wait=7.0)) == 7.0
    assert turned_away_for(CooldownTimeout("cool-down")) == 1.0
    assert turned_away_for(ServiceUnavailableError(503, retry_after=5.0)) == 5.0
    assert turned_away_for(InternalServerError(500)) == 1.0
    assert turned_away_for(APITimeoutError("slow")) == 1.0
    assert turned_away_for(APIConnectionError("reset")) == 1.0
    assert turned_away_for(APIStatusError(408)) == 1.0
    assert turned_away_for(BadRequestError(400)) is None
    assert turned_away_for(NotFoundError(404)) is None
    assert turned_away_for(InvalidInputError("bad image")) is None


class Flaky(httpx.AsyncBaseTransport):
    """Every request with an odd number fails: 500, 503, a dropped connection in turn; a request
    for a ``/bad`` image answers 400 (permanent)."""

    def __init__(self, vc: VirtualClock) -> None:
        self.vc = vc
        self.count = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.vc.sleep(0.05)
        self.count += 1
        if b"/bad" in request.content:
            return json_response(400, {"error": {"code": "InvalidImageUrl", "message": "bad"}})
        if self.count % 2:
            kind = (self.count // 2) % 3
            if kind == 2:
                raise httpx.ReadError("connection dropped")
            return json_response(500 if kind == 0 else 503, UNAVAILABLE)
        return json_response(200, TAGS)


def flaky_client(vc: VirtualClock, transport: httpx.AsyncBaseTransport) -> VisionClient:
    """One attempt per call and no breaker: every transient fault ends a call."""
    return VisionClient(
        "https://unit.example.com", "k", transport=transport, clock=vc.clock, sleep=vc.sleep, retry=None, breaker=None
    )


async def test_inputs_whose_calls_ended_with_transient_faults_go_back_in_line_and_all_succeed() -> None:
    vc = VirtualClock()
    transport = Flaky(vc)
    async with vc.running(), flaky_client(vc, transport) as client:
        items = await run(client, URLS)
    assert [item.ok for item in items] == [True] * 20
    assert transport.count > 20  # some calls failed and were run again


async def test_a_permanent_error_ends_its_input_at_once() -> None:
    vc = VirtualClock()
    transport = Flaky(vc)
    urls = [*URLS[:5], "https://example.com/bad.jpg"]
    async with vc.running(), flaky_client(vc, transport) as client:
        items = await run(client, urls)
    assert [item.ok for item in items] == [True] * 5 + [False]
    assert isinstance(items[5].error, BadRequestError)
    assert items[5].attempts == 1


class Down(httpx.AsyncBaseTransport):
    def __init__(self, vc: VirtualClock) -> None:
        self.vc = vc
        self.count = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.vc.sleep(0.05)
        self.count += 1
        return json_response(500, UNAVAILABLE)


async def test_spent_patience_ends_inputs_with_their_transient_error() -> None:
    vc = VirtualClock()
    transport = Down(vc)
    async with vc.running(), flaky_client(vc, transport) as client:
        items = await run(client, URLS[:4], patience=3.0)
    assert all(isinstance(item.error, InternalServerError) for item in items)
    # 1 s between runs, at most 3 s of waiting: four calls per input, then the error.
    assert transport.count == 4 * 4
