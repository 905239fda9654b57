"""client.batch and an open circuit breaker: an outage pauses the batch instead of failing every
remaining input in a moment; an input waits at most ``breaker_wait`` seconds in all. Virtual time."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest

from vision_async import (
    BreakerPolicy,
    CircuitOpenError,
    InvalidInputError,
    ServiceUnavailableError,
    VisionClient,
    _cli_batch,
    cli,
)
from vision_async.batch import DEFAULT_BREAKER_WAIT, Batch
from vision_async.testing import VirtualClock, json_response

from .conftest import png_bytes

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


def client_for(vc: VirtualClock, transport: httpx.AsyncBaseTransport) -> VisionClient:
    return VisionClient(
        "https://unit.example.com",
        "k",
        transport=transport,
        clock=vc.clock,
        sleep=vc.sleep,
        retry=None,
        breaker=BreakerPolicy(fail_max=2, reset_timeout=30.0),
    )


async def run(client: VisionClient, inputs: list[Any], **options: Any) -> list[Any]:
    async with client.batch(inputs, "tag", concurrency=4, **options) as outcomes:
        return sorted([item async for item in outcomes], key=lambda item: item.index)


URLS = [f"https://example.com/{i}.jpg" for i in range(20)]


async def test_an_outage_shorter_than_breaker_wait_pauses_the_batch() -> None:
    """The breaker opens after two 503s; the other inputs wait for it instead of failing, and
    succeed once the service is back: only the two that really got a 503 failed."""
    vc = VirtualClock()
    transport = Outage(vc, until=vc.now + 20.0)
    async with vc.running(), client_for(vc, transport) as client:
        start = vc.now
        items = await run(client, URLS)
    assert len(items) == 20
    failed = [item for item in items if not item.ok]
    assert all(isinstance(item.error, ServiceUnavailableError) for item in failed)  # none refused
    assert len(failed) == sum(1 for t in transport.times if t < transport.until) >= 2  # only those sent in the outage
    assert vc.now - start >= 30.0  # the others waited out the breaker's 30 s
    assert len(transport.times) == 20  # one request per input: nothing was sent while it was open
    assert all(item.attempts == 1 for item in items)  # a refusal by the breaker sends nothing


async def test_breaker_wait_zero_keeps_the_fail_at_once_behaviour() -> None:
    vc = VirtualClock()
    transport = Outage(vc, until=vc.now + 20.0)
    async with vc.running(), client_for(vc, transport) as client:
        start = vc.now
        items = await run(client, URLS, breaker_wait=0)
    refused = [item for item in items if isinstance(item.error, CircuitOpenError)]
    assert len(refused) == 20 - len(transport.times) >= 10
    assert vc.now - start < 1.0  # refused at once, without waiting


async def test_an_outage_longer_than_breaker_wait_ends_the_waiting_inputs_with_circuit_open() -> None:
    """A service that stays down: every input ends, each waited at most breaker_wait for the breaker."""
    vc = VirtualClock()
    transport = Outage(vc, until=float("inf"))
    async with vc.running(), client_for(vc, transport) as client:
        start = vc.now
        items = await run(client, URLS, breaker_wait=60.0)
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
        await run(client, URLS[:2], breaker_wait=0)  # two 503s: the breaker is open now
        start = vc.now
        (item,) = await run(client, [io.BytesIO(png_bytes(64, 64))])
    assert isinstance(item.error, CircuitOpenError) and vc.now == start


@pytest.mark.parametrize("value", [-1, "60", True, float("nan")])
async def test_bad_breaker_wait_is_refused(value: Any) -> None:
    async with VisionClient("https://unit.example.com", "k", transport=httpx.MockTransport(lambda r: None)) as client:  # type: ignore[arg-type, return-value]
        with pytest.raises(InvalidInputError, match="breaker_wait"):
            Batch(client, URLS, "tag", breaker_wait=value)


def test_the_cli_takes_breaker_wait_and_refuses_a_negative_one(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["batch", "x", "-o", "y"]).breaker_wait == DEFAULT_BREAKER_WAIT
    assert parser.parse_args(["batch", "x", "-o", "y", "--breaker-wait", "0"]).breaker_wait == 0.0
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["batch", "x", "-o", "y", "--breaker-wait", "-5"])
    assert exit_info.value.code == 2 and "seconds >= 0" in capsys.readouterr().err
    assert VisionClient.batch.__kwdefaults__["breaker_wait"] == _cli_batch.DEFAULT_BREAKER_WAIT
