"""The exception tree of vision_async, and the mapping from HTTP responses to it.

Every exception the library raises derives from :class:`VisionError`::

    VisionError
    ├── InvalidInputError (also ValueError)    bad input, caught before any request
    ├── ConfigurationError (also ValueError)   no endpoint/key, insecure endpoint
    ├── ClientClosedError (also RuntimeError)  the client was closed
    ├── CredentialError                        the credential could not provide a token
    ├── CircuitOpenError                       the breaker refused the call; nothing was sent
    └── APIError                               something happened on the wire
        ├── APIConnectionError                 no usable response (DNS, refused, reset, ...)
        │   ├── ProxyError                     the proxy was unreachable or refused the tunnel
        │   ├── CertificateVerificationError   the server's certificate failed (not retried)
        │   └── APITimeoutError                an attempt or the total deadline ran out
        │       ├── RateLimitTimeout           the rate limit's next token comes after the deadline
        │       └── CooldownTimeout            a 429 cool-down lasts beyond the deadline
        ├── ResponseValidationError            a 2xx body that is not what the spec says
        │   └── ResponseTooLargeError          a body past the client's cap for its operation
        ├── ReadOperationFailedError           a Read operation ended with status "failed"
        └── APIStatusError                     the service answered with an error status
            ├── BadRequestError                400
            ├── AuthenticationError            401
            │   └── ProxyAuthenticationError   407 from the proxy (not retried)
            ├── PermissionDeniedError          403
            ├── NotFoundError                  404
            ├── UnsupportedMediaTypeError      415
            ├── RateLimitError                 429
            └── InternalServerError            >= 500
                └── ServiceUnavailableError    503

Exceptions never carry the subscription key, a bearer token or image bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CertificateVerificationError",
    "CircuitOpenError",
    "ClientClosedError",
    "ConfigurationError",
    "CooldownTimeout",
    "CredentialError",
    "InternalServerError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProxyAuthenticationError",
    "ProxyError",
    "RateLimitError",
    "RateLimitTimeout",
    "ReadOperationFailedError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "ServiceUnavailableError",
    "UnsupportedMediaTypeError",
    "VisionError",
    "error_from_response",
    "redact_error",
]


class VisionError(Exception):
    """Root of every exception raised by vision_async.

    ``resource``: the root URL of the Azure resource that answered (or failed), when one did.
    """

    request_id: str | None = None
    resource: str | None = None


class InvalidInputError(VisionError, ValueError):
    """An argument failed local validation; no request was sent."""


class ConfigurationError(VisionError, ValueError):
    """The client cannot be built as configured (missing endpoint or key, insecure endpoint)."""


class ClientClosedError(VisionError, RuntimeError):
    """The client was used after :meth:`VisionClient.aclose`."""


class CredentialError(VisionError):
    """The credential's ``get_token`` failed or returned something unusable; nothing was sent.
    The credential's own exception is the ``__cause__``."""


class CircuitOpenError(VisionError):
    """The circuit breaker is open (or a half-open probe is in flight); nothing was sent.

    ``retry_after`` is how many seconds remain until the breaker lets a probe through
    (0.0 when a probe is already in flight and the answer is imminent).
    """

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class APIError(VisionError):
    """Something went wrong on the wire or in the service."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.message} (request id {self.request_id})"
        return self.message


class APIConnectionError(APIError):
    """No usable response arrived: the connection failed, broke or was refused."""


class ProxyError(APIConnectionError):
    """The proxy could not be reached, or answered ``CONNECT`` with a status other than 200.

    ``proxy`` is its ``host:port`` (never its credentials); ``status_code`` the proxy's status, if any.
    """

    def __init__(self, message: str, *, proxy: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.proxy = proxy
        self.status_code = status_code


class CertificateVerificationError(APIConnectionError):
    """The server's TLS certificate could not be verified (untrusted CA, wrong name, expired).

    Not retried: the same certificate fails the same way. Fix the trust store (``verify=``).
    """


class APITimeoutError(APIConnectionError):
    """An attempt, or the whole call including retries, ran out of time."""


class RateLimitTimeout(APITimeoutError):
    """The next token would come after the call's deadline, so the call failed at once.

    ``wait`` is how long the caller would have had to wait for its token (seconds; an estimate
    when the token state is shared).
    """

    def __init__(self, message: str, *, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class CooldownTimeout(APITimeoutError):
    """The cool-down after a 429 lasts beyond the call's total deadline; nothing was sent."""


class ResponseValidationError(APIError):
    """A successful response whose body does not match the API specification."""


class ResponseTooLargeError(ResponseValidationError):
    """A response body grew past the client's cap for its kind of operation; reading stopped there."""

    def __init__(self, message: str, *, limit: int, request_id: str | None = None) -> None:
        super().__init__(message, request_id=request_id)
        self.limit = limit


class ReadOperationFailedError(APIError):
    """A Read operation finished with status ``failed``."""

    def __init__(self, message: str, *, operation_id: str, request_id: str | None = None) -> None:
        super().__init__(message, request_id=request_id)
        self.operation_id = operation_id


