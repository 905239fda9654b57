"""Policies: safe defaults, and impossible settings refused at construction."""

from __future__ import annotations

import pytest

from vision_async import BreakerPolicy, ImageLimits, InvalidInputError, RetryPolicy


def test_defaults_are_the_documented_ones() -> None:
    """The defaults match the README's tables."""
    assert RetryPolicy() == RetryPolicy(
        max_attempts=4, initial_backoff=0.5, max_backoff=8.0, total_timeout=60.0, max_retry_after=60.0
    )
    assert BreakerPolicy() == BreakerPolicy(fail_max=5, reset_timeout=30.0)
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


def test_total_timeout_none_means_no_deadline() -> None:
    """total_timeout=None is allowed: no total deadline."""
    assert RetryPolicy(total_timeout=None).total_timeout is None
