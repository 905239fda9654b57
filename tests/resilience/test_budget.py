"""Retry budget: retries capped at a share of recent calls plus a floor, over a sliding window."""

from __future__ import annotations

import dataclasses
import math

import pytest

from vision_async._errors import InvalidInputError
from vision_async._resilience.budget import (
    DEFAULT_MIN_PER_SECOND,
    DEFAULT_RATIO,
    DEFAULT_WINDOW,
    RetryBudget,
    RetryBudgetTracker,
)


def test_defaults_are_the_named_constants() -> None:
    """RetryBudget() is 20% of calls plus 1 retry per second, over 10 seconds."""
    budget = RetryBudget()
    assert (budget.ratio, budget.min_per_second, budget.window) == (0.2, 1.0, 10.0)
    assert (DEFAULT_RATIO, DEFAULT_MIN_PER_SECOND, DEFAULT_WINDOW) == (0.2, 1.0, 10.0)


def test_settings_are_frozen_and_keyword_only() -> None:
    """RetryBudget cannot be changed and takes keywords only."""
    budget = RetryBudget(ratio=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        budget.ratio = 0.1  # type: ignore[misc]
    with pytest.raises(TypeError):
        RetryBudget(0.5)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "options",
    [
        {"ratio": -0.1},
        {"ratio": math.nan},
        {"ratio": math.inf},
        {"ratio": "0.2"},
        {"min_per_second": -1},
        {"min_per_second": True},
        {"window": 0},
        {"window": -3.0},
        {"window": math.inf},
    ],
)
def test_rejects_bad_settings(options: dict[str, object]) -> None:
    """Negative, non-finite or non-numeric settings are typed input errors."""
    with pytest.raises(InvalidInputError):
        RetryBudget(**options)  # type: ignore[arg-type]


def test_zero_budget_refuses_every_retry() -> None:
    """ratio=0 and min_per_second=0 allow no retry at all."""
    tracker = RetryBudgetTracker(RetryBudget(ratio=0.0, min_per_second=0.0))
    for i in range(100):
        tracker.record_request(i * 0.01)
    assert not tracker.try_spend_retry(1.0)
    assert tracker.retries_refused == 1 and tracker.retries_allowed == 0


def test_full_outage_caps_retries() -> None:
    """Every call fails and wants 3 retries: retries stay within 20% of calls plus the floor,
    in every window, and the rest are refused."""
    tracker = RetryBudgetTracker()
    spent: list[float] = []
    calls: list[float] = []
    for i in range(20 * 60):  # 20 calls per second for a minute
        now = i / 20
        tracker.record_request(now)
        calls.append(now)
        for _ in range(3):
            if tracker.try_spend_retry(now):
                spent.append(now)
            else:
                break
    assert tracker.requests == 1200
    assert tracker.retries_allowed == len(spent)
    assert tracker.retries_refused > 1000
    for start in range(0, 51):
        in_window = [t for t in spent if start <= t < start + 10]
        calls_in_window = [t for t in calls if start - 1 < t < start + 10]  # bucket slack: 1 s
        assert len(in_window) <= 0.2 * len(calls_in_window) + 10
    # The long-run share: 20% of calls plus the floor (1 per second), far below 3 per call.
    assert len(spent) <= 0.2 * 1200 + 60 + 10


def test_healthy_stream_allows_its_retries() -> None:
    """With 5% of calls failing once, every retry is allowed."""
    tracker = RetryBudgetTracker()
    for i in range(20 * 60):
        now = i / 20
        tracker.record_request(now)
        if i % 20 == 7:
            assert tracker.try_spend_retry(now + 0.3)
    assert tracker.retries_refused == 0 and tracker.retries_allowed == 60


def test_quiet_client_still_retries_on_the_floor() -> None:
    """A client with almost no traffic gets min_per_second * window retries per window."""
    tracker = RetryBudgetTracker()
    assert tracker.available(0.0) == 10.0
    assert all(tracker.try_spend_retry(0.5) for _ in range(10))
    assert not tracker.try_spend_retry(0.5)
    assert tracker.available(0.5) == 0.0


def test_window_slides() -> None:
    """Retries and calls older than the window stop counting."""
    tracker = RetryBudgetTracker(RetryBudget(ratio=0.5, min_per_second=0.2, window=10.0))
    for _ in range(20):
        tracker.record_request(0.2)
    assert tracker.available(0.3) == pytest.approx(0.5 * 20 + 2)
    assert sum(tracker.try_spend_retry(1.0) for _ in range(15)) == 12
    assert not tracker.try_spend_retry(9.9)  # still within the window
    assert tracker.available(10.5) == 0.0  # the calls of 0.2 aged out, the 12 retries of 1.0 not yet
    assert tracker.available(11.5) == pytest.approx(2.0)  # the retries of 1.0 too
    assert tracker.try_spend_retry(11.5)


def test_partial_slide_keeps_recent_buckets() -> None:
    """Moving a few seconds keeps what is still inside the window."""
    tracker = RetryBudgetTracker(RetryBudget(ratio=1.0, min_per_second=0.0, window=5.0))
    for second in range(5):
        tracker.record_request(second + 0.5)
    assert tracker.available(4.9) == pytest.approx(5.0)
    assert tracker.available(6.2) == pytest.approx(3.0)  # seconds 0 and 1 aged out
    assert tracker.available(100.0) == 0.0


def test_clock_stepping_back_counts_in_the_newest_bucket() -> None:
    """A clock that goes backwards does not corrupt the counts."""
    tracker = RetryBudgetTracker(RetryBudget(ratio=1.0, min_per_second=0.0, window=3.0))
    tracker.record_request(10.0)
    tracker.record_request(5.0)
    assert tracker.available(10.0) == 2.0
    assert tracker.try_spend_retry(4.0) and tracker.try_spend_retry(10.0)
    assert not tracker.try_spend_retry(10.0)


def test_fractional_and_long_windows() -> None:
    """Windows below a second and beyond 60 seconds still slide correctly."""
    short = RetryBudgetTracker(RetryBudget(ratio=1.0, min_per_second=0.0, window=0.5))
    short.record_request(1.0)
    assert short.available(1.2) == 1.0 and short.available(1.6) == 0.0
    long = RetryBudgetTracker(RetryBudget(ratio=1.0, min_per_second=0.0, window=300.0))
    long.record_request(0.0)
    assert long.available(250.0) == 1.0 and long.available(310.0) == 0.0
