"""Read, the long-running operation: submit, poll, wait for the end."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from .._core.call import Response
from .._core.endpoint import API_PATH
from .._core.runner import Runner
from .._errors import APITimeoutError, InvalidInputError, ReadOperationFailedError, ResponseValidationError
from .._resilience.retry import parse_retry_after

if TYPE_CHECKING:  # imported with the first Read result: `import vision_async` stays light
    from .ocr_models import ReadOperationResult

__all__ = ["ReadPoller", "operation_id_from_location"]

logger = logging.getLogger("vision_async.read")

#: Waits between polls when the service gives no Retry-After: 0.25s doubling up to 2s.
FIRST_POLL_WAIT = 0.25
MAX_POLL_WAIT = 2.0

_OPERATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$")


def operation_id_from_location(location: str | None, request_id: str | None) -> str:
    """The operation id: the last path segment of the ``Operation-Location`` header."""
    if not location:
        raise ResponseValidationError("Read: the 202 answer has no Operation-Location header", request_id=request_id)
    segment = urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]
    if not _OPERATION_ID.match(segment):
        raise ResponseValidationError(
            f"Read: cannot take an operation id from Operation-Location {location[:120]!r}", request_id=request_id
        )
    return segment


def check_operation_id(operation_id: object) -> str:
    if not isinstance(operation_id, str) or not _OPERATION_ID.match(operation_id):
        raise InvalidInputError(f"invalid Read operation id {operation_id!r}")
    return operation_id


class ReadPoller:
    """Polls one Read operation to its end, within a deadline."""

    def __init__(
        self,
        runner: Runner,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
        wall_clock: Callable[[], float],
        max_body: int | None = None,
    ) -> None:
        self._runner = runner
        self._max_body = max_body
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock

    async def get(
        self, operation_id: str, *, resource: str | None = None, deadline: float | None = None
    ) -> tuple[ReadOperationResult, float | None]:
        """One poll: the operation's state and the Retry-After the service sent with it.

        ``resource`` pins the poll to the resource that accepted the operation; ``deadline`` (on
        the client's clock) bounds the poll with its retries.
        """
        op_id = check_operation_id(operation_id)
        response: Response = await self._runner.send(
            "get_read_result",
            "GET",
            f"{API_PATH}/read/analyzeResults/{quote(op_id, safe='')}",
            max_body=self._max_body,
            resource=resource,
            deadline=deadline,
        )
        from .ocr_models import ReadOperationResult

        result = response.parse(ReadOperationResult, "get_read_result")
        return result, parse_retry_after(response.headers, None, now=self._wall_clock)

    async def wait(
        self, operation_id: str, *, deadline: float, timeout: float, resource: str | None = None
    ) -> ReadOperationResult:
        """Poll until succeeded (returned) or failed (:class:`ReadOperationFailedError`), within
        ``deadline`` on the client's clock (the Read's ``timeout`` seconds, for the message)."""
        from .ocr_models import OperationStatus

        polls = 0
        backoff = FIRST_POLL_WAIT
        while True:
            result, retry_after = await self.get(operation_id, resource=resource, deadline=deadline)
            polls += 1
            if result.status is OperationStatus.SUCCEEDED:
                logger.debug("read %s succeeded after %d polls", operation_id, polls)
                return result
            if result.status is OperationStatus.FAILED:
                raise ReadOperationFailedError(
                    f"Read operation {operation_id} failed", operation_id=operation_id, request_id=result.request_id
                )
            state = result.status.value if result.status is not None else "without a status"
            wait = retry_after if retry_after is not None else backoff
            backoff = min(MAX_POLL_WAIT, backoff * 2)
            if self._clock() + wait > deadline:
                raise APITimeoutError(
                    f"Read operation {operation_id} still {state} after {timeout}s ({polls} polls)",
                    request_id=result.request_id,
                )
            logger.debug("read %s is %s; polling again in %.3fs", operation_id, state, wait)
            await self._sleep(wait)
