"""Worker processes sharing one Azure resource through Redis, against the emulator served on loopback.

Each worker is a separate Python process (``tests/helpers/redis_server.py``) with its own
VisionClient and RedisCoordination; the send times they report are on ``time.monotonic``, one
clock for every process of the machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.helpers.redis_server import (
    REDIS_SERVER,
    SKIP_REASON,
    RedisServer,
    Workers,
    answers,
    delete_prefix,
    most_in_one_second,
    unique_prefix,
)
from vision_async.emulator import Emulator, EmulatorServer

SHARED_URL = "redis://127.0.0.1:6379/0"
pytestmark = pytest.mark.skipif(REDIS_SERVER is None and not answers(SHARED_URL), reason=SKIP_REASON)

RATE = 20.0


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """The emulator on loopback, with its own limit slightly above the workers' shared one."""
    emulator = Emulator()
    emulator.set_faults("*", rate_limit=RATE * 1.1)
    with EmulatorServer(emulator) as server:
        yield server


def test_eight_worker_processes_keep_one_shared_limit(emulator: EmulatorServer) -> None:
    """8 processes sharing 20/s never send more than 21 in any one second together, and see no 429."""
    with RedisServer() if not answers(SHARED_URL) else _Shared() as redis_server:
        prefix = unique_prefix()
        try:
            workers = Workers(8, emulator.url, redis_server.url, prefix, 3.0, RATE, 8)
            reports = workers.reports()
        finally:
            delete_prefix(redis_server.url, prefix)
    sends = [t for report in reports for t in report["sends"]]
    assert [r["errors"] for r in reports] == [[]] * 8
    assert sum(r["throttled"] for r in reports) == 0
    assert emulator.emulator.stats.snapshot()["answered"].get("tag 429", 0) == 0
    assert most_in_one_second(sends) <= RATE * 1.05, (most_in_one_second(sends), len(sends))
    span = max(sends) - min(sends)
    assert len(sends) >= 0.9 * RATE * span, (len(sends), span)  # they did push at the limit
    assert all(r["describe"] == "redis" for r in reports)


def test_redis_stopped_mid_run_fails_nothing_and_the_workers_rejoin(emulator: EmulatorServer) -> None:
    """Redis killed after 0.8 s and back 0.8 s later: no call fails, no 429, the limit holds (each
    worker took 1/4 of the rate meanwhile), and every worker reconnects and books from Redis again."""
    with RedisServer() as redis_server:
        prefix = unique_prefix()
        workers = Workers(4, emulator.url, redis_server.url, prefix, 3.0, RATE, 4)
        workers.go()
        time.sleep(0.8)
        redis_server.stop()
        time.sleep(0.8)
        redis_server.start()
        reports = workers.reports()
    assert [r["errors"] for r in reports] == [[]] * 4
    assert sum(r["throttled"] for r in reports) == 0
    assert [r["outages"] for r in reports] == [1] * 4
    assert [r["reconnects"] for r in reports] == [1] * 4
    assert all(r["describe"] == "redis" for r in reports)
    # Switching to local state and back keeps the schedule (each worker knows it is one of 4).
    sends = sorted(t for report in reports for t in report["sends"])
    assert most_in_one_second(sends) <= RATE * 1.05


class _Shared:
    """The machine's Redis at 6379, as a context manager like RedisServer (never stopped)."""

    url = SHARED_URL

    def __enter__(self) -> _Shared:
        return self

    def __exit__(self, *exc: object) -> None:
        return None
