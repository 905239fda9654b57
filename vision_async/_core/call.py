"""One logical call as the layers see it, the successful Response, and how layers compose."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import quote_plus

from .._errors import ClientClosedError, ResponseValidationError
from .parse import load_json_object

#: A caller that wants to know how many attempts its calls took sets this to ``[0]`` in its own
#: task (``client.batch`` does, per input); every attempt of calls made in that context adds one.
attempt_counter: ContextVar[list[int] | None] = ContextVar("vision_async_attempts", default=None)

__all__ = [
    "attempt_counter",
    "encode_query",
    "Call",
    "Handler",
    "Layer",
    "Response",
    "closed_in_flight",
    "compose",
    "request_id_of",
]


REQUEST_ID_HEADERS = ("apim-request-id", "x-ms-request-id", "x-request-id")


class _FromJson(Protocol):
    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> Any: ...


R = TypeVar("R", bound=_FromJson)


@dataclass(slots=True)
class Response:
    """A successful answer: status, headers, body, the request id and the resource that answered."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    request_id: str | None
    resource: str | None = None
    attempts: int = 1
    redact: Callable[[str], str] | None = None  # the client's secrets out of server text

    def __repr__(self) -> str:  # the body and headers may echo a secret back: never show them
        return f"Response({self.status_code}, {len(self.content)} bytes, request_id={self.request_id!r})"

    def parse(self, cls: type[R], operation: str) -> R:
        """The body as a ``cls`` result; any mismatch is a ResponseValidationError with the request id."""
        try:
            result: R = cls.from_json(
                load_json_object(self.content, operation, redact=self.redact), request_id=self.request_id
            )
        except ResponseValidationError as exc:
            exc.request_id = exc.request_id or self.request_id
            exc.resource = self.resource
            raise
        if self.resource is not None and hasattr(result, "resource"):
            object.__setattr__(result, "resource", self.resource)  # a frozen result, filled in once here
        return result


def request_id_of(headers: Mapping[str, str]) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


@dataclass(slots=True, eq=False)
class Call:
    """One logical call as the layers see it."""

    operation: str
    method: str
    path: str  # below the resource's root URL, e.g. "/vision/v3.2/tag"
    query: str = ""  # already encoded, without "?"
    content: bytes | None = None
    content_type: str | None = None
    expect: int = 200
    accept: str = "application/json"
    max_body: int | None = None
    deadline: float | None = None  # on the client's clock; None: no total deadline
    attempts: int = 0
    upstream: object | None = None  # a Upstream: pinned: every attempt goes to this resource (Read polling)
    avoid: object | None = None  # a Upstream  # the resource whose attempt just failed: a retry prefers another


Handler = Callable[[Call], Awaitable[Response]]


class Layer(Protocol):
    """One step of the chain: wraps the handler of the steps inside it."""

    def wrap(self, inner: Handler) -> Handler: ...


def compose(layers: Sequence[Layer | None], terminal: Handler) -> Handler:
    """``layers[0]`` outermost; ``None`` entries (layers switched off) are skipped."""
    handler = terminal
    for layer in reversed(layers):
        if layer is not None:
            handler = layer.wrap(handler)
    return handler


_PLAIN = re.compile(r"[A-Za-z0-9_.~,-]*\Z")


def encode_query(params: Mapping[str, str]) -> str:
    """``params`` as a query string; values made only of unreserved characters (and commas, which
    a query may hold as they are) skip percent-encoding, the common case."""
    return "&".join(
        f"{key}={value}"
        if _PLAIN.match(key) and _PLAIN.match(value)
        else f"{quote_plus(key)}={quote_plus(value, safe=',')}"
        for key, value in params.items()
    )


def closed_in_flight(operation: str) -> ClientClosedError:
    return ClientClosedError(f"{operation}: the client was closed while the call was in flight")
