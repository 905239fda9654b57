"""The one boundary: foreign exceptions (httpx, httpcore, h11, aiohttp, anyio, OSError) are
recognised here and given their vision_async class, and every transport's ``send`` ends in
:func:`send_failure`, which redacts the request's secrets and scrubs the foreign frames' locals.

Nothing here imports a networking library at module level: each library's classes are looked up
only once that library is loaded (an exception of it cannot exist before). Every transport and the
pool use :func:`translate_exception` through :func:`send_failure`.
"""

from __future__ import annotations

import functools
import sys
import traceback
from typing import TYPE_CHECKING

import anyio

from .._errors import (
    APIConnectionError,
    APITimeoutError,
    CertificateVerificationError,
    ResponseValidationError,
    VisionError,
    redact_error,
)
from .._secrets import Redactor
from .base import closed_error

if TYPE_CHECKING:
    from .base import OutgoingRequest

__all__ = [
    "aiohttp_errors",
    "describe",
    "exception_chain",
    "scrub_traceback",
    "send_failure",
    "timeout_error",
    "translate_aiohttp_exception",
    "translate_exception",
    "translate_failure",
]

# Checked in order; the first base class that matches wins. Every exception class that httpx,
# httpcore, h11 and aiohttp export is covered (tests/transports/test_transport.py enumerates them).
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    # anyio streams and the OS (ssl.SSLError is an OSError)
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    anyio.IncompleteRead,
    OSError,
)


def _httpx_class(exc: BaseException) -> type[VisionError] | None:
    """httpx's classes, looked up only when httpx is loaded (else none of its exceptions exists)."""
    httpx = sys.modules.get("httpx")
    if httpx is None:
        return None
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError
    if isinstance(exc, httpx.DecodingError):
        return ResponseValidationError
    # transport, protocol and stream errors, and a URL it cannot send to
    if isinstance(exc, httpx.HTTPError | httpx.InvalidURL | httpx.CookieConflict | httpx.StreamError):
        return APIConnectionError
    return None


def _httpcore_h11_class(exc: BaseException) -> type[VisionError] | None:
    """httpcore's and h11's classes (imported only once one of them raised: httpcore pulls in
    trio when it is installed, which would double the import time of vision_async)."""
    import h11
    import httpcore

    if isinstance(exc, httpcore.TimeoutException):
        return APITimeoutError
    if isinstance(
        exc,
        httpcore.NetworkError
        | httpcore.ProtocolError
        | httpcore.ProxyError
        | httpcore.UnsupportedProtocol
        | httpcore.ConnectionNotAvailable
        | h11.ProtocolError,
    ):
        return APIConnectionError
    return None


def _certificate_failure(exc: BaseException) -> str | None:
    """The reason when ``exc`` (or what it wraps) is a failed certificate check, else ``None``."""
    ssl = sys.modules.get("ssl")  # not loaded: no TLS happened (and `import vision_async` stays light)
    for seen in exception_chain(exc)[:6]:
        if ssl is not None and isinstance(seen, ssl.SSLCertVerificationError):
            return getattr(seen, "verify_message", None) or "certificate verify failed"
        if type(seen).__name__ in ("ClientConnectorCertificateError", "ServerCertificateError"):
            return "certificate verify failed"
        try:
            text = str(seen)
        except Exception:  # a foreign exception whose __str__ fails (built without its arguments)
            text = ""
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return "certificate verify failed"
    return None


def translate_exception(exc: BaseException, *, what: str) -> VisionError | None:
    """The vision_async exception for a foreign one raised while sending, or ``None``.

    ``None`` means "not a networking failure": the original exception propagates untouched
    (a bug in a user's transport should not be disguised as a connection error).
    """
    if isinstance(exc, VisionError):
        return exc
    certificate = _certificate_failure(exc)
    if certificate is not None:
        return CertificateVerificationError(f"{what}: the server's TLS certificate was not accepted: {certificate}")
    if type(exc).__module__.startswith("aiohttp"):
        return translate_aiohttp_exception(exc, what=what)
    if type(exc).__module__.startswith(("httpcore", "h11")):
        cls = _httpcore_h11_class(exc)
        if cls is APITimeoutError:
            return APITimeoutError(f"{what}: timed out ({type(exc).__name__})")
        if cls is None:
            return None
        detail = describe(exc)
        return APIConnectionError(f"{what}: {type(exc).__name__}" + (f": {detail}" if detail else ""))
    cls = _httpx_class(exc)
    if cls is APITimeoutError or isinstance(exc, TimeoutError):
        return APITimeoutError(f"{what}: timed out ({type(exc).__name__})")
    if cls is ResponseValidationError:
        return ResponseValidationError(f"{what}: the response body could not be decoded ({exc})")
    if cls is APIConnectionError or isinstance(exc, _CONNECTION_ERRORS):
        detail = describe(exc)
        return APIConnectionError(f"{what}: {type(exc).__name__}" + (f": {detail}" if detail else ""))
    return None


