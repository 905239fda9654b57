"""4.0's multimodal embeddings: the two requests, checked locally before anything is sent.

``POST /computervision/retrieval:vectorizeImage`` (JSON ``{"url"}`` or the image's bytes) and
``POST /computervision/retrieval:vectorizeText`` (JSON ``{"text"}``), both with
``?api-version=2024-02-01&model-version=...``. The facts are in the spec folder's
``v4.0/retrieval.md``: images as 4.0 takes them but from 10 x 10 pixels, texts of 1 to 70 words.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._core.call import encode_query
from .._core.images import ImageInput, ImageKind
from .._defaults import MODEL_VERSION_EMBEDDINGS as DEFAULT_MODEL_VERSION
from .._errors import InvalidInputError
from ._embedding import Embedding

if TYPE_CHECKING:
    from .._core.runner import Runner

__all__ = [
    "DEFAULT_MODEL_VERSION",
    "MAX_TEXT_WORDS",
    "MODEL_VERSIONS",
    "RETRIEVAL_API_VERSION",
    "VECTORIZE_IMAGE",
    "VECTORIZE_IMAGE_PATH",
    "VECTORIZE_TEXT",
    "VECTORIZE_TEXT_PATH",
    "bind_vectorize_image",
    "bind_vectorize_text",
    "check_model_version",
    "check_text",
    "text_body",
]

#: The generally available version of the retrieval operations (not analyze's 2023-10-01).
RETRIEVAL_API_VERSION = "2024-02-01"
VECTORIZE_IMAGE_PATH = "/computervision/retrieval:vectorizeImage"
VECTORIZE_TEXT_PATH = "/computervision/retrieval:vectorizeText"
#: The operation names in logs, retry events, statistics and the batch API.
VECTORIZE_IMAGE = "v4.vectorize_image"
VECTORIZE_TEXT = "v4.vectorize_text"
#: The model versions the service documents (others are sent as they are: the service decides).
MODEL_VERSIONS = ("2023-04-15", "2022-04-11")
#: vectorizeText takes 1 to 70 words.
MAX_TEXT_WORDS = 70

#: The options of both operations, which ``_bind`` also takes as a mapping.
OPTION_NAMES = ("model_version",)

Vectorizer = Callable[[Any], Awaitable[Embedding]]


def check_model_version(value: object) -> str:
    """``model_version`` as sent: any non-empty string (InvalidInputError otherwise)."""
    if not isinstance(value, str) or not value.strip():
        known = " or ".join(repr(v) for v in MODEL_VERSIONS)
        raise InvalidInputError(f"model_version must be a model date such as {known}, got {value!r}")
    return value.strip()


def check_text(text: object) -> str:
    """The text of vectorizeText: a string of 1 to :data:`MAX_TEXT_WORDS` words."""
    if not isinstance(text, str):
        raise InvalidInputError(f"the text to vectorize must be a str, got {type(text).__name__}")
    words = len(text.split())
    if words == 0:
        raise InvalidInputError("the text to vectorize is empty: give 1 to 70 words")
    if words > MAX_TEXT_WORDS:
        raise InvalidInputError(f"the text to vectorize has {words} words; the service takes 1 to {MAX_TEXT_WORDS}")
    return text


def text_body(text: str) -> bytes:
    """``{"text": ...}`` as UTF-8 JSON."""
    return json.dumps({"text": text}, ensure_ascii=False).encode("utf-8")


def _query(options: Mapping[str, Any]) -> tuple[str, str]:
    """(model version, encoded query) of validated ``options`` (only ``model_version``)."""
    if not isinstance(options, Mapping):
        raise InvalidInputError(f"options must be a mapping of option names to values, got {type(options).__name__}")
    unknown = sorted(str(k) for k in options if k not in OPTION_NAMES)
    if unknown:
        raise InvalidInputError(f"unknown option(s) {', '.join(unknown)}; vectorize takes {', '.join(OPTION_NAMES)}")
    model = check_model_version(options.get("model_version", DEFAULT_MODEL_VERSION))
    return model, encode_query({"api-version": RETRIEVAL_API_VERSION, "model-version": model})


def _finish(result: Embedding, model: str) -> Embedding:
    return result if result.model_version else dataclasses.replace(result, model_version=model)


def bind_vectorize_image(runner: Runner, options: Mapping[str, Any]) -> Vectorizer:
    """``vectorize_image(image)`` with ``options`` checked once (for the surface and batches)."""
    model, query = _query(options)
    send = runner.send

    async def vectorize_image(image: ImageInput) -> Embedding:
        response = await send(
            VECTORIZE_IMAGE, "POST", VECTORIZE_IMAGE_PATH, query=query, image=image, kind=ImageKind.RETRIEVAL
        )
        return _finish(response.parse(Embedding, VECTORIZE_IMAGE), model)

    return vectorize_image


def bind_vectorize_text(runner: Runner, options: Mapping[str, Any]) -> Vectorizer:
    """``vectorize_text(text)`` with ``options`` checked once (for the surface and batches)."""
    model, query = _query(options)
    send = runner.send

    async def vectorize_text(text: str) -> Embedding:
        body = text_body(check_text(text))
        response = await send(
            VECTORIZE_TEXT, "POST", VECTORIZE_TEXT_PATH, query=query, content=body, content_type="application/json"
        )
        return _finish(response.parse(Embedding, VECTORIZE_TEXT), model)

    return vectorize_text
