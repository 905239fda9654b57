"""Batch jobs: ``client.batch(inputs, operation, ...)``, many images through one client, one outcome each.

```python
async with client.batch(images, "analyze", concurrency=32, features=["Tags", "Objects"]) as outcomes:
    async for item in outcomes:          # BatchItem(index, key, result, error, attempts, elapsed)
        ...
```

How it works, and what it promises:

- The batch is an async context manager (not an async generator: a generator cannot own a task
  group safely, see PEP 789). Entering it starts one feeder task and up to ``concurrency`` calls
  in a task group; leaving the block, early or not, cancels whatever is left and waits for it,
  so no task and no connection outlives the block.
- Inputs are pulled lazily: the feeder takes a slot before it pulls an input, and a slot is given
  back only when the outcome of that input has been handed to you. At most ``concurrency``
  inputs are ever pulled and not yet yielded, whatever the size of the input (and however slow
  the consumer), in completion order and in input order (``ordered=True``) alike.
- Exactly one outcome per input. A :class:`~vision_async.VisionError` (a service error, a timeout,
  an open circuit, local validation of one bad image) becomes that item's ``error``; any other
  exception, and cancellation, propagate out of the ``async with`` block (a lone exception is
  raised as itself, not wrapped in an ``ExceptionGroup``).
- The batch adds no flow control of its own: the client's rate limit, 429 cool-down, retry
  budget, breaker and concurrency limit apply to every call, as they do outside a batch. What
  the batch adds is patience: an input turned away for now (its call ended throttled, with 429s
  its retries could not get past, or refused by an open circuit breaker, or by the client's rate
  limit or cool-down for want of time) waits as long as it was told and is run again, for up to
  ``patience`` seconds of waiting in all; then it ends with that error. An outage or a quota
  storm pauses the batch instead of failing inputs; with at most ``concurrency`` inputs pulled,
  nothing piles up.
- A hung attempt does not hold the batch's end: inside a batch, an attempt that runs far past the
  recent successful attempts (``max(2 s, 4 x their p99)``, once 32 have succeeded) is abandoned
  and retried, well before the attempt timeout (see ``_resilience/latency.py``). Calls outside a
  batch are never cut.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._checks import is_int, is_number
from ._core.call import attempt_counter
from ._core.observer import Observer
from ._defaults import BATCH_CONCURRENCY as DEFAULT_CONCURRENCY
from ._defaults import BATCH_PATIENCE as DEFAULT_PATIENCE
from ._defaults import BATCH_PROBE_POLL, BATCH_THROTTLE_WAIT, BATCH_TRANSIENT_WAIT
from ._errors import (
    APIConnectionError,
    APIStatusError,
    CircuitOpenError,
    CooldownTimeout,
    InternalServerError,
    InvalidInputError,
    RateLimitError,
    RateLimitTimeout,
    VisionError,
)
from ._events import batch_link
from ._resilience.latency import batch_cuts
from ._v32.plans import OPERATIONS as _V32_OPERATIONS
from .v4._surface import OPERATIONS as _V4_OPERATIONS

if TYPE_CHECKING:
    from ._core.images import ImageInput

__all__ = ["DEFAULT_CONCURRENCY", "DEFAULT_PATIENCE", "OPERATIONS", "Batch", "BatchItem", "BatchOutcomes"]

logger = logging.getLogger("vision_async.batch")

#: The waits before a deferred input runs again (their reasons: ``_defaults.py``).
PROBE_POLL = BATCH_PROBE_POLL
THROTTLE_WAIT = BATCH_THROTTLE_WAIT
TRANSIENT_WAIT = BATCH_TRANSIENT_WAIT

#: The operations a batch can run, by the name of the client method (``v4.`` for Image Analysis 4.0):
#: each surface lists its own.
OPERATIONS = (*_V32_OPERATIONS, *_V4_OPERATIONS)

BoundOperation = Callable[["ImageInput"], Awaitable[Any]]


class Operations(Protocol):
    """What a batch needs of its client: the operations bound by name, and whether it is open."""

    def _bind(self, operation: str, options: Mapping[str, Any]) -> BoundOperation: ...

    def _check_open(self) -> None: ...


@dataclass(frozen=True, slots=True)
class BatchItem:
    """The outcome of one input of a batch.

    ``index`` is the input's position (0-based) in the inputs; ``key`` the key given with it in a
    ``(key, image)`` pair, else the URL or path when the image is one, else ``None``. Exactly one
    of ``result`` and ``error`` is set: ``result`` is what the operation returned, ``error`` the
    :class:`~vision_async.VisionError` it raised. ``attempts`` counts the requests sent for the
    input (1 plus its retries); ``elapsed`` is the seconds from its start to its outcome.
    """

    index: int
    key: Any
    result: Any
    error: VisionError | None
    attempts: int
    elapsed: float

    @property
    def ok(self) -> bool:
        """True when the operation succeeded (``result`` is set, ``error`` is None)."""
        return self.error is None

    def __repr__(self) -> str:  # never show result bodies or image bytes
        outcome = "ok" if self.error is None else f"error={type(self.error).__name__}"
        return (
            f"BatchItem(index={self.index}, key={self.key!r}, {outcome}, attempts={self.attempts}, "
            f"elapsed={self.elapsed:.3f})"
        )


# -- binding the operation ---------------------------------------------------------------------


def bind_operation(client: Operations, operation: object, options: Mapping[str, Any]) -> BoundOperation:
    """The operation as a coroutine function of one image, its name and options validated now.

    The client's ``_bind`` checks the options' names and values once (an unknown name or a bad
    value is an :class:`~vision_async.InvalidInputError` here, before any input is pulled).
    """
    if not isinstance(operation, str) or operation not in OPERATIONS:
        raise InvalidInputError(f"unknown batch operation {operation!r}; operations: {', '.join(OPERATIONS)}")
    if "image" in options:
        raise InvalidInputError("the images of a batch are its inputs; do not pass image= as an option")
    bound: BoundOperation = client._bind(operation, dict(options))
    return bound


# -- inputs ------------------------------------------------------------------------------------


def _split(entry: object) -> tuple[Any, Any]:
    """(key, image) of one input: a ``(key, image)`` pair, else the image with its URL/path as key."""
    if isinstance(entry, tuple) and len(entry) == 2:
        return entry[0], entry[1]
    if isinstance(entry, str):
        return entry, entry
    if isinstance(entry, os.PathLike):
        return os.fsdecode(entry), entry
    return None, entry


def turned_away_for(exc: VisionError) -> float | None:
    """Seconds to wait before running a call again that ended with ``exc``, when ``exc`` means
    "not now" (throttled, refused by an open breaker, the rate limit or the cool-down, or a
    transient fault: 5xx, 408, a timeout or a connection error); None for a permanent error."""
    if isinstance(exc, CircuitOpenError):
        return exc.retry_after if exc.retry_after > 0 else PROBE_POLL
    if isinstance(exc, RateLimitError):
        return exc.retry_after if exc.retry_after is not None and exc.retry_after > 0 else THROTTLE_WAIT
    if isinstance(exc, RateLimitTimeout):
        return max(exc.wait, PROBE_POLL)
    if isinstance(exc, CooldownTimeout):
        return THROTTLE_WAIT
    if isinstance(exc, InternalServerError):
        # A transient fault its retries did not get past (or the retry budget refused): the item
        # goes back in line and is sent again later, behind the rate limit and the breaker.
        return exc.retry_after if exc.retry_after is not None and exc.retry_after > 0 else TRANSIENT_WAIT
    if isinstance(exc, APIConnectionError):
        return TRANSIENT_WAIT
    if isinstance(exc, APIStatusError) and exc.status_code == 408:
        return TRANSIENT_WAIT
    return None


def _replayable(image: object) -> bool:
    """An image that can be sent again (a file object may have been read by the refused call)."""
    return isinstance(image, str | bytes | bytearray | memoryview | os.PathLike)


def _check_inputs(inputs: object) -> None:
    if isinstance(inputs, str | bytes | bytearray | memoryview | os.PathLike):
        raise InvalidInputError(
            "inputs must be an iterable of images (or of (key, image) pairs); wrap a single image in a list"
        )
    if not isinstance(inputs, Iterable | AsyncIterable):
        raise InvalidInputError(f"inputs must be an iterable or async iterable, got {type(inputs).__name__}")


class _Inputs:
    """One interface over a sync or async iterable, pulled one entry at a time."""

    def __init__(self, inputs: Iterable[Any] | AsyncIterable[Any]) -> None:
        self._sync: Iterator[Any] | None = None
        self._async: AsyncIterator[Any] | None = None
        self._owned = False
        if isinstance(inputs, AsyncIterable):
            self._async = aiter(inputs)
            self._owned = self._async is not inputs
        else:
            self._sync = iter(inputs)
            self._owned = self._sync is not inputs

    async def next(self) -> tuple[bool, Any]:
        """(True, entry), or (False, None) at the end."""
        if self._async is not None:
            try:
                return True, await anext(self._async)
            except StopAsyncIteration:
                return False, None
        assert self._sync is not None
        try:
            return True, next(self._sync)
        except StopIteration:
            return False, None

    async def aclose(self) -> None:
        """Close an iterator this batch made itself (never one it was given)."""
        if not self._owned:
            return
        closer = getattr(self._async, "aclose", None) or getattr(self._sync, "close", None)
        if closer is None:
            return
        with anyio.CancelScope(shield=True):
            result = closer()
            if inspect.isawaitable(result):
                await result


# -- the batch ---------------------------------------------------------------------------------


class BatchOutcomes:
    """The async iterator a batch yields: one :class:`BatchItem` per input.

    ``submitted`` counts the inputs pulled so far, ``yielded`` the outcomes handed out;
    ``exhausted`` is True once the inputs have run out (``submitted`` is then the total).
    """

    def __init__(
        self,
        receive: MemoryObjectReceiveStream[BatchItem],
        slots: anyio.Semaphore,
        *,
        ordered: bool,
    ) -> None:
        self._receive = receive
        self._slots = slots
        self._ordered = ordered
        self._pending: dict[int, BatchItem] = {}
        self._lock = anyio.Lock()
        self._next = 0
        self.submitted = 0
        self.yielded = 0
        self.exhausted = False

    def __aiter__(self) -> BatchOutcomes:
        return self

    async def __anext__(self) -> BatchItem:
        try:
            if self._ordered:
                async with self._lock:
                    while self._next not in self._pending:
                        item = await self._receive.receive()
                        self._pending[item.index] = item
                    item = self._pending.pop(self._next)
                    self._next += 1
            else:
                item = await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None
        self.yielded += 1
        self._slots.release()
        return item


class Batch:
    """``client.batch(...)``: see the module docstring. Made by :meth:`VisionClient.batch`."""

    def __init__(
        self,
        client: Operations,
        inputs: Iterable[Any] | AsyncIterable[Any],
        operation: str = "analyze",
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        ordered: bool = False,
        patience: float = DEFAULT_PATIENCE,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        if not is_int(concurrency) or concurrency < 1:
            raise InvalidInputError(f"concurrency must be an int >= 1, got {concurrency!r}")
        if not is_number(patience) or not patience >= 0:
            raise InvalidInputError(f"patience must be a number of seconds >= 0, got {patience!r}")
        if not isinstance(ordered, bool):
            raise InvalidInputError(f"ordered must be a bool, got {ordered!r}")
        _check_inputs(inputs)
        self._client = client
        self._inputs = inputs
        self.operation = operation
        self.concurrency = concurrency
        self.ordered = ordered
        self.patience = float(patience)
        self._call = bind_operation(client, operation, dict(options or {}))
        self._sleep: Callable[[float], Awaitable[object]] = getattr(client, "_sleep", None) or anyio.sleep
        self._task_group: TaskGroup | None = None
        self._outcomes: BatchOutcomes | None = None
        self._entered = False
        pipeline = getattr(client, "_pipeline", None)
        self._observer: Observer | None = getattr(pipeline, "observer", None)
        self._observed: object | None = None

    def __repr__(self) -> str:
        return f"Batch(operation={self.operation!r}, concurrency={self.concurrency}, ordered={self.ordered})"

    async def __aenter__(self) -> BatchOutcomes:
        if self._entered:
            raise InvalidInputError("a batch runs once; call client.batch(...) again for another run")
        self._entered = True
        self._client._check_open()  # ClientClosedError before anything is pulled
        send, receive = anyio.create_memory_object_stream[BatchItem](max_buffer_size=float("inf"))
        slots = anyio.Semaphore(self.concurrency)
        self._outcomes = BatchOutcomes(receive, slots, ordered=self.ordered)
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        if self._observer is not None:
            self._observed = self._observer.batch_start(self.operation)
        task_group.start_soon(self._feed, task_group, send, slots, self._outcomes)
        return self._outcomes

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        task_group, self._task_group = self._task_group, None
        assert task_group is not None and self._outcomes is not None
        task_group.cancel_scope.cancel()  # leaving the block ends the batch, early or not
        try:
            return await task_group.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as group:
            if len(group.exceptions) != 1:
                raise
            _reraise(group.exceptions[0])
        finally:
            self._outcomes._receive.close()
            if self._observer is not None and self._observed is not None:
                self._observer.batch_end(self._observed, self._outcomes.submitted, exc)

    async def _feed(
        self,
        task_group: TaskGroup,
        send: MemoryObjectSendStream[BatchItem],
        slots: anyio.Semaphore,
        outcomes: BatchOutcomes,
    ) -> None:
        inputs = _Inputs(self._inputs)
        try:
            async with send:
                index = 0
                while True:
                    await slots.acquire()  # a slot first, then the input: never more than `concurrency` pulled
                    more, entry = await inputs.next()
                    if not more:
                        slots.release()
                        break
                    key, image = _split(entry)
                    outcomes.submitted = index + 1
                    task_group.start_soon(self._run_one, index, key, image, send.clone())
                    index += 1
                outcomes.exhausted = True
                logger.debug("batch %s: all %d inputs submitted", self.operation, index)
        finally:
            await inputs.aclose()

    async def _run_one(self, index: int, key: Any, image: Any, send: MemoryObjectSendStream[BatchItem]) -> None:
        async with send:
            attempts = [0]
            attempt_counter.set(attempts)  # this task's own context: the count is this item's alone
            batch_cuts.set([0])  # this item's attempts may be cut off when they hang (_resilience/latency.py)
            if self._observed is not None:
                batch_link.set(self._observed)
            start = anyio.current_time()
            result: Any = None
            error: VisionError | None = None
            try:
                result = await self._call_patiently(index, image)
            except VisionError as exc:
                error = exc
                logger.debug("batch %s: input %d failed: %s", self.operation, index, type(exc).__name__)
            if self._observer is not None and self._observed is not None:
                self._observer.batch_item(self._observed, self.operation, error is not None)
            item = BatchItem(
                index=index,
                key=key,
                result=result,
                error=error,
                attempts=max(1, attempts[0]),
                elapsed=anyio.current_time() - start,
            )
            await send.send(item)

    async def _call_patiently(self, index: int, image: Any) -> Any:
        """The call; while it is turned away for now, wait as it was told and run it again."""
        waited = 0.0
        while True:
            try:
                return await self._call(image)
            except VisionError as exc:
                wait = turned_away_for(exc)
                if wait is None or waited + wait > self.patience or not _replayable(image):
                    raise
                logger.debug(
                    "batch %s: input %d turned away (%s); running it again in %.3fs",
                    self.operation,
                    index,
                    type(exc).__name__,
                    wait,
                )
                await self._sleep(wait)
                waited += wait


def _reraise(exc: BaseException) -> NoReturn:
    """Raise ``exc`` as itself, keeping the context it had (not the group it came in)."""
    context = exc.__context__
    try:
        raise exc
    finally:
        exc.__context__ = context
        del exc, context
