"""Policies: safe defaults, and impossible settings refused at construction."""

from __future__ import annotations

import pytest

from tests.helpers import ENDPOINT, KEY, fixture_body
from vision_async import (
    BreakerPolicy,
    ImageLimits,
    InvalidInputError,
    RetryPolicy,
    ServiceUnavailableError,
    TagResult,
    VisionClient,
)
from vision_async.testing import FakeClock, ScriptedTransport, json_response


def test_defaults_are_the_documented_ones() -> None:
    """The defaults match the README's tables."""
    assert RetryPolicy() == RetryPolicy(
        max_attempts=4, initial_backoff=0.5, max_backoff=8.0, total_timeout=60.0, max_retry_after=60.0
    )
    assert BreakerPolicy() == BreakerPolicy(
        fail_max=5,
        reset_timeout=5.0,
        max_reset_timeout=30.0,
        failure_ratio=0.5,
        minimum_throughput=20,
        sampling_window=1.0,
    )
    assert ImageLimits() == ImageLimits(max_image_bytes=4 * 1024 * 1024, max_read_bytes=500 * 1024 * 1024)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_attempts": 2.5},
        {"max_attempts": True},
        {"initial_backoff": -1},
        {"max_backoff": float("nan")},
        {"max_retry_after": -0.1},
        {"total_timeout": 0},
    ],
)
def test_retry_policy_refuses_impossible_settings(kwargs: dict[str, object]) -> None:
    """A RetryPolicy that cannot work is refused with InvalidInputError."""
    with pytest.raises(InvalidInputError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"fail_max": 0}, {"fail_max": "5"}, {"reset_timeout": -1}])
def test_breaker_policy_refuses_impossible_settings(kwargs: dict[str, object]) -> None:
    """A BreakerPolicy that cannot work is refused."""
    with pytest.raises(InvalidInputError):
        BreakerPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"max_image_bytes": 0}, {"max_read_bytes": -5}, {"max_read_bytes": 1.5}])
def test_image_limits_refuse_impossible_settings(kwargs: dict[str, object]) -> None:
    """Limits must be positive integers."""
    with pytest.raises(InvalidInputError):
        ImageLimits(**kwargs)  # type: ignore[arg-type]


def _unavailable_for(seconds: int) -> ScriptedTransport:
    """Three 503s that each ask for a long wait, then a success."""
    busy = json_response(503, {"error": {"code": "ServiceUnavailable", "message": "busy"}},
                         headers={"Retry-After": str(seconds)})  # fmt: skip
    return ScriptedTransport(busy, busy, busy, json_response(200, fixture_body("tag_image")))


@pytest.mark.anyio
async def test_total_timeout_none_means_no_deadline() -> None:
    """total_timeout=None: retries go on for as long as the attempts allow, however long the waits add up to.

    The same script under a 60 s deadline gives up after the first answer (its wait would pass
    the deadline), so the difference is the deadline and nothing else.
    """
    waits = 1000  # seconds per Retry-After: 3000 s of (fake) waiting in all
    results: dict[float | None, TagResult | ServiceUnavailableError] = {}
    for total_timeout in (None, 60.0):
        clock = FakeClock()
        transport = _unavailable_for(waits)
        policy = RetryPolicy(max_attempts=4, max_retry_after=waits, total_timeout=total_timeout)
        async with VisionClient(
            ENDPOINT, KEY, transport=transport, retry=policy, breaker=None, clock=clock.clock, sleep=clock.sleep
        ) as client:
            try:
                results[total_timeout] = await client.tag("https://example.com/a.jpg")
            except ServiceUnavailableError as exc:
                results[total_timeout] = exc
        if total_timeout is None:
            assert transport.count == 4
            assert clock.now - 1000.0 >= 3 * waits  # the whole wait really elapsed, on the fake clock
    assert isinstance(results[None], TagResult)
    assert isinstance(results[60.0], ServiceUnavailableError)
