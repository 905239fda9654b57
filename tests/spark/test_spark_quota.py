"""One quota for the cluster: two Python workers (local[2], two partitions at once) against an
emulator that answers 429 past 11 requests a second."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.redis_server import answers, delete_prefix, unique_prefix
from tests.helpers.spark import against, image
from vision_async.emulator import EmulatorServer
from vision_async.spark import vision_transform

REDIS_URL = "redis://127.0.0.1:6379/0"
SERVER_LIMIT = 11.0
SHARED = 10.0
ROWS = 50


def _run(spark: Any, emulator: EmulatorServer, **quota: Any) -> list[Any]:
    emulator.emulator.set_faults("tag", rate_limit=SERVER_LIMIT)
    df = spark.createDataFrame([(f"r{i}", image(i)) for i in range(ROWS)], "path string, content binary").repartition(2)
    out = vision_transform(df, "tag", rate_limit=SHARED, concurrency=8, **against(emulator.url), **quota)
    rows: list[Any] = out.collect()
    return rows


def _check(rows: list[Any], emulator: EmulatorServer) -> None:
    stats = emulator.emulator.stats
    assert len(rows) == ROWS and all(r.error is None for r in rows)
    assert stats.answered.get(("tag", 429), 0) == 0  # never over the server's limit
    busiest = max(stats.timeline.values())
    assert busiest <= SERVER_LIMIT, dict(stats.timeline)
    seconds = [s for s, n in stats.timeline.items() if n]
    # and near the shared rate while both ran (the first and last seconds are partial)
    middle = [stats.timeline[s] for s in seconds[1:-1]]
    assert middle and sum(middle) / len(middle) >= 0.7 * SHARED, dict(stats.timeline)


@pytest.mark.skipif(not answers(REDIS_URL), reason=f"no Redis answers at {REDIS_URL} (.ci/run starts one)")
def test_two_workers_share_one_quota_through_redis(spark: Any, emulator: EmulatorServer) -> None:
    prefix = unique_prefix()
    try:
        rows = _run(spark, emulator, redis_url=REDIS_URL, redis_prefix=prefix)
    finally:
        delete_prefix(REDIS_URL, prefix)
    _check(rows, emulator)


def test_without_redis_each_worker_takes_its_share(spark: Any, emulator: EmulatorServer) -> None:
    """workers= left out: the job's parallelism (2 here), so each worker sends at 5/s."""
    _check(_run(spark, emulator), emulator)
