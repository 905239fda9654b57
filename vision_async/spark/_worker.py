"""Inside a Spark task: the function ``mapInArrow`` runs, one event loop and client per Python worker.

Spark calls :class:`Transform` once per partition, in the main thread of a Python worker process
that it reuses for the next partitions (``spark.python.worker.reuse``, on by default). The worker
keeps one event loop in a daemon thread (:class:`Runtime`, made on first use) and, on it, one
client per transform: its connections, its rate limit and its breaker last across partitions.

Per partition, on the loop: a feeder pulls Spark's Arrow batches (in a worker thread, as the
read blocks on the JVM's socket) and hands their rows to ``client.batch``; outcomes are written
into their batch's row as they come, in any order; one emitter sends each batch's finished
prefix back to Spark's thread, in the input's order. At most :data:`HELD_BATCHES` input batches
are held, and ``concurrency`` rows (and their image bytes) in flight.
"""

from __future__ import annotations

import atexit
import collections
import concurrent.futures
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from anyio.from_thread import BlockingPortal
from anyio.streams.memory import MemoryObjectSendStream

from .._records import ERROR_FIELDS, error_record, jsonable, result_record

if TYPE_CHECKING:
    import pyarrow as pa

    from ..batch import BatchItem
    from ._config import Config

__all__ = ["FLUSH_ROWS", "HELD_BATCHES", "Runtime", "Transform"]

logger = logging.getLogger("vision_async.spark")

#: Input batches held at most (the one being fed and the ones whose rows are still in flight).
HELD_BATCHES = 2
#: Finished rows of a batch sent back to Spark before the whole batch is done.
FLUSH_ROWS = 512
#: Clients a worker keeps (one per transform it ran); the least recently used is closed.
CLIENTS_KEPT = 4
#: Seconds the worker's exit waits for its clients to close.
CLOSE_TIMEOUT = 5.0


class Transform:
    """The function given to ``mapInArrow``: Arrow batches in, the same rows with outcomes out."""

    __name__ = "vision_transform"  # what explain() and the Spark UI show
    __qualname__ = "vision_transform"

    def __init__(self, config: Config) -> None:
        self.config = config

    def __repr__(self) -> str:
        return f"vision_transform({self.config.operation!r})"

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return Runtime.get().run(self.config, batches)


