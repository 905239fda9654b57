"""The one way an API surface runs an operation: what the v3.2 and 4.0 surfaces and ``batch`` are given.

A surface (``_v32.surface``, ``v4._surface``) validates an operation's options into a query, then
hands the runner the image::

    runner.send(operation, method, path, query=..., image=..., kind=...)
        -> open check -> refuse_if_open (one resource, breaker open: refused before the image is read)
        -> image read and checked -> Pipeline.call (the layers, to the socket and back) -> Response

The runner is composed into every surface (the surfaces never reach back into the client), and it
is the only place that checks that the client is open and asks the breaker to refuse early (`Pipeline.refuse_if_open`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .._policies import ImageLimits, ResponseLimits
from .images import ImageInput, ImageKind, PreparedImage, prepare_at_once, prepare_image

if TYPE_CHECKING:
    from .call import Response
    from .pipeline import Pipeline

__all__ = ["Runner"]


class Runner:
    """Sends one operation, with or without an image, through a client's pipeline."""

    __slots__ = ("clock", "limits", "pipeline", "response_limits")

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        limits: ImageLimits,
        response_limits: ResponseLimits,
        clock: Callable[[], float],
    ) -> None:
        self.pipeline = pipeline
        self.limits = limits
        self.response_limits = response_limits
        self.clock = clock

    def check_open(self) -> None:
        """ClientClosedError once the client is closing (the one message, the lifecycle's)."""
        self.pipeline.lifecycle.check()

    def max_image_bytes(self, kind: ImageKind) -> int:
        limits = self.limits
        if kind is ImageKind.READ:
            return limits.max_read_bytes
        if kind is ImageKind.V4:
            return limits.max_v4_image_bytes
        if kind is ImageKind.RETRIEVAL:
            return limits.max_retrieval_image_bytes
        return limits.max_image_bytes

    async def prepare(self, image: ImageInput, kind: ImageKind) -> PreparedImage:
        """The image as a request body, checked for ``kind`` (InvalidInputError when it is not fit)."""
        max_bytes = self.max_image_bytes(kind)
        prepared = prepare_at_once(image, kind=kind, max_bytes=max_bytes)
        if prepared is None:  # a path or a file object: read it (the client may close meanwhile)
            prepared = await prepare_image(image, kind=kind, max_bytes=max_bytes)
            self.check_open()
        return prepared

    async def send(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        query: str = "",
        image: ImageInput | None = None,
        kind: ImageKind = ImageKind.ANALYZE,
        content: bytes | None = None,
        content_type: str | None = None,
        expect: int = 200,
        accept: str = "application/json",
        max_body: int | None = None,
        resource: str | None = None,
        deadline: float | None = None,
    ) -> Response:
        """Send ``method path?query`` with ``image`` as its body, else ``content`` (of ``content_type``), else none.

        ``resource`` pins every attempt to one resource (a Read is polled where it was accepted);
        ``max_body`` caps the answer (default: the JSON cap); ``deadline`` (on the client's clock)
        ends the call no later than that (a Read's submit and polls share one).
        """
        self.check_open()
        pipeline = self.pipeline
        if pipeline.may_refuse:
            try:
                await pipeline.refuse_if_open()
            except Exception as exc:
                if pipeline.observer is not None:
                    pipeline.observer.refused(operation, exc)
                raise
        if image is not None:
            prepared = await self.prepare(image, kind)
            content, content_type = prepared.content, prepared.content_type
        return await pipeline.call(
            operation,
            method,
            path,
            query=query,
            content=content,
            content_type=content_type,
            expect=expect,
            accept=accept,
            max_body=max_body,
            resource=resource,
            deadline=deadline,
        )