def describe(exc: BaseException) -> str:
    """``str(exc)``, or "" when the foreign exception cannot even print itself."""
    try:
        return str(exc)
    except Exception:
        return ""


# Every exception class aiohttp exports, by name, mapped (first match wins; tests enumerate
# aiohttp's own list against this table). Names a given aiohttp version lacks are skipped.
_TABLE: tuple[tuple[str, type[VisionError]], ...] = (
    ("ServerTimeoutError", APITimeoutError),  # incl. ConnectionTimeoutError, SocketTimeoutError
    ("ClientPayloadError", APIConnectionError),  # a body cut short or malformed
    ("ClientConnectionError", APIConnectionError),  # connector, DNS, OS, SSL, disconnect, reset
    ("ClientResponseError", APIConnectionError),  # content type, redirects, proxy, handshake
    ("InvalidURL", APIConnectionError),
    ("NonHttpUrlClientError", APIConnectionError),
    ("RedirectClientError", APIConnectionError),
    ("UploadAbortedError", APIConnectionError),
    ("ClientError", APIConnectionError),
    ("EofStream", APIConnectionError),
    ("WebSocketError", APIConnectionError),
    ("WSMessageTypeError", APIConnectionError),
    ("BadContentDispositionHeader", APIConnectionError),
    ("BadContentDispositionParam", APIConnectionError),
)


def _lookup(name: str) -> type[BaseException] | None:
    import aiohttp  # loaded already: only the aiohttp transport, or an aiohttp exception, gets here
    import aiohttp.client_exceptions
    import aiohttp.streams

    for module in (aiohttp, aiohttp.client_exceptions, aiohttp.streams):
        found = getattr(module, name, None)
        if isinstance(found, type) and issubclass(found, BaseException):
            return found
    return None


@functools.cache
def aiohttp_errors() -> tuple[tuple[type[BaseException], type[VisionError]], ...]:
    """aiohttp's exception classes with their vision_async class, in the table's order."""
    return tuple((cls, mapped) for name, mapped in _TABLE if (cls := _lookup(name)) is not None)


def translate_aiohttp_exception(exc: BaseException, *, what: str) -> VisionError | None:
    """The vision_async exception for an aiohttp one (``None``: not aiohttp's)."""
    for cls, mapped in aiohttp_errors():
        if isinstance(exc, cls):
            detail = describe(exc)
            return mapped(f"{what}: {type(exc).__name__}" + (f": {detail}" if detail else ""))
    return None


# -- the one boundary ----------------------------------------------------------------------------


def scrub_traceback(exc: BaseException) -> None:
    """Clear the locals of every finished frame on ``exc``'s traceback (and its causes').

    A foreign exception raised while a request was written has the wire headers (the key or
    token) in the locals of library frames; a locals-capturing renderer (Sentry, rich) would
    show them under the VisionError that chains to it.
    """
    for link in exception_chain(exc):
        traceback.clear_frames(link.__traceback__)


def translate_failure(exc: Exception, request: OutgoingRequest, *, closed: bool = False) -> VisionError | None:
    """What a transport raises (``from exc``) for ``exc``, or ``None`` to let ``exc`` through.

    ClientClosedError when the transport was closed under the request; else the translated
    error, with the request's own secrets redacted from its message (a server or proxy may echo
    them into the text that the foreign exception quotes), and ``exc``'s frames scrubbed.
    """
    mapped = closed_error() if closed else translate_exception(exc, what=request.what)
    if mapped is None:
        return None
    scrub_traceback(exc)
    secrets = [value.reveal() for _, value in request.headers if not isinstance(value, str)]
    if secrets:
        redact = Redactor(secrets)
        for error in [mapped, *exception_chain(exc)]:
            redact_error(error, redact)
    return mapped


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes (or contexts), each once, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def send_failure(exc: Exception, request: OutgoingRequest, *, closed: bool = False) -> Exception:
    """The one boundary every transport's ``send`` ends in: what to raise for ``exc``.

    The attempt timeout (a ``TimeoutError`` from the transport's own deadline) becomes
    :class:`APITimeoutError`; a VisionError stays itself; a foreign networking error is translated
    (:func:`translate_failure`); anything else is ``exc`` itself (a bug is not disguised).
    The caller raises the result ``from exc`` unless it is ``exc``.
    """
    if isinstance(exc, TimeoutError):
        scrub_traceback(exc)
        return timeout_error(request)
    if isinstance(exc, VisionError):
        return exc
    mapped = translate_failure(exc, request, closed=closed)
    return exc if mapped is None else mapped


def timeout_error(request: OutgoingRequest) -> APITimeoutError:
    return APITimeoutError(f"{request.what}: no complete answer within the attempt timeout of {request.timeout}s")
