"""VisionClient, the facade: its options, its lifecycle and its operations, each delegated.

``VisionClient(...)`` hands its options to :func:`~vision_async._assembly.assemble`, which checks
them and builds the parts (transport, upstreams, pipeline, runner, surfaces); the client keeps them,
its 3.2 methods delegate to ``_v32.surface``, ``client.v4`` is ``v4._surface`` and ``client.batch``
is ``batch.Batch``."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._assembly import ClientParts, assemble, check_platform
from ._core.auth import TokenCredential
from ._core.images import ImageInput
from ._core.resource import ENV_ENDPOINT, ENV_KEY, Resource, chosen_resources
from ._defaults import BATCH_CONCURRENCY, BATCH_PATIENCE
from ._errors import InvalidInputError
from ._events import BreakerState, OnBreakerStateChange, OnRetry
from ._policies import DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT, BreakerPolicy, ImageLimits, ResponseLimits, RetryPolicy
from ._resilience.rate_limit import RateLimit
from ._resilience.state import Coordination
from ._resilience.stats import ClientStats
from ._transports import Transport
from ._transports.proxy import FROM_ENV
from ._v32.features import DescriptionExclude, Detail, ReadingOrder, VisualFeature
from ._v32.read import DEFAULT_READ_TIMEOUT

if TYPE_CHECKING:
    import httpx

    from ._transports.tls import VerifyArg
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
    from .batch import Batch
    from .v4 import ImageAnalysisV4

__all__ = ["ENV_ENDPOINT", "ENV_KEY", "VisionClient"]


_DEFAULT_RETRY = RetryPolicy()
_DEFAULT_BREAKER = BreakerPolicy()
_DEFAULT_LIMITS = ImageLimits()
_DEFAULT_RESPONSE_LIMITS = ResponseLimits()


class VisionClient:
    """An async client for the Azure AI Vision Image Analysis REST API (v3.2, and 4.0 as ``client.v4``).

    ``endpoint`` and ``key`` default to the ``VISION_ENDPOINT`` and ``VISION_KEY`` environment
    variables. ``credential`` (an azure-identity style object with an async ``get_token``)
    replaces the key with a bearer token. ``transport`` is the networking seam: ``None`` (the
    default pool), ``"aiohttp"`` (the ``speed`` extra, asyncio only), ``"httpx"`` (httpx's own
    pool), or any ``httpx.AsyncBaseTransport``; a client closes the transport it made itself,
    never one it was given.

    Flow control, shared by every call of the client: ``max_concurrency`` bounds calls in flight
    (the rest wait in line); ``rate_limit`` (a :class:`RateLimit`) spaces attempts out; a 429
    pauses new attempts of every call for the wait the service asked for; ``adaptive`` lowers the
    allowed rate after a 429 and raises it slowly on successes; ``retry`` (with its budget) and
    ``breaker`` decide retries and refusals. :meth:`stats` reports all of it.

    ``clock`` (monotonic seconds) and ``sleep`` exist for tests: inject them and no retry, poll,
    rate-limit or breaker timer ever waits for real.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        key: str | None = None,
        *,
        credential: TokenCredential | None = None,
        resources: Sequence[Resource] | None = None,
        retry: RetryPolicy | None = _DEFAULT_RETRY,
        breaker: BreakerPolicy | None = _DEFAULT_BREAKER,
        rate_limit: RateLimit | None = None,
        adaptive: bool = True,
        max_concurrency: int | None = None,
        coordination: Coordination | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        limits: ImageLimits = _DEFAULT_LIMITS,
        response_limits: ResponseLimits = _DEFAULT_RESPONSE_LIMITS,
        transport: httpx.AsyncBaseTransport | Transport | str | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        allow_insecure_http: bool = False,
        proxy: str | object | None = FROM_ENV,
        verify: VerifyArg = True,
        trust_env: bool = True,
        on_retry: OnRetry | None = None,
        on_breaker_state_change: OnBreakerStateChange | None = None,
        tracing: bool = True,
        tracer_provider: object | None = None,
        meter_provider: object | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
    ) -> None:
        check_platform()
        chosen = chosen_resources(endpoint, key, credential, resources)
        del key  # from here on, no frame of a traceback holds the key in a plain local
        parts = assemble(
            chosen,
            retry=retry,
            breaker=breaker,
            rate_limit=rate_limit,
            adaptive=adaptive,
            max_concurrency=max_concurrency,
            coordination=coordination,
            timeout=timeout,
            read_timeout=read_timeout,
            limits=limits,
            response_limits=response_limits,
            transport=transport,
            max_connections=max_connections,
            allow_insecure_http=allow_insecure_http,
            proxy=proxy,
            verify=verify,
            trust_env=trust_env,
            on_retry=on_retry,
            on_breaker_state_change=on_breaker_state_change,
            tracing=tracing,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            clock=clock,
            sleep=sleep,
        )
        self.endpoint = parts.endpoint
        self._parts: ClientParts = parts
        self._closed = False
        self._sleep = parts.sleep  # batch.py reads these two: the client's sleep and its observer
        self._pipeline = parts.pipeline
        self._runner = parts.runner
        self._v32 = parts.v32

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> VisionClient:
        self._check_open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client: refuse new calls, end calls in flight, close the pool. Idempotent.

        Calls in flight end promptly with :class:`ClientClosedError`; nothing the shutdown causes
        is retried or counted by the breaker, the retry budget or the adaptive limiter.
        """
        if self._closed:
            return
        self._closed = True
        await self._parts.aclose()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def breaker_state(self) -> BreakerState | None:
        """The circuit breaker's state, or None when the client has no breaker."""
        return self._parts.breaker_state()

    def stats(self) -> ClientStats:
        """A frozen snapshot of the client's traffic and flow control (cheap: no I/O, no lock)."""
        return self._parts.stats()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"VisionClient(endpoint={self.endpoint!r}, auth={self._parts.auth_kind}, {state})"

    def _check_open(self) -> None:
        self._runner.check_open()

    # -- the 3.2 operations (delegated to the v3.2 surface) ---------------------------------------

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
        return await self._v32.analyze(
            image,
            features=features,
            details=details,
            language=language,
            description_exclude=description_exclude,
            model_version=model_version,
        )

    async def tag(self, image: ImageInput, *, language: str = "en", model_version: str = "latest") -> TagResult:
        """Tag the image with words for what it shows."""
        return await self._v32.tag(image, language=language, model_version=model_version)

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
        return await self._v32.describe(
            image,
            max_candidates=max_candidates,
            language=language,
            description_exclude=description_exclude,
            model_version=model_version,
        )

    async def detect(self, image: ImageInput, *, model_version: str = "latest") -> DetectResult:
        """Find objects, with bounding boxes and their taxonomy parents."""
        return await self._v32.detect(image, model_version=model_version)

    async def list_models(self) -> ListModelsResult:
        """The domain-specific models the service offers (celebrities, landmarks)."""
        return await self._v32.list_models()

    async def analyze_by_domain(
        self, model: str, image: ImageInput, *, language: str = "en", model_version: str = "latest"
    ) -> DomainModelResults:
        """Recognize domain-specific content (``model`` as named by :meth:`list_models`)."""
        return await self._v32.analyze_by_domain(model, image, language=language, model_version=model_version)

    async def ocr(
        self,
        image: ImageInput,
        *,
        language: str = "unk",
        detect_orientation: bool = True,
        model_version: str = "latest",
    ) -> OcrResult:
        """Recognize printed text (the legacy synchronous OCR; prefer :meth:`read`)."""
        return await self._v32.ocr(
            image, language=language, detect_orientation=detect_orientation, model_version=model_version
        )

    async def generate_thumbnail(
        self, image: ImageInput, width: int, height: int, *, smart_cropping: bool = False, model_version: str = "latest"
    ) -> bytes:
        """A thumbnail of ``width`` x ``height`` (1 to 1024 each), as image bytes."""
        return await self._v32.generate_thumbnail(
            image, width, height, smart_cropping=smart_cropping, model_version=model_version
        )

    async def area_of_interest(self, image: ImageInput, *, model_version: str = "latest") -> AreaOfInterestResult:
        """The most important area of the image, for cropping."""
        return await self._v32.area_of_interest(image, model_version=model_version)

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
        return await self._v32.begin_read(
            image, language=language, pages=pages, reading_order=reading_order, model_version=model_version
        )

    async def get_read_result(self, operation_id: str) -> ReadOperationResult:
        """The current state of a Read operation (one poll, on the resource that accepted it)."""
        return await self._v32.get_read_result(operation_id)

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
        return await self._v32.read(
            image,
            language=language,
            pages=pages,
            reading_order=reading_order,
            model_version=model_version,
            timeout=timeout,
        )

    # -- the 4.0 surface and batches ---------------------------------------------------------

    @functools.cached_property
    def v4(self) -> ImageAnalysisV4:
        """The Image Analysis 4.0 surface of this client (same transport, auth, flow control)."""
        from .v4 import ImageAnalysisV4

        return ImageAnalysisV4(self._runner, owner=self)

    def _bind(self, operation: str, options: Mapping[str, Any]) -> Callable[[ImageInput], Awaitable[Any]]:
        """Validate ``operation`` and its options once; return a coroutine function of one image.

        Names are the client's methods (``"tag"``, ``"read"``, ...) and the 4.0 surface's
        (``"v4.analyze"``, ``"v4.vectorize_image"``, ``"v4.vectorize_text"``).
        """
        if not isinstance(operation, str):
            raise InvalidInputError(f"operation must be a name such as 'analyze', got {operation!r}")
        if operation.startswith("v4."):
            bound: Callable[[ImageInput], Awaitable[Any]] = self.v4._bind_operation(operation, options)
            return bound
        return self._v32.bind(operation, options)

    def batch(
        self,
        inputs: Iterable[Any] | AsyncIterable[Any],
        operation: str = "analyze",
        *,
        concurrency: int = BATCH_CONCURRENCY,
        ordered: bool = False,
        patience: float = BATCH_PATIENCE,
        **options: Any,
    ) -> Batch:
        """Run ``operation`` on every input; ``async with client.batch(...) as outcomes: async for item in outcomes``.

        ``inputs`` (any iterable or async iterable of images or ``(key, image)`` pairs) are pulled
        lazily; ``options`` are the operation's keyword arguments, validated once before anything
        is sent. Exactly one :class:`BatchItem` comes out per input. An input turned away for now
        (throttled past its retries, or refused by an open circuit breaker) waits as it was told
        and is run again, for up to ``patience`` seconds of waiting in all (``0``: it ends with
        that error at once).
        """
        from .batch import Batch

        return Batch(
            self,
            inputs,
            operation,
            concurrency=concurrency,
            ordered=ordered,
            patience=patience,
            options=options,
        )
