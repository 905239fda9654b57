"""What one outcome looks like as plain data: the ``error`` record and the wire form of a result.

The batch CLI's JSON lines and the Spark integration's columns both write outcomes this way, so
that a failed item reads the same wherever it is stored.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from typing import Any

from ._core.images import sniff_format
from ._errors import APIError, APIStatusError, VisionError

__all__ = ["ERROR_FIELDS", "error_record", "jsonable", "result_record", "thumbnail_record"]

#: The fields of an error record, in order: the exception's class name, the HTTP status, the
#: service's error code and inner code, the message (secrets redacted), the request id. Every
#: field but ``class`` and ``message`` may be None.
ERROR_FIELDS = ("class", "status", "code", "inner_code", "message", "request_id")


def error_record(exc: VisionError) -> dict[str, Any]:
    """The error of one outcome as a record with :data:`ERROR_FIELDS`."""
    status = exc if isinstance(exc, APIStatusError) else None
    return {
        "class": type(exc).__name__,
        "status": status.status_code if status is not None else None,
        "code": status.code if status is not None else None,
        "inner_code": status.inner_code if status is not None else None,
        "message": exc.message if isinstance(exc, APIError) else str(exc),
        "request_id": exc.request_id,
    }


def jsonable(value: Any) -> Any:
    """``json.dumps``'s ``default=``: a dataclass as its fields, anything else as its ``str``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def thumbnail_record(data: bytes) -> dict[str, Any]:
    """A thumbnail's format and size (without its bytes)."""
    return {"format": sniff_format(data) or "BIN", "bytes": len(data)}


def result_record(result: Any) -> Any:
    """A result in its wire form: the response body as the service sent it (``raw``), a thumbnail as
    its format, size and base64 bytes; a result without a body as its fields."""
    if isinstance(result, bytes):
        return {**thumbnail_record(result), "base64": base64.b64encode(result).decode("ascii")}
    raw = getattr(result, "raw", None)
    if isinstance(raw, Mapping):
        return dict(raw)
    return jsonable(result) if dataclasses.is_dataclass(result) else result
