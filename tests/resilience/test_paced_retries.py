"""A 429 that says how long to wait is the server pacing the client, not a fault (issue 15's 429
storm): its retry is neither refused by the retry budget nor counted in it, while 429s without a
wait and 5xx stay under the budget. In virtual time, on asyncio and trio.
"""

from __future__ import annotations

import collections
from typing import Any

import anyio
import pytest

from tests.helpers import png_bytes
from vision_async import (
    InternalServerError,
    RateLimitError,
    RetryBudget,
    RetryPolicy,
    ServiceUnavailableError,
    VisionClient,
    VisionError,
)
from vision_async._core.call import Call, Response
from vision_async._core.call_layers import RetryLayer
from vision_async._resilience import retry_rules
from vision_async._resilience.budget import RetryBudgetTracker
from vision_async._resilience.retry import Retrier, paced_by_the_server
from vision_async._resilience.stats import Counters
from vision_async.emulator import Emulator, EmulatorTransport
from vision_async.testing import VirtualClock

pytestmark = pytest.mark.anyio

IMAGE = png_bytes(64, 64)


def test_paced_by_the_server_is_a_429_with_a_wait() -> None:
    assert paced_by_the_server(RateLimitError(429, "429", retry_after=1.0))
    assert paced_by_the_server(RateLimitError(429, "429", retry_after=0.0))
    assert not paced_by_the_server(RateLimitError(429, "429"))
    assert not paced_by_the_server(ServiceUnavailableError(503, "ServiceUnavailable", retry_after=5.0))
    assert not paced_by_the_server(InternalServerError(500, "InternalServerError"))


async def retry_once(failure: BaseException, budget: RetryBudgetTracker) -> tuple[int, int]:
    """One call whose first attempt fails with ``failure`` and whose second succeeds, at one
    moment of a fake clock; returns (attempts made, retries the retrier refused)."""
    attempts = [0]

    async def chain(call: Call) -> Response:
        attempts[0] += 1
        if attempts[0] == 1:
            raise failure
        return Response(200, {}, b"{}", "req")

    async def sleep(seconds: float) -> None:
        return None

    counters = Counters()
    retrier = Retrier(RetryPolicy(), clock=lambda: 5.0, sleep=sleep, budget=budget, counters=counters)
    try:
        await RetryLayer(retrier).wrap(chain)(Call("tag", "POST", "/vision/v3.2/tag", deadline=65.0))
    except VisionError as exc:
        assert exc is failure and attempts[0] == 1
    return attempts[0], counters.retries_refused


async def test_a_paced_429_does_not_spend_the_budget() -> None:
    budget = RetryBudgetTracker(RetryBudget())
    for _ in range(3):
        assert await retry_once(RateLimitError(429, "429", retry_after=1.0), budget) == (2, 0)
    assert budget.retries_allowed == 0
    assert budget.retries_refused == 0


@pytest.mark.parametrize(
    "failure",
    [RateLimitError(429, "429"), InternalServerError(500, "InternalServerError"), ServiceUnavailableError(503, "x")],
    ids=["429 without a wait", "500", "503"],
)
async def test_an_unpaced_429_or_a_5xx_spends_the_budget(failure: BaseException) -> None:
    budget = RetryBudgetTracker(RetryBudget())
    assert await retry_once(failure, budget) == (2, 0)
    assert budget.retries_allowed == 1


@pytest.mark.parametrize(
    "failure",
    [
        RateLimitError(429, "429", retry_after=1.0),
        RateLimitError(429, "429"),
        InternalServerError(500, "InternalServerError"),
    ],
    ids=["paced 429", "429 without a wait", "500"],
)
async def test_a_spent_budget_refuses_all_but_a_paced_429(failure: BaseException) -> None:
    budget = RetryBudgetTracker(RetryBudget(ratio=0.0, min_per_second=0.0))
    attempts, refused = await retry_once(failure, budget)
    if paced_by_the_server(failure):
        assert (attempts, refused, budget.retries_refused) == (2, 0, 0)
    else:
        assert (attempts, refused, budget.retries_refused) == (1, 1, 1)


async def storm(seconds: float = 15.0, *, limit: float = 40.0, in_flight: int = 64) -> dict[str, Any]:
    """``in_flight`` callers of the default client for ``seconds`` of virtual time against the
    emulator limited to ``limit`` tag calls a second (429 with ``Retry-After`` beyond it), as the
    scorecard's storm scenario."""
    vc = VirtualClock()
    emulator = Emulator(clock=vc.clock, sleep=vc.sleep, ocr="off")
    emulator.set_faults("tag", rate_limit=limit, latency=0.05)
    client = VisionClient(
        "https://e.test", "k", transport=EmulatorTransport(emulator), clock=vc.clock, sleep=vc.sleep, timeout=5.0
    )
    outcomes: collections.Counter[str] = collections.Counter()
    until = vc.now + seconds

    async def caller() -> None:
        while vc.now < until:
            try:
                await client.tag(IMAGE)
            except VisionError as exc:
                outcomes[type(exc).__name__] += 1
            else:
                outcomes["ok"] += 1

    async with vc.running(), client, anyio.create_task_group() as tg:
        for _ in range(in_flight):
            tg.start_soon(caller)
    calls = sum(outcomes.values())
    return {
        "calls": calls,
        "success": outcomes["ok"] / calls,
        "outcomes": outcomes,
        "refused": client.stats().retries_refused,
        "throttled": emulator.stats.answered[("tag", 429)],
        "sent": emulator.stats.received["tag"],
    }


async def test_a_429_storm_ends_in_success_when_paced_429s_bypass_the_budget() -> None:
    """Scorecard's storm, scaled down: a server limited to 40/s against 64 calls in flight."""
    result = await storm()
    assert result["calls"] >= 0.9 * 40 * 15  # the server's limit is used
    assert result["throttled"] > 0  # it was a storm
    assert result["success"] >= 0.995, result["outcomes"]
    assert result["refused"] == 0
    assert result["sent"] / result["calls"] <= 1.5  # no retry storm: the cool-down and the adaptive rate pace it


async def test_without_the_rule_the_budget_refuses_the_storms_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: with every 429 counted by the budget, its refusals fail calls."""
    monkeypatch.setattr(retry_rules, "paced_by_the_server", lambda exc: False)
    result = await storm()
    assert result["refused"] > 0
    assert result["success"] < 0.99, result["outcomes"]
    assert result["outcomes"]["RateLimitError"] == result["calls"] - result["outcomes"]["ok"]
