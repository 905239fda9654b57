"""The resilience pipeline, in one place, from the outside in:

    total deadline -> retry (tenacity) -> circuit breaker (pybreaker) -> attempt timeout -> send

Each layer is its own small object (:class:`Retrier`, :class:`Breaker`, :class:`Transport`);
this module only composes them and turns HTTP answers into results or typed errors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import anyio
import httpx

from .._errors import APIStatusError, APITimeoutError, ResponseValidationError, VisionError, error_from_response
from .._resilience.breaker import Breaker, Outcome, counts_as_failure
from .._resilience.retry import Retrier, parse_retry_after
from .._transports.base import RawResponse, Transport
from .auth import Auth
from .parse import load_json_object

__all__ = ["Pipeline", "Response"]

logger = logging.getLogger("vision_async.pipeline")

REQUEST_ID_HEADERS = ("apim-request-id", "x-ms-request-id", "x-request-id")


class _FromJson(Protocol):
    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> Any: ...


R = TypeVar("R", bound=_FromJson)


@dataclass(slots=True)
class Response:
    """A successful answer: status, headers, body and the request id."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    request_id: str | None

    def parse(self, cls: type[R], operation: str) -> R:
        """The body as a ``cls`` result; any mismatch is a ResponseValidationError with the request id."""
        try:
            result: R = cls.from_json(load_json_object(self.content, operation), request_id=self.request_id)
        except ResponseValidationError as exc:
            exc.request_id = exc.request_id or self.request_id
            raise
        return result


def request_id_of(headers: Mapping[str, str]) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


class Pipeline:
    """Sends one logical call: every attempt, wait and breaker decision behind it."""

    def __init__(
        self,
        *,
        transport: Transport,
        auth: Auth,
        base_url: str,
        user_agent: str,
        timeout: float | None,
        retrier: Retrier | None,
        breaker: Breaker | None,
        total_timeout: float | None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._transport = transport
        self._auth = auth
        self._base_url = base_url
        self._user_agent = user_agent
        self._timeout = timeout
        self._timeout_ext = (
            {"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}}
            if timeout is not None
            else {}
        )
        self.retrier = retrier
        self.breaker = breaker
        self._total_timeout = total_timeout
        self._wall_clock = wall_clock

    async def call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
        expect: int = 200,
        url: str | None = None,
    ) -> Response:
        """Send ``method path`` through the whole pipeline and return the ``expect``-ed answer."""
        target = url if url is not None else self._base_url + path

        async def attempt() -> Response:
            return await self._attempt(operation, method, target, params, content, content_type, expect)

        return await self.run(operation, attempt)

    async def run(self, operation: str, attempt: Callable[[], Awaitable[Response]]) -> Response:
        """Run ``attempt`` under the total deadline and the retry policy."""
        if self.retrier is None:
            return await attempt()
        if self._total_timeout is None:
            return await self.retrier.call(attempt, operation=operation)
        try:
            with anyio.fail_after(self._total_timeout):
                return await self.retrier.call(attempt, operation=operation)
        except TimeoutError as exc:
            raise APITimeoutError(f"{operation}: the total deadline of {self._total_timeout}s ran out") from exc

    async def _attempt(
        self,
        operation: str,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        content: bytes | None,
        content_type: str | None,
        expect: int,
    ) -> Response:
        breaker = self.breaker
        ticket = breaker.admit() if breaker is not None else None
        outcome: Outcome = "neutral"
        try:
            name, value = await self._auth.header()
            headers = {"Accept": "application/json", "User-Agent": self._user_agent, name: value}
            if content_type is not None:
                headers["Content-Type"] = content_type
            request = httpx.Request(
                method, url, params=params, headers=headers, content=content, extensions=self._timeout_ext
            )
            try:
                raw = await self._transport.send(request, timeout=self._timeout)
            except VisionError as exc:
                outcome = "failure" if counts_as_failure(exc) else "success"
                raise
            if raw.status_code != expect:
                error = self._error(operation, raw)
                outcome = "failure" if counts_as_failure(error) else "success"
                raise error
            outcome = "success"
            return Response(raw.status_code, raw.headers, raw.content, request_id_of(raw.headers))
        finally:
            if ticket is not None and breaker is not None:
                breaker.record(ticket, outcome)

    def _error(self, operation: str, raw: RawResponse) -> VisionError:
        request_id = request_id_of(raw.headers)
        if 200 <= raw.status_code < 300:
            return ResponseValidationError(
                f"{operation}: unexpected success status {raw.status_code}", request_id=request_id
            )
        retry_after = None
        if raw.status_code == 429 or raw.status_code >= 500:
            retry_after = parse_retry_after(raw.headers, raw.content, now=self._wall_clock)
        error: APIStatusError = error_from_response(
            raw.status_code, raw.reason, raw.content, request_id=request_id, retry_after=retry_after
        )
        if 300 <= raw.status_code < 400:
            error.message = (
                f"{operation}: the service answered with a redirect ({raw.status_code}); redirects are "
                "not followed, so that the key is never sent elsewhere. Check the endpoint."
            )
        logger.debug("%s: HTTP %d %s/%s", operation, raw.status_code, error.code, error.inner_code)
        return error
