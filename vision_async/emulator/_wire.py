"""The emulator's wire details: error bodies in the service's shapes, and query validation."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from starlette.responses import Response

from .._v32.features import (
    MODEL_VERSION_PATTERN,
    OCR_LANGUAGES,
    PAGE_RANGE_PATTERN,
    READ_LANGUAGES,
    SERVICE_LANGUAGES,
    Detail,
    VisualFeature,
    lookup_table,
)

__all__ = ["ApiError", "json_response"]

#: Model versions the emulator knows, and what "latest" means.
ANALYSIS_MODELS = {"latest": "2021-05-01", "2021-04-01": "2021-04-01", "2021-05-01": "2021-05-01"}
READ_MODELS = {
    "latest": "2022-04-30",
    "2021-04-12": "2021-04-12",
    "2022-01-30-preview": "2022-01-30-preview",
    "2022-04-30": "2022-04-30",
}

_FEATURES = lookup_table(f.value for f in VisualFeature)
_DETAILS = lookup_table(d.value for d in Detail)
DOMAIN_MODELS = {"celebrities": ("people_",), "landmarks": ("outdoor_", "building_")}

_SERVICE_LANGS = lookup_table(SERVICE_LANGUAGES)
_OCR_LANGS = lookup_table(OCR_LANGUAGES)
_READ_LANGS = lookup_table(READ_LANGUAGES)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")).encode(),
        status_code=status,
        headers=headers,
        media_type="application/json; charset=utf-8",
    )


class ApiError(Exception):
    """An error answer. ``flat`` selects Read's ``{code, message, requestId}`` shape over
    the v3.2 ``{"error": {code, message, innererror}}`` shape."""

    def __init__(
        self,
        status: int,
        inner: str,
        message: str,
        *,
        code: str | None = None,
        flat: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.inner = inner
        self.message = message
        self.code = code
        self.flat = flat
        self.headers = headers or {}

    def response(self, request_id: str) -> Response:
        if self.flat:
            body: dict[str, Any] = {"code": self.inner, "message": self.message, "requestId": request_id}
        elif self.code is not None and self.inner == "":
            body = {"error": {"code": self.code, "message": self.message}}
        else:
            outer = self.code or ("InternalServerError" if self.status >= 500 else "InvalidRequest")
            body = {
                "error": {
                    "code": outer,
                    "message": self.message,
                    "innererror": {"code": self.inner, "message": self.message},
                },
                "requestId": request_id,
            }
        return json_response(body, self.status, self.headers)


def gateway_error(status: int, message: str, headers: dict[str, str] | None = None) -> ApiError:
    """The API gateway's shape: {"error": {"code": "<status>", "message": ...}} (401, 404, 429)."""
    return ApiError(status, "", message, code=str(status), headers=headers)


def _csv(value: str | None) -> list[str]:
    if value is None:
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def pick(values: Iterable[str], table: dict[str, str], inner: str, what: str) -> list[str]:
    out = []
    for value in values:
        found = table.get(value.lower())
        if found is None:
            raise ApiError(400, inner, f"Invalid {what}: '{value}'. Valid values: {', '.join(table.values())}.")
        out.append(found)
    return out


def features(value: str | None) -> list[str]:
    return pick(_csv(value), _FEATURES, "NotSupportedVisualFeature", "visual feature")


def details(value: str | None) -> list[str]:
    return pick(_csv(value), _DETAILS, "InvalidDetails", "details")


def description_exclude(value: str | None) -> list[str]:
    return pick(_csv(value), _DETAILS, "BadArgument", "descriptionExclude")


def service_language(value: str | None) -> str:
    found = _SERVICE_LANGS.get((value or "en").lower())
    if found is None:
        raise ApiError(400, "NotSupportedLanguage", f"The language '{value}' is not supported.")
    return found


def ocr_language(value: str | None) -> str:
    found = _OCR_LANGS.get((value or "unk").lower())
    if found is None:
        raise ApiError(400, "NotSupportedLanguage", f"The language '{value}' is not supported.")
    return found


def read_language(value: str | None) -> str | None:
    if value is None:
        return None
    found = _READ_LANGS.get(value.lower())
    if found is None:
        raise ApiError(400, "NotSupportedLanguage", f"The language '{value}' is not supported.", flat=True)
    return found


def model_version(value: str | None, known: dict[str, str], *, flat: bool = False) -> str:
    value = value or "latest"
    if not MODEL_VERSION_PATTERN.match(value):
        raise ApiError(400, "BadArgument", f"Invalid model-version '{value}'.", flat=flat)
    if value not in known:
        raise ApiError(
            400, "InvalidModel" if not flat else "BadArgument", f"Model version '{value}' is not available.", flat=flat
        )
    return known[value]


def boolean(value: str | None, name: str, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiError(400, "BadArgument", f"Invalid {name} '{value}': expected true or false.")


def integer(
    value: str | None, name: str, *, default: int | None, low: int, high: int, inner: str = "BadArgument"
) -> int:
    if value is None:
        if default is None:
            raise ApiError(400, inner, f"The {name} parameter is required.")
        return default
    try:
        number = int(value)
    except ValueError:
        raise ApiError(400, inner, f"Invalid {name} '{value}': expected an integer.") from None
    if not low <= number <= high:
        raise ApiError(400, inner, f"{name} must be between {low} and {high}.")
    return number


def pages(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [p.strip() for p in value.split(",")]
    if not items or any(not PAGE_RANGE_PATTERN.match(p) for p in items):
        raise ApiError(400, "InvalidPageRange", f"Invalid page range '{value}'.", flat=True)
    return items


def reading_order(value: str | None) -> str:
    value = value or "basic"
    if value.lower() not in ("basic", "natural"):
        raise ApiError(400, "InvalidReadingOrder", f"Invalid readingOrder '{value}': use basic or natural.", flat=True)
    return value.lower()
