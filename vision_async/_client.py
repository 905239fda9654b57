"""VisionClient: configuration, lifecycle, and one small method per v3.2 operation."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from urllib.parse import quote

import anyio
import httpx

from ._core.auth import Auth, KeyAuth, TokenAuth, TokenCredential
from ._core.endpoint import base_url
from ._core.images import ImageInput, ImageKind, PreparedImage, prepare_image, sniff_format
from ._core.pipeline import Pipeline, Response
from ._errors import APITimeoutError, ClientClosedError, ConfigurationError, InvalidInputError, ResponseValidationError
from ._events import BreakerState, OnBreakerStateChange, OnRetry
from ._policies import DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT, BreakerPolicy, ImageLimits, RetryPolicy
from ._resilience.breaker import Breaker
from ._resilience.retry import Retrier
from ._transports.base import Transport, default_transport
from ._v32.features import (
    ENGLISH_ONLY_FEATURES,
    OCR_LANGUAGES,
    READ_LANGUAGES,
    SERVICE_LANGUAGES,
    DescriptionExclude,
    Detail,
    ReadingOrder,
    VisualFeature,
    check_language,
    check_model_version,
    check_pages,
    normalize_many,
    normalize_one,
)
from ._v32.models import (
    AreaOfInterestResult,
    DetectResult,
    DomainModelResults,
    ImageAnalysis,
    ImageDescription,
    ListModelsResult,
    TagResult,
)
from ._v32.ocr_models import OcrResult, ReadOperationResult
from ._v32.read import DEFAULT_READ_TIMEOUT, ReadPoller, check_operation_id, operation_id_from_location
from ._version import __version__

__all__ = ["ENV_ENDPOINT", "ENV_KEY", "VisionClient"]

ENV_ENDPOINT = "VISION_ENDPOINT"
ENV_KEY = "VISION_KEY"

_DEFAULT_RETRY = RetryPolicy()
_DEFAULT_BREAKER = BreakerPolicy()
_DEFAULT_LIMITS = ImageLimits()


def _int_in_range(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(f"{name} must be an int from {low} to {high}, got {value!r}")
    return value


class VisionClient:
    """An async client for the Azure AI Vision v3.2 REST API.

    ``endpoint`` and ``key`` default to the ``VISION_ENDPOINT`` and ``VISION_KEY`` environment
    variables. ``credential`` (an azure-identity style object with an async ``get_token``)
    replaces the key with a bearer token. ``transport`` is the networking seam: a client closes
    the transport it made itself, never one it was given.

    ``clock`` (monotonic seconds) and ``sleep`` exist for tests: inject them and no retry, poll
    or breaker timer ever waits for real.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        key: str | None = None,
        *,
        credential: TokenCredential | None = None,
        retry: RetryPolicy | None = _DEFAULT_RETRY,
        breaker: BreakerPolicy | None = _DEFAULT_BREAKER,
        timeout: float | None = DEFAULT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        limits: ImageLimits = _DEFAULT_LIMITS,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        allow_insecure_http: bool = False,
        on_retry: OnRetry | None = None,
        on_breaker_state_change: OnBreakerStateChange | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
    ) -> None:
        endpoint = endpoint if endpoint is not None else os.environ.get(ENV_ENDPOINT)
        if not endpoint:
            raise ConfigurationError(f"no endpoint: pass endpoint= or set the {ENV_ENDPOINT} environment variable")
        self._base_url = base_url(endpoint, allow_insecure_http=allow_insecure_http)
        self.endpoint = endpoint.strip().rstrip("/")
        auth: Auth
        if credential is not None:
            if key is not None:
                raise ConfigurationError("pass either key= or credential=, not both")
            auth = TokenAuth(credential)
        else:
            key = key if key is not None else os.environ.get(ENV_KEY)
            if not key:
                raise ConfigurationError(
                    f"no key: pass key= (or credential=), or set the {ENV_KEY} environment variable"
                )
            auth = KeyAuth(key)
        for name, value in (("timeout", timeout), ("read_timeout", read_timeout)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
                raise ConfigurationError(f"{name} must be a number of seconds > 0, got {value!r}")
        if not isinstance(limits, ImageLimits):
            raise ConfigurationError("limits must be an ImageLimits")
        self._auth_kind = "token" if credential is not None else "key"
        self._limits = limits
        self._read_timeout = float(read_timeout)
        self._clock = clock or time.monotonic
        self._sleep = sleep or anyio.sleep
        self._closed = False
        owned = transport is None
        if transport is None:
            transport = default_transport(max_connections=max_connections)
        self._transport = Transport(transport, owned=owned)
        retrier = Retrier(retry, clock=self._clock, sleep=self._sleep, on_retry=on_retry) if retry is not None else None
        self._breaker = (
            Breaker(breaker, clock=self._clock, on_state_change=on_breaker_state_change)
            if breaker is not None
            else None
        )
        self._pipeline = Pipeline(
            transport=self._transport,
            auth=auth,
            base_url=self._base_url,
            user_agent=f"vision-async/{__version__} python/{platform.python_version()}",
            timeout=timeout,
            retrier=retrier,
            breaker=self._breaker,
            total_timeout=retry.total_timeout if retry is not None else None,
        )
        self._poller = ReadPoller(self._pipeline, clock=self._clock, sleep=self._sleep, wall_clock=time.time)

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> VisionClient:
        self._check_open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (if the client made it). Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        await self._transport.aclose()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def breaker_state(self) -> BreakerState | None:
        """The circuit breaker's state, or None when the client has no breaker."""
        return self._breaker.state if self._breaker is not None else None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"VisionClient(endpoint={self.endpoint!r}, auth={self._auth_kind}, {state})"

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError("this VisionClient is closed; create a new one")

    # -- helpers -----------------------------------------------------------------------------

    async def _image(self, image: ImageInput, kind: ImageKind = ImageKind.ANALYZE) -> PreparedImage:
        self._check_open()
        limit = self._limits.max_read_bytes if kind is ImageKind.READ else self._limits.max_image_bytes
        return await prepare_image(image, kind=kind, max_bytes=limit)

    async def _post_image(
        self, operation: str, path: str, image: PreparedImage, params: dict[str, str], expect: int = 200
    ) -> Response:
        self._check_open()
        return await self._pipeline.call(
            operation,
            "POST",
            path,
            params=params,
            content=image.content,
            content_type=image.content_type,
            expect=expect,
        )

    @staticmethod
    def _service_language(language: object, operation: str) -> str:
        return check_language(language, SERVICE_LANGUAGES, operation)

    # -- analyze family ----------------------------------------------------------------------

    async def analyze(
        self,
        image: ImageInput,
        *,
        features: Iterable[VisualFeature | str] | VisualFeature | str | None = None,
        details: Iterable[Detail | str] | Detail | str = (),
        language: str = "en",
        description_exclude: Iterable[DescriptionExclude | str] | DescriptionExclude | str = (),
        model_version: str = "latest",
    ) -> ImageAnalysis:
        """Extract visual features. Without ``features`` the service returns categories only."""
        wanted = normalize_many(features, VisualFeature, "visual feature")
        params = {"language": self._service_language(language, "analyze")}
        english_only = sorted(f for f in wanted if f in ENGLISH_ONLY_FEATURES)
        if english_only and params["language"] != "en":
            raise InvalidInputError(
                f"{', '.join(english_only)} {'is' if len(english_only) == 1 else 'are'} only available in "
                f"English; got language={params['language']!r}"
            )
        if wanted:
            params["visualFeatures"] = ",".join(wanted)
        detail_values = normalize_many(details, Detail, "detail")
        if detail_values:
            params["details"] = ",".join(detail_values)
        exclude = normalize_many(description_exclude, DescriptionExclude, "description_exclude")
        if exclude:
            params["descriptionExclude"] = ",".join(exclude)
        params["model-version"] = check_model_version(model_version)
        img = await self._image(image)
        response = await self._post_image("analyze", "/analyze", img, params)
        return response.parse(ImageAnalysis, "analyze")

    async def tag(self, image: ImageInput, *, language: str = "en", model_version: str = "latest") -> TagResult:
        """Tag the image with words for what it shows."""
        params = {
            "language": self._service_language(language, "tag"),
            "model-version": check_model_version(model_version),
        }
        img = await self._image(image)
        response = await self._post_image("tag", "/tag", img, params)
        return response.parse(TagResult, "tag")

    async def describe(
        self,
        image: ImageInput,
        *,
        max_candidates: int = 1,
        language: str = "en",
        description_exclude: Iterable[DescriptionExclude | str] | DescriptionExclude | str = (),
        model_version: str = "latest",
    ) -> ImageDescription:
        """Describe the image in sentences, best first."""
        if isinstance(max_candidates, bool) or not isinstance(max_candidates, int) or max_candidates < 1:
            raise InvalidInputError(f"max_candidates must be an int >= 1, got {max_candidates!r}")
        params = {"maxCandidates": str(max_candidates), "language": self._service_language(language, "describe")}
        exclude = normalize_many(description_exclude, DescriptionExclude, "description_exclude")
        if exclude:
            params["descriptionExclude"] = ",".join(exclude)
        params["model-version"] = check_model_version(model_version)
        img = await self._image(image)
        response = await self._post_image("describe", "/describe", img, params)
        return response.parse(ImageDescription, "describe")

    async def detect(self, image: ImageInput, *, model_version: str = "latest") -> DetectResult:
        """Find objects, with bounding boxes and their taxonomy parents."""
        params = {"model-version": check_model_version(model_version)}
        img = await self._image(image)
        response = await self._post_image("detect", "/detect", img, params)
        return response.parse(DetectResult, "detect")

    async def list_models(self) -> ListModelsResult:
        """The domain-specific models the service offers (celebrities, landmarks)."""
        self._check_open()
        response = await self._pipeline.call("list_models", "GET", "/models")
        return response.parse(ListModelsResult, "list_models")

    async def analyze_by_domain(
        self, model: str, image: ImageInput, *, language: str = "en", model_version: str = "latest"
    ) -> DomainModelResults:
        """Recognize domain-specific content (``model`` as named by :meth:`list_models`)."""
        if not isinstance(model, str) or not model.strip() or not model.replace("_", "").replace("-", "").isalnum():
            raise InvalidInputError(f"model must be a model name such as 'celebrities' or 'landmarks', got {model!r}")
        params = {
            "language": self._service_language(language, "analyze_by_domain"),
            "model-version": check_model_version(model_version),
        }
        img = await self._image(image)
        path = f"/models/{quote(model.strip(), safe='')}/analyze"
        response = await self._post_image("analyze_by_domain", path, img, params)
        return response.parse(DomainModelResults, "analyze_by_domain")

    async def ocr(
        self,
        image: ImageInput,
        *,
        language: str = "unk",
        detect_orientation: bool = True,
        model_version: str = "latest",
    ) -> OcrResult:
        """Recognize printed text (the legacy synchronous OCR; prefer :meth:`read`)."""
        if not isinstance(detect_orientation, bool):
            raise InvalidInputError(f"detect_orientation must be a bool, got {detect_orientation!r}")
        params = {
            "language": check_language(language, OCR_LANGUAGES, "ocr"),
            "detectOrientation": "true" if detect_orientation else "false",
            "model-version": check_model_version(model_version),
        }
        img = await self._image(image)
        response = await self._post_image("ocr", "/ocr", img, params)
        return response.parse(OcrResult, "ocr")

    async def generate_thumbnail(
        self, image: ImageInput, width: int, height: int, *, smart_cropping: bool = False, model_version: str = "latest"
    ) -> bytes:
        """A thumbnail of ``width`` x ``height`` (1 to 1024 each), as image bytes."""
        params = {
            "width": str(_int_in_range("width", width, 1, 1024)),
            "height": str(_int_in_range("height", height, 1, 1024)),
            "smartCropping": "true" if smart_cropping else "false",
            "model-version": check_model_version(model_version),
        }
        img = await self._image(image)
        response = await self._post_image("generate_thumbnail", "/generateThumbnail", img, params)
        if sniff_format(response.content) not in ("JPEG", "PNG", "GIF", "BMP"):
            raise ResponseValidationError(
                f"generate_thumbnail: the response is not an image ({len(response.content)} bytes)",
                request_id=response.request_id,
            )
        return response.content

    async def area_of_interest(self, image: ImageInput, *, model_version: str = "latest") -> AreaOfInterestResult:
        """The most important area of the image, for cropping."""
        params = {"model-version": check_model_version(model_version)}
        img = await self._image(image)
        response = await self._post_image("area_of_interest", "/areaOfInterest", img, params)
        return response.parse(AreaOfInterestResult, "area_of_interest")

    # -- Read --------------------------------------------------------------------------------

    async def begin_read(
        self,
        image: ImageInput,
        *,
        language: str | None = None,
        pages: str | int | Iterable[str | int] | None = None,
        reading_order: ReadingOrder | str = ReadingOrder.BASIC,
        model_version: str = "latest",
    ) -> str:
        """Submit a Read operation and return its operation id (from ``Operation-Location``)."""
        params: dict[str, str] = {}
        if language is not None:
            params["language"] = check_language(language, READ_LANGUAGES, "read")
        page_list = check_pages(pages)
        if page_list is not None:
            params["pages"] = page_list
        params["readingOrder"] = normalize_one(reading_order, ReadingOrder, "reading_order")
        params["model-version"] = check_model_version(model_version)
        img = await self._image(image, ImageKind.READ)
        response = await self._post_image("read", "/read/analyze", img, params, expect=202)
        return operation_id_from_location(response.headers.get("operation-location"), response.request_id)

    async def get_read_result(self, operation_id: str) -> ReadOperationResult:
        """The current state of a Read operation (one poll)."""
        check_operation_id(operation_id)
        self._check_open()
        result, _ = await self._poller.get(operation_id)
        return result

    async def read(
        self,
        image: ImageInput,
        *,
        language: str | None = None,
        pages: str | int | Iterable[str | int] | None = None,
        reading_order: ReadingOrder | str = ReadingOrder.BASIC,
        model_version: str = "latest",
        timeout: float | None = None,
    ) -> ReadOperationResult:
        """Submit a Read operation and poll it to completion.

        Waits between polls as the service's ``Retry-After`` says, else 0.25 s doubling to 2 s.
        Raises :class:`ReadOperationFailedError` when the operation fails, and
        :class:`APITimeoutError` when it is not done within ``timeout`` seconds (default: the
        client's ``read_timeout``).
        """
        budget = self._read_timeout if timeout is None else timeout
        if isinstance(budget, bool) or not isinstance(budget, int | float) or budget <= 0:
            raise InvalidInputError(f"timeout must be a number of seconds > 0, got {timeout!r}")
        start = self._clock()
        try:
            with anyio.fail_after(budget):
                operation_id = await self.begin_read(
                    image, language=language, pages=pages, reading_order=reading_order, model_version=model_version
                )
                return await self._poller.wait(operation_id, timeout=budget - (self._clock() - start))
        except TimeoutError as exc:
            raise APITimeoutError(f"read: no result within {budget}s") from exc