class APIStatusError(APIError):
    """The service answered with an error status.

    ``code`` is the outer error code (``InvalidRequest``, ``429``, ...), ``inner_code`` the
    more specific one (``InvalidImageUrl``, ``NotSupportedLanguage``, ...) when the service
    sent one; ``retry_after`` the wait the service asked for, in seconds, if any.
    """

    def __init__(
        self,
        status_code: int,
        code: str | None = None,
        inner_code: str | None = None,
        message: str = "",
        request_id: str | None = None,
        *,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.status_code = status_code
        self.code = code
        self.inner_code = inner_code
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        codes = "/".join(c for c in (self.code, self.inner_code) if c)
        head = f"HTTP {self.status_code}" + (f" {codes}" if codes else "")
        return f"{head}: {super().__str__()}"


class BadRequestError(APIStatusError):
    """400: the request was rejected (bad image, bad argument, unsupported feature, ...)."""


class AuthenticationError(APIStatusError):
    """401: the key or token was refused."""


class ProxyAuthenticationError(AuthenticationError):
    """407: the proxy refused its credentials (or asked for some). Not retried."""


class PermissionDeniedError(APIStatusError):
    """403: the key is valid but not allowed to do this (quota exhausted, wrong region, ...)."""


class NotFoundError(APIStatusError):
    """404: no such resource, path or operation id."""


class UnsupportedMediaTypeError(APIStatusError):
    """415: the request's content type is not accepted."""


class RateLimitError(APIStatusError):
    """429: the rate limit of the pricing tier was exceeded."""


class InternalServerError(APIStatusError):
    """5xx: the service failed."""


class ServiceUnavailableError(InternalServerError):
    """503: the service is temporarily unavailable."""


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    415: UnsupportedMediaTypeError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}

E = TypeVar("E", bound=BaseException)

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def status_class(status_code: int) -> type[APIStatusError]:
    """The most specific :class:`APIStatusError` subclass for ``status_code``."""
    cls = _STATUS_CLASSES.get(status_code)
    if cls is not None:
        return cls
    if status_code >= 500:
        return InternalServerError
    return APIStatusError


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def parse_error_body(
    content: bytes, *, redact: Callable[[str], str] | None = None
) -> tuple[Any, str | None, str | None, str | None, str | None]:
    """Read an error body in any shape Azure uses.

    Returns ``(parsed_json_or_None, code, inner_code, message, request_id)``. Understands the
    v3.2 shape ``{"error": {"code", "message", "innererror": {"code", "message"}}}``, the flat
    ``{"code", "message", "requestId"}`` shape of Read and older versions, and anything else
    (an HTML page from a gateway) as plain text, cut to 200 characters.

    ``redact`` is applied to the whole body text before anything is taken from it, so that a
    secret the server reflected can surface neither whole nor cut in half by the excerpt.
    """
    text = content.decode("utf-8", "replace") if content else ""
    if redact is not None:
        text = redact(text)
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, Mapping):
        error = data.get("error")
        node: Mapping[str, Any] = error if isinstance(error, Mapping) else data
        code = _str_or_none(node.get("code"))
        message = _str_or_none(node.get("message"))
        inner = node.get("innererror") or node.get("innerError")
        inner_code = None
        if isinstance(inner, Mapping):
            inner_code = _str_or_none(inner.get("code"))
            inner_message = _str_or_none(inner.get("message"))
            if inner_message and (not message or inner_message not in message):
                message = f"{message}: {inner_message}" if message else inner_message
        request_id = _str_or_none(data.get("requestId") or node.get("requestId"))
        return data, code, inner_code, message, request_id
    text = _SPACE.sub(" ", _TAG.sub(" ", text)).strip()
    return None, None, None, (text[:200] or None), None


def error_from_response(
    status_code: int,
    reason: str,
    content: bytes,
    *,
    request_id: str | None,
    retry_after: float | None,
    redact: Callable[[str], str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> APIStatusError:
    """Build the typed error for a non-2xx response.

    ``redact`` (the client's :class:`~vision_async._secrets.Redactor`) is applied to every text
    the server supplied (body, message, codes, reason phrase, request id) before it enters the
    exception: a gateway that reflects request headers must not put the key into ``str(error)``.
    ``headers``: the response's, for the ``x-ms-error-code`` header when the body names no code.
    """
    data, code, inner_code, message, body_request_id = parse_error_body(content, redact=redact)
    if not code and headers is not None:
        header_code = headers.get("x-ms-error-code")
        if header_code:
            code = redact(header_code) if redact is not None else header_code
    if not message:
        message = (redact(reason) if redact is not None and reason else reason) or "no message"
    request_id = request_id or body_request_id
    if redact is not None and request_id:
        request_id = redact(request_id)
    cls = status_class(status_code)
    return cls(
        status_code,
        code=code,
        message=message,
        inner_code=inner_code,
        request_id=request_id,
        retry_after=retry_after,
        body=data,
    )


def redact_error(error: E, redact: Callable[[str], str] | None) -> E:
    """Apply ``redact`` (a :class:`~vision_async._secrets.Redactor`) in place to every text
    ``error`` carries, and return it: the one routine for exceptions, ours and foreign ones.

    For errors built from text a foreign library or the server supplied (a transport error that
    quotes a malformed header, a validation error quoting the body): the args ``repr`` shows (text
    and bytes), a ``message`` or ``msg`` attribute, the request id and, for status errors, the
    codes and the parsed body. An attribute that cannot be set is left as it is.
    """
    if redact is None:
        return error
    try:
        error.args = tuple(_redact_arg(a, redact) for a in error.args)
        for name in ("message", "msg", "request_id"):
            value = getattr(error, name, None)
            if isinstance(value, str) and value:
                setattr(error, name, redact(value))
    except (AttributeError, TypeError):  # a read-only attribute of a foreign exception
        pass
    if isinstance(error, APIStatusError):
        error.code = redact(error.code) if error.code else error.code
        error.inner_code = redact(error.inner_code) if error.inner_code else error.inner_code
        error.body = _redact_json(error.body, redact)
    return error


def _redact_arg(value: object, redact: Callable[[str], str]) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes | bytearray):  # latin-1 maps every byte to one character and back
        return redact(bytes(value).decode("latin-1")).encode("latin-1")
    return value


def _redact_json(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(str(k)): _redact_json(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_json(v, redact) for v in value]
    return value
