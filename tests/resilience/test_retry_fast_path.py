"""The retry layer's fast path (the first attempt made before tenacity's loop is built) behaves as
the plain loop (tenacity running every attempt): the same attempts, waits, hook events, counters,
budget spend, log lines and final exception, scenario by scenario. Both run through
:class:`RetryLayer` over a scripted chain, with ``fast_path=True`` and ``fast_path=False``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from vision_async import (
    APIConnectionError,
    BadRequestError,
    CircuitOpenError,
    InternalServerError,
    RateLimitError,
    RetryBudget,
    RetryEvent,
    RetryPolicy,
    ServiceUnavailableError,
)
from vision_async._core.call import Call, Response
from vision_async._core.call_layers import RetryLayer
from vision_async._errors import RateLimitTimeout
from vision_async._resilience.budget import RetryBudgetTracker
from vision_async._resilience.retry import Retrier
from vision_async._resilience.stats import Counters

pytestmark = pytest.mark.anyio

OK = "ok"


def e500() -> BaseException:
    return InternalServerError(500, "InternalServerError", message="boom")


def e503() -> BaseException:
    return ServiceUnavailableError(503, "ServiceUnavailable", message="down")


def paced(seconds: float) -> Callable[[], BaseException]:
    return lambda: RateLimitError(429, "429", message="Rate limit is exceeded.", retry_after=seconds)


def e429() -> BaseException:
    return RateLimitError(429, "429", message="Rate limit is exceeded.")


def dropped() -> BaseException:
    return APIConnectionError("connection dropped")


def e400() -> BaseException:
    return BadRequestError(400, "InvalidRequest", message="bad image")


def circuit_open() -> BaseException:
    return CircuitOpenError("the circuit is open", retry_after=3.0)


def no_token() -> BaseException:
    return RateLimitTimeout("no token before the deadline", wait=9.0)


def bug() -> BaseException:
    return RuntimeError("a bug below the retry layer")


Step = Any  # OK, a factory of an exception, or (seconds the attempt takes, OK or factory)


@dataclass
class Scenario:
    script: list[Step]
    policy: dict[str, Any] = field(default_factory=dict)
    budget: RetryBudget | None = None  # None: no budget
    hook_raises: bool = False


SPENT = RetryBudget(ratio=0.0, min_per_second=0.0, window=10.0)
ONE_LEFT = RetryBudget(ratio=0.0, min_per_second=0.1, window=10.0)  # a floor of one retry per window

SCENARIOS = {
    "success at once": Scenario([OK]),
    "500 then success": Scenario([e500, OK], budget=RetryBudget()),
    "two 503 then success": Scenario([e503, e503, OK], budget=RetryBudget()),
    "attempts exhausted": Scenario([e500, e503, e500, e500], budget=RetryBudget()),
    "max_attempts=1": Scenario([e500], policy={"max_attempts": 1}, budget=RetryBudget()),
    "429 with Retry-After then success": Scenario([paced(2.0), OK], budget=RetryBudget()),
    "429 without a wait then success": Scenario([e429, OK], budget=RetryBudget()),
    "server wait above max_retry_after": Scenario([paced(120.0), OK], policy={"max_retry_after": 30.0}),
    "server wait past the deadline": Scenario([(8.0, paced(3.0)), OK], policy={"total_timeout": 10.0}),
    "backoff past the deadline": Scenario(
        [dropped] * 10, policy={"max_attempts": 10, "initial_backoff": 4.0, "max_backoff": 4.0, "total_timeout": 10.0}
    ),
    "400 is not retried": Scenario([e400, OK], budget=RetryBudget()),
    "open circuit is not retried": Scenario([circuit_open, OK]),
    "rate-limit timeout is not retried": Scenario([no_token, OK]),
    "a bug is not retried": Scenario([bug, OK]),
    "budget spent: 500 refused": Scenario([e500, OK], budget=SPENT),
    "budget spent: unpaced 429 refused": Scenario([e429, OK], budget=SPENT),
    "budget spent: paced 429 retried": Scenario([paced(1.0), paced(1.0), OK], budget=SPENT),
    "budget spent: connection error refused": Scenario([dropped, OK], budget=SPENT),
    "budget spent, max_attempts=1": Scenario([e500, OK], policy={"max_attempts": 1}, budget=SPENT),
    "budget spent, server wait above max_retry_after": Scenario(
        [lambda: ServiceUnavailableError(503, "ServiceUnavailable", retry_after=120.0), OK],
        policy={"max_retry_after": 30.0},
        budget=SPENT,
    ),
    "budget spent, backoff past the deadline": Scenario(
        [(9.8, e500), OK], policy={"total_timeout": 10.0}, budget=SPENT
    ),
    "budget spent, longest backoff past the deadline": Scenario(
        [(9.6, e500), OK], policy={"total_timeout": 10.0}, budget=SPENT
    ),
    "one retry left": Scenario([e500, e500, OK], budget=ONE_LEFT),
    "paced 429s do not use the last retry": Scenario([paced(1.0), e503, paced(0.5), OK], budget=ONE_LEFT),
    "a bug after a retry": Scenario([dropped, bug, OK]),
    "no budget, connection errors": Scenario([dropped, dropped, OK]),
    "a hook that raises": Scenario([e500, paced(1.0), OK], hook_raises=True),
    "slow attempts": Scenario([(2.0, e500), (3.0, e503), (1.0, OK)], policy={"total_timeout": 60.0}),
}


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The hook's repr names its address, which differs between the two runs.
        self.lines.append((record.name, record.levelno, re.sub(r"0x[0-9a-f]+", "0x", record.getMessage())))


def describe(exc: BaseException | None) -> tuple[str, str, Any] | None:
    if exc is None:
        return None
    return (type(exc).__name__, str(exc), getattr(exc, "retry_after", None))


async def run(scenario: Scenario, *, fast_path: bool) -> dict[str, Any]:
    now = [100.0]
    waits: list[float] = []
    attempts: list[float] = []
    events: list[tuple[Any, ...]] = []
    raised: list[BaseException] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    def hook(event: RetryEvent) -> None:
        events.append((event.operation, event.attempt, event.wait, describe(event.error), event.retry_after))
        if scenario.hook_raises:
            raise RuntimeError("hook bug")

    async def chain(call: Call) -> Response:
        step = scenario.script[len(attempts)]
        attempts.append(now[0])
        if isinstance(step, tuple):
            seconds, step = step
            now[0] += seconds
        if step == OK:
            return Response(200, {}, b"{}", "req")
        exc = step()
        raised.append(exc)
        raise exc

    budget = RetryBudgetTracker(scenario.budget) if scenario.budget is not None else None
    counters = Counters()
    retrier = Retrier(
        RetryPolicy(**{"budget": scenario.budget, **scenario.policy}),
        clock=lambda: now[0],
        sleep=sleep,
        rand=lambda: 0.5,
        on_retry=hook,
        budget=budget,
        counters=counters,
    )
    handler = RetryLayer(retrier, fast_path=fast_path).wrap(chain)
    total = retrier.policy.total_timeout
    call = Call("tag", "POST", "/vision/v3.2/tag", deadline=now[0] + total if total is not None else None)
    lines = Lines()
    logger = logging.getLogger("vision_async")
    level = logger.level
    logger.addHandler(lines)
    logger.setLevel(logging.DEBUG)
    outcome: Any
    try:
        response = await handler(call)
        outcome = ("returned", response.status_code)
    except Exception as exc:  # the final exception is what is compared
        assert exc is raised[-1]  # the last attempt's own exception, not a copy or a wrapper
        outcome = ("raised", describe(exc))
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
    return {
        "attempts": attempts,
        "waits": waits,
        "events": events,
        "retries": counters.retries,
        "retries_refused": counters.retries_refused,
        "budget": (budget.requests, budget.retries_allowed, budget.retries_refused) if budget is not None else None,
        "logs": lines.lines,
        "outcome": outcome,
    }


@pytest.mark.parametrize("name", SCENARIOS)
async def test_the_fast_path_behaves_as_the_plain_loop(name: str) -> None:
    scenario = SCENARIOS[name]
    fast = await run(scenario, fast_path=True)
    plain = await run(scenario, fast_path=False)
    assert fast == plain
    assert len(fast["attempts"]) >= 1


async def test_the_scenarios_reach_every_way_a_call_ends() -> None:
    """The comparison above is only as good as its scenarios: together they succeed after
    retries, refuse on each stop rule, pass a paced 429 through a spent budget, and raise at
    once what is never retried."""
    results = {name: await run(scenario, fast_path=False) for name, scenario in SCENARIOS.items()}
    reasons = " ".join(message for result in results.values() for _, _, message in result["logs"])
    for reason in ("attempts exhausted", "above max_retry_after", "pass the total deadline", "retry budget is spent"):
        assert reason in reasons

    def reasons_of(name: str) -> str:
        return " ".join(message for _, _, message in results[name]["logs"])

    # Where the budget is spent but another stop rule comes first, that rule's reason is given.
    assert "max_retry_after" in reasons_of("budget spent, server wait above max_retry_after")
    assert "attempts exhausted" in reasons_of("budget spent, max_attempts=1")
    assert "total deadline" in reasons_of("budget spent, backoff past the deadline")
    assert "retry budget" in reasons_of("budget spent, longest backoff past the deadline")
    assert results["budget spent: paced 429 retried"]["outcome"] == ("returned", 200)
    assert results["budget spent: paced 429 retried"]["budget"] == (1, 0, 0)
    assert results["paced 429s do not use the last retry"]["outcome"] == ("returned", 200)
    assert results["one retry left"]["outcome"][0] == "raised"
    assert results["a bug is not retried"]["outcome"] == (
        "raised",
        ("RuntimeError", "a bug below the retry layer", None),
    )
    assert len(results["open circuit is not retried"]["attempts"]) == 1
    assert results["a hook that raises"]["retries"] == 2