class Runtime:
    """This process's event loop (a daemon thread with a blocking portal) and its clients."""

    _instance: Runtime | None = None
    _instance_lock = threading.Lock()

    @classmethod
    def get(cls) -> Runtime:
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
                atexit.register(cls._instance.close)
            return cls._instance

    def __init__(self) -> None:
        self._clients: collections.OrderedDict[str, Any] = collections.OrderedDict()
        self._ready = threading.Event()
        self._portal: BlockingPortal | None = None
        self._thread = threading.Thread(target=anyio.run, args=(self._serve,), name="vision-async-spark", daemon=True)
        self._thread.start()
        self._ready.wait()
        assert self._portal is not None

    async def _serve(self) -> None:
        async with BlockingPortal() as portal:
            self._portal = portal
            self._ready.set()
            await portal.sleep_until_stopped()

    @property
    def portal(self) -> BlockingPortal:
        assert self._portal is not None
        return self._portal

    def client(self, config: Config) -> Any:
        """The client of ``config``'s transform, made on first use (in the loop: it binds to it)."""
        return self.portal.call(self._client, config)

    async def _client(self, config: Config) -> Any:
        client = self._clients.get(config.id)
        if client is None:
            client = self._clients[config.id] = config.make_client()
            while len(self._clients) > CLIENTS_KEPT:
                _, old = self._clients.popitem(last=False)
                await old.aclose()
        self._clients.move_to_end(config.id)
        return client

    def run(self, config: Config, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """One partition: the loop does the work, this thread hands Spark what is finished."""
        client = self.client(config)
        send, receive = anyio.create_memory_object_stream["pa.RecordBatch"](1)
        future = self.portal.start_task_soon(Partition(config, client, batches).run, send)
        try:
            while True:
                try:
                    out = self.portal.call(receive.receive)
                except anyio.EndOfStream:
                    break
                yield out
            future.result()  # the partition's own error, if it failed
        finally:
            if not future.done():  # Spark stopped reading (a limit(), a failed task): end the calls
                future.cancel()
                concurrent.futures.wait([future], timeout=CLOSE_TIMEOUT)
            with contextlib.suppress(Exception):  # the loop is gone only at the worker's exit
                self.portal.call(receive.aclose)

    def close(self) -> None:
        """Close every client and stop the loop (at the worker's exit)."""
        if self._portal is None:
            return
        portal, self._portal = self._portal, None
        try:
            portal.start_task_soon(self._close_clients).result(timeout=CLOSE_TIMEOUT)
        except Exception:  # exiting anyway: a client that cannot close in time is dropped
            logger.debug("spark worker: clients not closed in time", exc_info=True)
        try:
            portal.call(portal.stop, True)
        except Exception:
            logger.debug("spark worker: loop not stopped cleanly", exc_info=True)

    async def _close_clients(self) -> None:
        while self._clients:
            _, client = self._clients.popitem()
            await client.aclose()


class _Pending:
    """One input batch on its way out: the outcome of each row, as they come."""

    __slots__ = ("batch", "done", "emitted", "fed", "rows")

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.batch = batch
        self.rows: list[tuple[Any, ...] | None] = [None] * batch.num_rows
        self.done = 0  # rows [0, done) have their outcome
        self.emitted = 0  # rows [0, emitted) went back to Spark
        self.fed = False  # every row was handed to the batch (or was null)


_NULL_ROW: tuple[Any, ...] = (None, None, None, 0, 0.0)


class Partition:
    """The rows of one partition through ``client.batch``, and back in order as they finish."""

    def __init__(self, config: Config, client: Any, batches: Iterator[pa.RecordBatch]) -> None:
        self._config = config
        self._client = client
        self._batches = batches
        self._pending: collections.deque[_Pending] = collections.deque()
        self._changed = anyio.Event()  # a row settled or a batch was fed: the emitter looks again
        self._space: anyio.Event | None = None  # set when a batch has gone back to Spark
        self._settled_all = False

    async def run(self, send: MemoryObjectSendStream[pa.RecordBatch]) -> None:
        async with send, anyio.create_task_group() as tg:
            tg.start_soon(self._emit, send)
            config = self._config
            async with self._client.batch(
                self._rows(),
                config.operation,
                concurrency=config.concurrency,
                patience=config.patience,
                **config.options,
            ) as outcomes:
                async for item in outcomes:
                    pending, row = item.key
                    pending.rows[row] = self._outcome(item)
                    self._wake()
            self._settled_all = True
            self._wake()

    def _wake(self) -> None:
        self._changed.set()

    async def _rows(self) -> AsyncIterator[tuple[tuple[_Pending, int], Any]]:
        """Each non-null row as ``((its batch, its index), image)``; null rows settled here."""
        config = self._config
        while True:
            while len(self._pending) >= HELD_BATCHES:  # wait for the oldest to go back to Spark
                self._space = anyio.Event()
                await self._space.wait()
            batch = await anyio.to_thread.run_sync(next, self._batches, None)
            if batch is None:
                break
            pending = _Pending(batch)
            self._pending.append(pending)
            images = batch.column(config.image_index)
            keys = batch.column(config.key_index) if config.key_index is not None else None
            for row in range(batch.num_rows):
                image = images[row].as_py()
                if image is None:
                    pending.rows[row] = _NULL_ROW
                    continue
                if keys is not None and logger.isEnabledFor(logging.DEBUG):
                    logger.debug("spark %s: row %r sent", config.operation, keys[row].as_py())
                yield (pending, row), image
            pending.fed = True
            self._wake()

    def _outcome(self, item: BatchItem) -> tuple[Any, ...]:
        if item.error is not None:
            return (None, None, error_record(item.error), item.attempts, item.elapsed)
        result = item.result
        body = json.dumps(result_record(result), ensure_ascii=False, separators=(",", ":"), default=jsonable)
        vector = list(result.vector) if self._config.vector else None
        return (body, vector, None, item.attempts, item.elapsed)

    async def _emit(self, send: MemoryObjectSendStream[pa.RecordBatch]) -> None:
        """The one sender: each batch's finished rows, in order; done when every batch is out."""
        while True:
            self._changed = anyio.Event()
            for out in self._ready():
                await send.send(out)
            if self._settled_all and not self._pending:
                return
            await self._changed.wait()

    def _ready(self) -> list[pa.RecordBatch]:
        ready: list[pa.RecordBatch] = []
        while self._pending:
            head = self._pending[0]
            rows = head.rows
            while head.done < len(rows) and rows[head.done] is not None:
                head.done += 1
            complete = head.fed and head.done == len(rows)
            if head.done > head.emitted and (complete or head.done - head.emitted >= FLUSH_ROWS):
                ready.append(self._slice(head, head.emitted, head.done))
                head.emitted = head.done
            if not complete:
                break
            self._pending.popleft()
            if self._space is not None:
                self._space.set()
        return ready

    def _slice(self, pending: _Pending, start: int, end: int) -> pa.RecordBatch:
        import pyarrow as pa

        part = pending.batch.slice(start, end - start)
        rows = pending.rows[start:end]
        columns = list(part.columns)
        names = list(part.schema.names)
        columns.append(pa.array([r[0] for r in rows], pa.string()))  # type: ignore[index]
        names.append("result")
        if self._config.vector:
            columns.append(pa.array([r[1] for r in rows], pa.list_(pa.float32())))  # type: ignore[index]
            names.append("vector")
        columns.append(pa.array([r[2] for r in rows], _error_type()))  # type: ignore[index]
        names.append("error")
        columns.append(pa.array([r[3] for r in rows], pa.int32()))  # type: ignore[index]
        names.append("attempts")
        columns.append(pa.array([r[4] for r in rows], pa.float64()))  # type: ignore[index]
        names.append("elapsed")
        return pa.RecordBatch.from_arrays(columns, names=names)


def _error_type() -> pa.DataType:
    import pyarrow as pa

    return pa.struct([(name, pa.int32() if name == "status" else pa.string()) for name in ERROR_FIELDS])
