"""Shared fixtures: both async backends, a fake clock, sample images, fixture bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import ENDPOINT, KEY
from vision_async import BreakerPolicy, RetryPolicy, VisionClient
from vision_async.testing import FakeClock, ScriptedTransport


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(fake_clock: FakeClock) -> Callable[..., VisionClient]:
    """A client on a ScriptedTransport with the fake clock; options override the defaults."""

    def make(transport: ScriptedTransport, **options: Any) -> VisionClient:
        options.setdefault("retry", RetryPolicy(max_attempts=4))
        options.setdefault("breaker", BreakerPolicy(fail_max=5, reset_timeout=30.0))
        return VisionClient(
            ENDPOINT, KEY, transport=transport, clock=fake_clock.clock, sleep=fake_clock.sleep, **options
        )

    return make


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the combinations that cannot exist (aiohttp runs on asyncio only) instead of skipping
    them: a parametrized test names its backend and transport, and never reports a skip for a
    pairing that was never meant to run. (aiohttp under trio is tested to fail cleanly elsewhere.)"""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        impossible = params.get("anyio_backend") == "trio" and "aiohttp" in (
            params.get("transport"),
            params.get("kind"),
        )
        (drop if impossible else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
