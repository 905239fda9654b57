"""``client.v4``: Image Analysis 4.0 through the same client (transport, auth, flow control, breaker)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._core.call import encode_query
from .._core.images import ImageInput, ImageKind
from .._errors import InvalidInputError
from ._embedding import Embedding
from ._models import ImageAnalysisResult
from ._options import ANALYZE_PATH, Feature, check_options
from ._retrieval import (
    DEFAULT_MODEL_VERSION,
    VECTORIZE_IMAGE,
    VECTORIZE_TEXT,
    Vectorizer,
    bind_vectorize_image,
    bind_vectorize_text,
)

if TYPE_CHECKING:
    from .._core.runner import Runner

__all__ = ["OPERATION", "OPERATIONS", "ImageAnalysisV4"]

#: The operation name in logs, retry events, statistics and the batch API.
OPERATION = "v4.analyze"
#: The 4.0 operations a batch can run (``client.batch(inputs, name)``): the one list of them.
OPERATIONS = (OPERATION, VECTORIZE_IMAGE, VECTORIZE_TEXT)

Analyzer = Callable[[ImageInput], Awaitable[ImageAnalysisResult]]


class ImageAnalysisV4:
    """The Image Analysis 4.0 API (``api-version=2023-10-01``) of a :class:`VisionClient`.

    Get it as ``client.v4``; it shares everything with the client it belongs to.
    """

    __slots__ = ("_owner", "_runner")

    def __init__(self, runner: Runner, *, owner: object) -> None:
        self._runner = runner
        self._owner = owner  # the client, for the repr only

    def __repr__(self) -> str:
        return f"ImageAnalysisV4({self._owner!r})"

    async def analyze(
        self,
        image: ImageInput,
        *,
        features: Iterable[Feature | str] | Feature | str,
        language: str = "en",
        gender_neutral_caption: bool = False,
        smart_crops_aspect_ratios: Iterable[float] | float | None = None,
        model_version: str = "latest",
    ) -> ImageAnalysisResult:
        """Analyze ``image`` (an http(s) URL, bytes, a path or a binary file object) for ``features``.

        ``features``: at least one :class:`Feature` (or its wire string, any case).
        ``language``: the language of tags and the like; Caption and Dense Captions are English only.
        ``gender_neutral_caption``: say "person" and "child" where captions would say "man" or "girl".
        ``smart_crops_aspect_ratios``: width / height of each crop wanted (0.75 to 1.8), with
        ``Feature.SMART_CROPS``; without it the service picks one ratio.
        ``model_version``: ``"latest"`` or a model date, to pin results over time.

        Every option is checked before anything is sent (:class:`InvalidInputError`).
        """
        analyzer = self._bind(
            {
                "features": features,
                "language": language,
                "gender_neutral_caption": gender_neutral_caption,
                "smart_crops_aspect_ratios": smart_crops_aspect_ratios,
                "model_version": model_version,
            }
        )
        return await analyzer(image)

    async def vectorize_image(self, image: ImageInput, *, model_version: str = DEFAULT_MODEL_VERSION) -> Embedding:
        """The multimodal embedding of ``image`` (an http(s) URL, bytes, a path or a binary file object).

        ``model_version``: pinned to ``"2023-04-15"`` by default (vectors of different model
        versions are not comparable); ``"2022-04-11"`` is the original English-only model, and
        other non-empty values are sent as they are. The image is checked before anything is
        sent (:class:`InvalidInputError`): JPEG, PNG, GIF, BMP, WEBP, ICO, TIFF or MPO, under
        ``ImageLimits.max_retrieval_image_bytes`` (20 MB), 10 x 10 to 16000 x 16000 pixels.
        """
        return await bind_vectorize_image(self._runner, {"model_version": model_version})(image)

    async def vectorize_text(self, text: str, *, model_version: str = DEFAULT_MODEL_VERSION) -> Embedding:
        """The multimodal embedding of ``text`` (1 to 70 words), comparable with image vectors
        of the same ``model_version`` (see :meth:`vectorize_image`) by cosine similarity."""
        return await bind_vectorize_text(self._runner, {"model_version": model_version})(text)

    def _bind_operation(self, operation: str, options: Mapping[str, Any]) -> Vectorizer | Analyzer:
        """The 4.0 ``operation`` (a name of :data:`OPERATIONS`) bound to ``options``, checked once."""
        if operation == VECTORIZE_IMAGE:
            return bind_vectorize_image(self._runner, options)
        if operation == VECTORIZE_TEXT:
            return bind_vectorize_text(self._runner, options)
        if operation == OPERATION:
            return self._bind(options)
        raise InvalidInputError(f"unknown operation {operation!r}; the 4.0 surface has {', '.join(OPERATIONS)}")

    def _bind(self, options: Mapping[str, Any]) -> Analyzer:
        """Validate analyze's ``options`` once and return ``analyze(image)`` with them.

        ``options`` maps analyze's keyword names to values (``features`` is required); a bad
        option raises :class:`InvalidInputError` here, not per image. For the batch API.
        """
        params = check_options(options).params()
        query = encode_query(params)
        send = self._runner.send

        async def analyze(image: ImageInput) -> ImageAnalysisResult:
            response = await send(OPERATION, "POST", ANALYZE_PATH, query=query, image=image, kind=ImageKind.V4)
            return response.parse(ImageAnalysisResult, OPERATION)

        return analyze
