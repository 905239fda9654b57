"""Helpers for testing code that uses vision_async, without Azure and without waiting.

- :class:`FakeClock`: a monotonic clock and a ``sleep`` that advances it instantly. Pass both to
  :class:`~vision_async.VisionClient` (``clock=fake.clock, sleep=fake.sleep``) and no retry wait,
  Read poll or breaker timer waits for real.
- :class:`VirtualClock`: virtual time for many concurrent tasks (rate limits, cool-downs,
  batches): every sleep ends at once, in time order.
- :class:`ScriptedTransport`: an ``httpx.AsyncBaseTransport`` that answers from a script (for
  example 429, then 500, then 200) and records every request it received.
- :func:`emulator_transport` runs the local emulator in process (the ``emulator`` extra).
- pytest fixtures, registered automatically through the ``pytest11`` entry point:
  ``vision_emulator`` (a fresh :class:`~vision_async.emulator.Emulator`), ``vision_transport``
  (an in-process transport to it) and ``vision_emulator_server`` (it, served by uvicorn on a free
  127.0.0.1 port; ``.url`` is the endpoint).
"""

from __future__ import annotations

import contextlib
import heapq
import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import sniffio

if TYPE_CHECKING:
    from .emulator import Emulator, EmulatorServer, EmulatorTransport

__all__ = [
    "FakeClock",
    "RecordedRequest",
    "ScriptedTransport",
    "VirtualClock",
    "emulator_transport",
    "json_response",
    "vision_emulator",
    "vision_emulator_server",
    "vision_transport",
]


class FakeClock:
    """Monotonic time that only moves when something sleeps (or :meth:`advance` is called)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """Record the wait, move time forward, and yield to the event loop once."""
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()


async def _all_tasks_blocked() -> None:
    """Return once every other task waits on something (anyio's asyncio version polls every 0.1 s)."""
    if sniffio.current_async_library() != "asyncio":
        await anyio.wait_all_tasks_blocked()
        return
    import asyncio

    this = asyncio.current_task()
    while True:
        await asyncio.sleep(0)
        for task in asyncio.all_tasks():
            if task is this:
                continue
            waiter = task._fut_waiter  # type: ignore[attr-defined]
            if waiter is None or waiter.done():
                break
        else:
            return


@dataclass(eq=False)
class _Sleeper:
    wake: float
    seq: int
    event: anyio.Event
    done: bool = False

    def __lt__(self, other: _Sleeper) -> bool:
        return (self.wake, self.seq) < (other.wake, other.seq)


class VirtualClock:
    """Virtual time for many concurrent tasks: every sleep ends instantly, in time order.

    Pass ``clock=vc.clock, sleep=vc.sleep`` to a client (and to the emulator), then run the code
    under test inside ``async with vc.running():``. Whenever every task is blocked, time jumps
    to the earliest pending wake-up and that sleeper (first come, first served among equal
    times) runs. A rate limit of 20 per second over 1,000 calls takes 50 virtual seconds and no
    real ones. Works under asyncio and trio (it uses ``anyio.wait_all_tasks_blocked``).
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._heap: list[_Sleeper] = []
        self._seq = 0
        self._new: anyio.Event | None = None

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        sleeper = _Sleeper(self.now + max(0.0, seconds), self._seq, anyio.Event())
        self._seq += 1
        heapq.heappush(self._heap, sleeper)
        if self._new is not None:
            self._new.set()
        try:
            await sleeper.event.wait()
        finally:
            sleeper.done = True

    async def _drive(self) -> None:
        while True:
            await _all_tasks_blocked()
            while self._heap and self._heap[0].done:
                heapq.heappop(self._heap)
            if not self._heap:
                self._new = anyio.Event()
                await self._new.wait()
                self._new = None
                continue
            sleeper = heapq.heappop(self._heap)
            self.now = max(self.now, sleeper.wake)
            sleeper.done = True
            sleeper.event.set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[VirtualClock]:
        """Drive virtual time while the block runs."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._drive)
            try:
                yield self
            finally:
                tg.cancel_scope.cancel()


def json_response(
    status_code: int = 200, body: Any = None, *, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """A response with a JSON body (and an ``apim-request-id`` unless ``headers`` names one)."""
    all_headers = {"content-type": "application/json; charset=utf-8", "apim-request-id": "req-test"}
    all_headers.update(headers or {})
    content = b"" if body is None else json.dumps(body).encode()
    return httpx.Response(status_code, headers=all_headers, content=content)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """What the transport received: method, URL, headers, body."""

    method: str
    url: httpx.URL
    headers: httpx.Headers
    content: bytes

    @property
    def params(self) -> httpx.QueryParams:
        return self.url.params

    def json(self) -> Any:
        return json.loads(self.content)


Step = httpx.Response | BaseException | Callable[[httpx.Request], httpx.Response]


class ScriptedTransport(httpx.AsyncBaseTransport):
    """Answers each request with the next step of ``script``; the last step repeats.

    A step is an ``httpx.Response``, an exception to raise, or a function of the request.
    ``requests`` records everything received; ``closed`` tells whether ``aclose`` was called.
    """

    def __init__(self, *script: Step | Iterable[Step], repeat_last: bool = True) -> None:
        steps: list[Step] = []
        for item in script:
            if isinstance(item, httpx.Response | BaseException) or callable(item):
                steps.append(item)
            else:
                steps.extend(item)
        if not steps:
            raise ValueError("ScriptedTransport needs at least one step")
        self.script = steps
        self.requests: list[RecordedRequest] = []
        self.closed = False
        self.repeat_last = repeat_last
        self._index = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        content = await request.aread()
        self.requests.append(RecordedRequest(request.method, request.url, request.headers, content))
        if self._index >= len(self.script):
            if not self.repeat_last:
                raise AssertionError(f"ScriptedTransport: unexpected request #{self._index + 1}: {request.url}")
            step = self.script[-1]
        else:
            step = self.script[self._index]
        self._index += 1
        if isinstance(step, BaseException):
            raise step
        response = step if isinstance(step, httpx.Response) else step(request)
        # a fresh copy each time, so a repeated step can be read again
        return httpx.Response(response.status_code, headers=response.headers, content=response.content, request=request)

    async def aclose(self) -> None:
        self.closed = True

    @property
    def count(self) -> int:
        return len(self.requests)


def emulator_transport(emulator: Emulator | None = None, **options: Any) -> EmulatorTransport:
    """An in-process transport to the local emulator (needs the ``emulator`` extra)."""
    from .emulator import Emulator, EmulatorTransport

    return EmulatorTransport(emulator if emulator is not None else Emulator(**options))


try:
    import pytest
except ImportError:  # pragma: no cover - pytest is only needed for the fixtures
    pass
else:

    @pytest.fixture
    def vision_emulator() -> Emulator:
        """A fresh emulator accepting any key; configure faults and scenarios on it."""
        from .emulator import Emulator

        return Emulator()

    @pytest.fixture
    def vision_transport(vision_emulator: Emulator) -> EmulatorTransport:
        """An in-process transport to ``vision_emulator``: pass it as ``transport=``."""
        return emulator_transport(vision_emulator)

    @pytest.fixture
    def vision_emulator_server(vision_emulator: Emulator) -> Iterator[EmulatorServer]:
        """``vision_emulator`` served by uvicorn on a free 127.0.0.1 port (``.url``)."""
        from .emulator import EmulatorServer

        with EmulatorServer(vision_emulator) as server:
            yield server
