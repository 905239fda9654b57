"""Helpers for testing code that uses vision_async, without Azure and without waiting.

- :class:`FakeClock`: a monotonic clock and a ``sleep`` that advances it instantly. Pass both to
  :class:`~vision_async.VisionClient` (``clock=fake.clock, sleep=fake.sleep``) and no retry wait,
  Read poll or breaker timer waits for real.
- :class:`ScriptedTransport`: an ``httpx.AsyncBaseTransport`` that answers from a script (for
  example 429, then 500, then 200) and records every request it received.
- :func:`emulator_transport` runs the local emulator in process (the ``emulator`` extra).
- pytest fixtures, registered automatically through the ``pytest11`` entry point:
  ``vision_emulator`` (a fresh :class:`~vision_async.emulator.Emulator`), ``vision_transport``
  (an in-process transport to it) and ``vision_emulator_server`` (it, served by uvicorn on a free
  127.0.0.1 port; ``.url`` is the endpoint).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import httpx

if TYPE_CHECKING:
    from .emulator import Emulator, EmulatorServer, EmulatorTransport

__all__ = [
    "FakeClock",
    "RecordedRequest",
    "ScriptedTransport",
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
