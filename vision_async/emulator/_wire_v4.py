"""The 4.0 route's wire details: its error shape and the validation of its query.

Errors are ``{"error": {"code": "InvalidRequest", "message", "innererror": {"code", "message"}}}``
(the spec's ``Azure.Core.Foundations.ErrorResponse``, as the service fills it) with the outer code
repeated in the ``x-ms-error-code`` header, as Azure's REST guidelines ask. Inner codes follow the
service's 3.2 names (``InvalidImageFormat``, ``InvalidImageSize``, ``NotSupportedLanguage``, ...).
A missing or unknown ``api-version`` is the API gateway's 404, as on the service.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.responses import Response

from ..v4._options import (
    API_VERSION,
    ENGLISH_ONLY_FEATURES,
    LANGUAGE_PATTERN,
    MAX_ASPECT_RATIO,
    MIN_ASPECT_RATIO,
    MODEL_VERSION_PATTERN,
    Feature,
)
from ._wire import ApiError, gateway_error, json_response

__all__ = [
    "MAX_DIMENSION",
    "MAX_IMAGE_BYTES",
    "MODELS",
    "V4Error",
    "api_version",
    "aspect_ratios",
    "features",
    "gender_neutral",
    "language",
    "model_version",
    "v4_errors",
]

#: Model versions the emulator knows for 4.0, and what "latest" means.
MODELS = {"latest": "2023-10-01", "2023-10-01": "2023-10-01"}
#: Images must be less than 20 MB, and less than 16000 x 16000 pixels.
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_DIMENSION = 16000

_FEATURES = {f.value.lower(): f for f in Feature}


class V4Error(ApiError):
    """An error answer in the 4.0 shape (``outer_message`` is the body's top-level message)."""

    def __init__(self, status: int, inner: str, message: str, *, outer_message: str | None = None) -> None:
        outer = "InternalServerError" if status >= 500 else "InvalidRequest"
        super().__init__(status, inner, message, code=outer, headers={"x-ms-error-code": outer})
        self.outer_message = outer_message or message

    def response(self, request_id: str) -> Response:
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.outer_message,
            "innererror": {"code": self.inner, "message": self.message},
        }
        return json_response({"error": error}, self.status, self.headers)


@contextmanager
def v4_errors() -> Iterator[None]:
    """Re-shape errors raised by the helpers 4.0 shares with 3.2 (image input, pixels) as 4.0 errors;
    the gateway's errors (401, 404, 429) keep their shape, as on the service."""
    try:
        yield
    except V4Error:
        raise
    except ApiError as exc:
        if exc.inner == "":
            raise
        raise V4Error(exc.status, exc.inner, exc.message) from None


def api_version(value: str | None) -> str:
    if value != API_VERSION:
        raise gateway_error(404, "Resource not found")
    return value


def features(value: str | None) -> list[Feature]:
    names = [v.strip() for v in (value or "").split(",") if v.strip()]
    if not names:
        raise V4Error(400, "BadArgument", "At least one visual feature must be specified (query parameter 'features').")
    out: list[Feature] = []
    for name in names:
        found = _FEATURES.get(name.lower())
        if found is None:
            valid = ", ".join(f.value for f in Feature)
            raise V4Error(400, "NotSupportedVisualFeature", f"Invalid visual feature '{name}'. Valid values: {valid}.")
        if found not in out:
            out.append(found)
    return out


def language(value: str | None, wanted: list[Feature]) -> str:
    code = value if value is not None else "en"
    if not LANGUAGE_PATTERN.match(code):
        raise V4Error(400, "NotSupportedLanguage", f"The language '{code}' is not supported.")
    english_only = [f.value for f in wanted if f in ENGLISH_ONLY_FEATURES]
    if english_only and code.lower() != "en":
        raise V4Error(
            400,
            "NotSupportedLanguage",
            f"The language '{code}' is not supported for {', '.join(english_only)}: captions are English only.",
        )
    return code


def gender_neutral(value: str | None) -> bool:
    if value is None:
        return False
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise V4Error(400, "BadArgument", f"Invalid gender-neutral-caption '{value}': expected true or false.")


def aspect_ratios(value: str | None) -> list[float] | None:
    if value is None:
        return None
    out: list[float] = []
    for item in value.split(","):
        try:
            ratio = float(item)
        except ValueError:
            raise V4Error(400, "BadArgument", f"Invalid smartcrops-aspect-ratios value '{item}'.") from None
        if not MIN_ASPECT_RATIO <= ratio <= MAX_ASPECT_RATIO:
            raise V4Error(
                400,
                "InvalidAspectRatio",
                f"Aspect ratio {item} is out of range: supported values are between {MIN_ASPECT_RATIO} and "
                f"{MAX_ASPECT_RATIO} (inclusive).",
            )
        out.append(ratio)
    return out


def model_version(value: str | None) -> str:
    version = value or "latest"
    if not MODEL_VERSION_PATTERN.match(version):
        raise V4Error(400, "BadArgument", f"Invalid model-version '{version}'.")
    if version not in MODELS:
        raise V4Error(400, "InvalidModel", f"Model version '{version}' is not available.")
    return MODELS[version]
