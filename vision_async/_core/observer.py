"""What the call path asks of an observer (tracing and metrics); ``None`` when nothing observes.

The pipeline holds ``observer: Observer | None``: without one, the call path pays one attribute
check per call and one per attempt. The OpenTelemetry observer is ``vision_async._observe.otel``,
made by ``vision_async._observe.factory.make_observer`` only when a provider is in play.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .._transports.base import OutgoingRequest
    from .call import Call, Response

__all__ = ["Observer"]


class Observer(Protocol):
    async def call(self, call: Call, inner: Callable[[Call], Awaitable[Response]]) -> Response: ...

    async def attempt(
        self, call: Call, request: OutgoingRequest, inner: Callable[[Call, OutgoingRequest], Awaitable[Response]]
    ) -> Response: ...

    def refused(self, operation: str, exc: BaseException) -> None: ...

    def on_retry(self, event: Any) -> None: ...

    def batch_start(self, operation: str) -> object: ...

    def batch_item(self, batch: object, operation: str, failed: bool) -> None: ...

    def batch_end(self, batch: object, submitted: int, error: BaseException | None) -> None: ...
