"""``client.v4``: Image Analysis 4.0 through the same client (transport, auth, flow control, breaker)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._core.call import encode_query
from .._core.images import ImageInput, ImageKind
from ._models import ImageAnalysisResult
from ._options import ANALYZE_PATH, Feature, check_options

if TYPE_CHECKING:
    from .._core.runner import Runner

__all__ = ["OPERATION", "ImageAnalysisV4"]

#: The operation name in logs, retry events, statistics and the batch API.
OPERATION = "v4.analyze"

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
