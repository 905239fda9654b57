"""`vision-async batch --redis URL --workers N`: the batch's client shares its quota through Redis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from tests.helpers import SAMPLES
from tests.helpers.redis_server import REDIS_SERVER, SKIP_REASON, RedisServer
from vision_async import cli

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason=SKIP_REASON)


def test_batch_books_its_tokens_in_redis(tmp_path: Path) -> None:
    """With --redis, every input is answered and the shared rate-limit state lives in that Redis."""
    out = tmp_path / "out.jsonl"
    with RedisServer() as server:
        code = cli.main(
            [
                "batch",
                str(SAMPLES),
                "-o",
                str(out),
                "--operation",
                "tag",
                "--rate",
                "50",
                "--redis",
                server.url,
                "--workers",
                "2",
                "--progress",
                "none",
            ]
        )
        keys = redis.Redis.from_url(server.url, decode_responses=True).keys("*")
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all("result" in row for row in rows)
    assert any(key.endswith(":gcra") for key in keys), keys  # the shared token schedule


def test_workers_without_redis_is_a_usage_error(tmp_path: Path) -> None:
    """--workers means nothing without --redis: exit code 2."""
    assert cli.main(["batch", str(SAMPLES), "-o", str(tmp_path / "o"), "--workers", "2", "--progress", "none"]) == 2
