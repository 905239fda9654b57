"""The response-body cap: one rule for every transport.

A 2xx body larger than the request's ``max_body`` is a :class:`~vision_async.ResponseTooLargeError`
(raised before reading when the length is declared); any other body is cut at
:data:`ERROR_BODY_CAP` (or ``max_body``, if smaller) without an error, so that the status error is
still built from what was read.
"""

from __future__ import annotations

from collections.abc import AsyncIterable

from .._errors import ResponseTooLargeError

__all__ = ["ERROR_BODY_CAP", "body_cap", "declared_length", "read_capped", "too_large"]

#: At most this much of a non-2xx body is read (enough for any error JSON or gateway page).
ERROR_BODY_CAP = 64 * 1024


def body_cap(status: int, max_body: int | None) -> int | None:
    """The most bytes of body to read for an answer of ``status`` (``None``: no cap)."""
    if 200 <= status < 300:
        return max_body
    return ERROR_BODY_CAP if max_body is None else min(max_body, ERROR_BODY_CAP)


def too_large(declared: int | None, limit: int) -> ResponseTooLargeError:
    if declared is not None:
        return ResponseTooLargeError(
            f"the response declares {declared} bytes, above the cap of {limit} bytes", limit=limit
        )
    return ResponseTooLargeError(f"the response grew past the cap of {limit} bytes; reading stopped", limit=limit)


def declared_length(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else None


async def read_capped(chunks: AsyncIterable[bytes], *, status: int, declared: int | None, limit: int | None) -> bytes:
    """Read a body from ``chunks``, never holding much more than the cap.

    A 2xx body larger than ``limit`` raises :class:`ResponseTooLargeError` (before reading, when
    the length is declared). Any other body is cut at :data:`ERROR_BODY_CAP` (or ``limit``, if
    smaller) without an error: the caller still builds the status error from what was read.
    """
    success = 200 <= status < 300
    cap = body_cap(status, limit)
    if success and cap is not None and declared is not None and declared > cap:
        raise too_large(declared, cap)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if cap is not None and size > cap:
            if success:
                raise too_large(None, cap)
            parts.append(chunk[: len(chunk) - (size - cap)])
            break
        parts.append(chunk)
    return b"".join(parts)
