"""The Python worker's side of vision_transform, without a JVM: Spark's Arrow batches in, rows out."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")

from tests.helpers.spark import arrow_batches, config_for  # noqa: E402
from vision_async.emulator import EmulatorServer  # noqa: E402
from vision_async.spark import _worker  # noqa: E402
from vision_async.spark._worker import CLIENTS_KEPT, HELD_BATCHES, Runtime  # noqa: E402


class Pulled:
    """Spark's input iterator, counting the batches pulled from it."""

    def __init__(self, batches: list[Any]) -> None:
        self._it = iter(batches)
        self.pulled = 0
        self.lock = threading.Lock()

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        batch = next(self._it)
        with self.lock:
            self.pulled += 1
        return batch


def test_rows_come_back_in_order_in_prefixes_with_two_batches_held(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_worker, "FLUSH_ROWS", 4)  # finished prefixes go back before the batch is done
    emulator.emulator.set_faults("tag", p_slow=0.3, slow_latency=0.05)
    sizes = [10, 3, 0, 7, 12, 1]
    source = Pulled(arrow_batches(sizes))
    out_rows: list[str] = []
    held: list[int] = []
    for out in Runtime.get().run(config_for(emulator.url), source):
        assert out.schema.names == ["path", "content", "result", "error", "attempts", "elapsed"]
        assert 0 < out.num_rows <= 12
        out_rows += out.column("path").to_pylist()
        # batches pulled, less those whose every row has gone back: never more than HELD_BATCHES
        finished = sum(1 for i in range(len(sizes)) if sum(sizes[: i + 1]) <= len(out_rows))
        held.append(source.pulled - finished)
        assert all(json.loads(r)["tags"] for r in out.column("result").to_pylist())
    assert out_rows == [f"img-{i:04d}" for i in range(sum(sizes))]
    assert max(held) <= HELD_BATCHES


def test_one_client_per_transform_reused_across_partitions(emulator: EmulatorServer) -> None:
    runtime = Runtime.get()
    config = config_for(emulator.url)
    first = runtime.client(config)
    for start in (0, 5):
        rows = [r for b in runtime.run(config, iter(arrow_batches([5], start))) for r in b.column("error").to_pylist()]
        assert rows == [None] * 5
    assert runtime.client(config) is first and not first.closed
    others = [config_for(emulator.url) for _ in range(CLIENTS_KEPT)]
    for other in others:
        assert runtime.client(other) is not first
    assert first.closed  # the least recently used client is closed when one more is made
    assert not runtime.client(others[-1]).closed


def test_spark_stopping_early_ends_the_calls_in_flight(emulator: EmulatorServer) -> None:
    """A limit() downstream closes the generator: rows still in flight are cancelled, not waited for,
    and the worker's client goes on serving the next partition."""
    config = config_for(emulator.url, client_options={"allow_insecure_http": True, "timeout": 600})
    runtime = Runtime.get()
    first, second = arrow_batches([2, 3])
    release = threading.Event()

    def source() -> Iterator[Any]:
        yield first
        release.wait(10)
        yield second

    rows = runtime.run(config, source())
    assert next(rows).num_rows == 2
    emulator.emulator.set_faults("tag", p_hang=1.0)  # the next rows hang for as long as the client waits
    release.set()
    stats = emulator.emulator.stats
    for _ in range(500):
        if stats.received["tag"] >= 5:
            break
        threading.Event().wait(0.01)
    assert stats.received["tag"] == 5
    assert runtime.client(config).stats().in_flight == 3
    closed = threading.Event()
    closer = threading.Thread(target=lambda: (rows.close(), closed.set()), daemon=True)
    closer.start()
    assert closed.wait(10)  # not the 600 s the hung calls would have waited
    assert runtime.client(config).stats().in_flight == 0  # ended, not left running
    emulator.emulator.faults.clear()
    again = list(runtime.run(config, iter(arrow_batches([2]))))
    assert [r for b in again for r in b.column("error").to_pylist()] == [None, None]
