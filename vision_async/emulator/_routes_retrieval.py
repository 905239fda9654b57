"""The emulator's multimodal embeddings: ``retrieval:vectorizeImage`` and ``retrieval:vectorizeText``.

They validate the request as the service documents it (``v4.0/retrieval.md``: the api-version,
the two model versions, images of 10 x 10 to 16000 x 16000 pixels under 20 MB in 4.0's formats,
texts of 1 to 70 words) and answer ``{"modelVersion", "vector"}`` with the vectors of
:mod:`._vectors` (pixel and word features, not a semantic model). Errors have 4.0's shape (an
``InvalidRequest`` with an inner code, and ``x-ms-error-code``); the inner codes are the
emulator's own names, since the service documents none for these operations. A missing or unknown
``api-version`` is the gateway's 404, as for analyze.
"""

from __future__ import annotations

import json
from collections import OrderedDict

from PIL import Image
from starlette.requests import Request
from starlette.responses import Response

from .._core.images import ACCEPTED_FORMATS, ImageKind, sniff_format
from ..v4._retrieval import (
    DEFAULT_MODEL_VERSION,
    MAX_TEXT_WORDS,
    MODEL_VERSIONS,
    RETRIEVAL_API_VERSION,
    VECTORIZE_IMAGE_PATH,
    VECTORIZE_TEXT_PATH,
)
from ._pixels import InvalidImage, original_size
from ._routes import Handler, Routes, decode_with
from ._vectors import image_features, text_features, to_vector
from ._wire import gateway_error, json_response
from ._wire_v4 import V4Error, v4_errors

__all__ = ["API_VERSIONS", "MAX_IMAGE_BYTES", "ROUTES_RETRIEVAL", "RoutesRetrieval"]

#: (method, path, route name) of the two routes.
ROUTES_RETRIEVAL = (
    ("POST", VECTORIZE_IMAGE_PATH, "v4_vectorize_image"),
    ("POST", VECTORIZE_TEXT_PATH, "v4_vectorize_text"),
)
#: The generally available version and the two older previews.
API_VERSIONS = (RETRIEVAL_API_VERSION, "2023-02-01-preview", "2023-04-01-preview")
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MIN_DIMENSION = 10
MAX_DIMENSION = 16000
#: Image features kept, by digest (a batch sends the same image again after a 429).
_CACHED = 1024


class RoutesRetrieval:
    """The two handlers, on top of the 3.2 :class:`Routes` (image input, the emulator's state)."""

    def __init__(self, routes: Routes) -> None:
        self._routes = routes
        self._features: OrderedDict[str, tuple[tuple[int, int], dict[int, float] | None]] = OrderedDict()

    def handlers(self) -> dict[str, Handler]:
        return {"v4_vectorize_image": self.vectorize_image, "v4_vectorize_text": self.vectorize_text}

    @staticmethod
    def _model(request: Request) -> str:
        q = request.query_params
        if q.get("api-version") not in API_VERSIONS:
            raise gateway_error(404, "Resource not found")
        model = q.get("model-version") or DEFAULT_MODEL_VERSION
        if model not in MODEL_VERSIONS:
            raise V4Error(
                400,
                "InvalidModelVersion",
                f"Model version '{model}' is not supported. Supported versions: {', '.join(MODEL_VERSIONS)}.",
            )
        return model

    async def vectorize_image(self, request: Request, request_id: str) -> Response:
        model = self._model(request)
        with v4_errors():
            image = await self._routes.image(request, max_bytes=MAX_IMAGE_BYTES)
        if sniff_format(image.data) not in ACCEPTED_FORMATS[ImageKind.RETRIEVAL]:
            raise V4Error(400, "InvalidImageFormat", "Input data is not a valid image.")
        cached = self._features.get(image.digest)
        if cached is None:
            try:
                cached = await decode_with(_measure, image.data)
            except InvalidImage:
                raise V4Error(400, "InvalidImageFormat", "Input data is not a valid image.") from None
            self._features[image.digest] = cached
            if len(self._features) > _CACHED:
                self._features.popitem(last=False)
        (width, height), features = cached
        if features is None:
            raise V4Error(
                400,
                "InvalidImageDimension",
                f"Image dimensions must be between {MIN_DIMENSION} x {MIN_DIMENSION} and "
                f"{MAX_DIMENSION} x {MAX_DIMENSION} pixels; the image is {width} x {height}.",
            )
        return json_response({"modelVersion": model, "vector": to_vector(features, model)})

    async def vectorize_text(self, request: Request, request_id: str) -> Response:
        model = self._model(request)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise V4Error(415, "UnsupportedMediaType", f"Unsupported media type '{media_type or '(none)'}'.")
        try:
            doc = json.loads(await request.body() or b"null")
        except ValueError:
            raise V4Error(400, "InvalidArgument", "The request body is not valid JSON.") from None
        text = doc.get("text") if isinstance(doc, dict) else None
        if not isinstance(text, str) or not text.split():
            raise V4Error(400, "InvalidArgument", "The text to vectorize is missing or empty.")
        words = len(text.split())
        if words > MAX_TEXT_WORDS:
            raise V4Error(
                400,
                "InvalidArgument",
                f"The text has {words} words; at most {MAX_TEXT_WORDS} words are supported.",
            )
        return json_response({"modelVersion": model, "vector": to_vector(text_features(text), model)})


def _measure(data: bytes) -> tuple[tuple[int, int], dict[int, float] | None]:
    """The image's size and features (None when its size is out of range: nothing is decoded)."""
    try:
        width, height = original_size(data)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidImage(str(exc)) from exc
    if min(width, height) < MIN_DIMENSION or max(width, height) > MAX_DIMENSION:
        return (width, height), None
    return (width, height), image_features(data)
