"""VisionClient: configuration, lifecycle and composition; its 3.2 methods delegate to ``_v32.surface``."""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio

from ._checks import is_int, is_number
from ._core.auth import TokenCredential
from ._core.images import ImageInput
from ._core.pipeline import Lifecycle, Pipeline, Upstream
from ._core.resource import ENV_ENDPOINT, ENV_KEY, Resource, chosen_resources
from ._core.runner import Runner
from ._defaults import BATCH_CONCURRENCY, BATCH_PATIENCE
from ._errors import ConfigurationError, InvalidInputError
from ._events import BreakerState, OnBreakerStateChange, OnRetry, call_hook
from ._observe.factory import make_observer
from ._policies import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT,
    BreakerPolicy,
    ImageLimits,
    ResponseLimits,
    RetryPolicy,
)
from ._resilience.adaptive import AdaptiveRate
from ._resilience.breaker import Breaker
from ._resilience.budget import RetryBudgetTracker
from ._resilience.rate_limit import RateLimit, RateLimiter
from ._resilience.retry import Retrier
from ._resilience.state import Coordination, LocalCoordination, namespace_for
from ._resilience.stats import ClientStats, Counters, ResourceStats
from ._secrets import Redactor
from ._transports import Transport, make_transport
from ._transports.proxy import FROM_ENV, ProxyRoutes, is_loopback, routes
from ._v32.features import DescriptionExclude, Detail, ReadingOrder, VisualFeature
from ._v32.read import DEFAULT_READ_TIMEOUT, ReadPoller
from ._v32.surface import ImageAnalysisV32
from ._version import __version__

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
#: The systems the client supports (``sys.platform``): the default pool checks an idle socket with
#: ``select.poll``, and the client is tested on Linux and macOS only.
SUPPORTED_PLATFORMS = ("linux", "darwin")


def _check_platform() -> None:
    if sys.platform not in SUPPORTED_PLATFORMS:
        raise ConfigurationError(
            f"vision_async supports Linux and macOS only, not {sys.platform!r} (see the README, Install)"
        )


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
        _check_platform()
        chosen = chosen_resources(endpoint, key, credential, resources)
        del key
        roots = [r.root(allow_insecure_http=allow_insecure_http) for r in chosen]
        if len(set(roots)) != len(roots):
            raise ConfigurationError("the same endpoint is given twice in resources=")
        auths = [r.auth() for r in chosen]
        self.endpoint = chosen[0].endpoint.strip().rstrip("/")
        for name, value in (("timeout", timeout), ("read_timeout", read_timeout)):
            if value is not None and (not is_number(value) or value <= 0):
                raise ConfigurationError(f"{name} must be a number of seconds > 0, got {value!r}")
        if not isinstance(limits, ImageLimits):
            raise ConfigurationError("limits must be an ImageLimits")
        if not isinstance(response_limits, ResponseLimits):
            raise ConfigurationError("response_limits must be a ResponseLimits")
        for limit in (rate_limit, *(r.rate_limit for r in chosen)):
            if limit is not None and not isinstance(limit, RateLimit):
                raise ConfigurationError(f"rate_limit must be a RateLimit or None, got {limit!r}")
        if not isinstance(adaptive, bool):
            raise ConfigurationError(f"adaptive must be a bool, got {adaptive!r}")
        if max_concurrency is not None and (not is_int(max_concurrency) or max_concurrency < 1):
            raise ConfigurationError(f"max_concurrency must be an int >= 1 or None, got {max_concurrency!r}")
        self._auth_kind = "token" if chosen[0].credential is not None else "key"
        self._clock = clock or time.monotonic
        self._sleep = sleep or anyio.sleep
        self._closed = False
        self._coordination: Coordination = coordination if coordination is not None else LocalCoordination()
        if not isinstance(trust_env, bool):
            raise ConfigurationError(f"trust_env must be a bool, got {trust_env!r}")
        proxy_routes = routes(proxy, trust_env=trust_env, environ=os.environ)
        overrides: dict[tuple[str, str, int], ProxyRoutes] = {}
        for resource, root in zip(chosen, roots, strict=True):
            if resource.proxy is not FROM_ENV:
                parts = urlsplit(root)
                origin = (parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
                overrides[origin] = routes(resource.proxy, trust_env=trust_env, environ=os.environ)
        if overrides:
            proxy_routes = dataclasses.replace(proxy_routes, overrides=overrides)
        insecure_ok = allow_insecure_http or all(is_loopback(urlsplit(root).hostname or "") for root in roots)
        from ._transports.tls import resolve_verify  # imports ssl: not at `import vision_async`

        trust = resolve_verify(verify, trust_env=trust_env, insecure_allowed=insecure_ok)
        if transport is not None and not isinstance(transport, str) and (proxy is not FROM_ENV or verify is not True):
            raise ConfigurationError("proxy= and verify= apply to the transports the client makes, not to a given one")
        self._transport: Transport = make_transport(
            transport, max_connections=max_connections, verify=trust, proxy=proxy_routes
        )
        counters = Counters()
        self._counters = counters
        self._lifecycle = Lifecycle(counters)
        retrier = (
            Retrier(
                retry,
                clock=self._clock,
                sleep=self._sleep,
                on_retry=on_retry,
                budget=RetryBudgetTracker(retry.budget) if retry.budget is not None else None,
                counters=counters,
            )
            if retry is not None
            else None
        )
        user_agent = f"vision-async/{__version__} python/{'.'.join(map(str, sys.version_info[:3]))}"
        upstreams = []
        for resource, root, auth in zip(chosen, roots, auths, strict=True):
            limit = resource.rate_limit if resource.rate_limit is not None else rate_limit
            shared = self._coordination.resource(namespace_for(root), rate_limit=limit, breaker=breaker)
            limiter = (
                RateLimiter(limit, state=shared.tokens, clock=self._clock, sleep=self._sleep)
                if limit is not None or adaptive
                else None
            )
            adaptive_rate = (
                AdaptiveRate(
                    ceiling=limit.per_second if limit is not None else None,
                    state=shared.adaptive,
                    on_change=limiter.set_rate if limiter is not None else None,
                )
                if adaptive
                else None
            )
            upstream_breaker = (
                Breaker(
                    breaker,
                    clock=self._clock,
                    on_state_change=on_breaker_state_change,
                    name=root,
                    # one resource: the client's calls in flight are that resource's traffic
                    load=(lambda: counters.in_flight) if len(chosen) == 1 else None,
                )
                if breaker is not None
                else None
            )
            upstreams.append(
                Upstream(
                    resource=root,
                    auth=auth,
                    transport=self._transport,
                    timeout=timeout,
                    user_agent=user_agent,
                    lifecycle=self._lifecycle,
                    counters=counters,
                    clock=self._clock,
                    sleep=self._sleep,
                    breaker=upstream_breaker,
                    limiter=limiter,
                    adaptive=adaptive_rate,
                    redact=Redactor(*(a.secrets for a in auths)),
                    shared=shared,
                )
            )
        self._breaker = upstreams[0].breaker
        self._pipeline = Pipeline(
            upstreams=upstreams,
            lifecycle=self._lifecycle,
            counters=counters,
            retrier=retrier,
            total_timeout=retry.total_timeout if retry is not None else None,
            max_concurrency=max_concurrency,
            clock=self._clock,
            default_max_body=response_limits.json_bytes,
        )
        if not isinstance(tracing, bool):
            raise ConfigurationError(f"tracing must be a bool, got {tracing!r}")
        observer = make_observer(
            tracing=tracing,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            upstreams=upstreams,
            totals=lambda: (counters.retries_refused, self._transport.stats().stale_resends),
        )
        if observer is not None:
            self._pipeline.observe(observer)
            if retrier is not None:
                retrier.on_retry = _chain(on_retry, observer.on_retry)
        self._runner = Runner(self._pipeline, limits=limits, response_limits=response_limits, clock=self._clock)
        poller = ReadPoller(
            self._runner,
            clock=self._clock,
            sleep=self._sleep,
            wall_clock=time.time,
            max_body=response_limits.read_bytes,
        )
        self._v32 = ImageAnalysisV32(self._runner, read_timeout=float(read_timeout), poller=poller)

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
        self._lifecycle.shutdown()
        try:
            await self._transport.aclose()
        finally:
            await self._coordination.aclose()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def breaker_state(self) -> BreakerState | None:
        """The circuit breaker's state, or None when the client has no breaker."""
        return self._breaker.state if self._breaker is not None else None

    def stats(self) -> ClientStats:
        """A frozen snapshot of the client's traffic and flow control (cheap: no I/O, no lock)."""
        counters = self._counters
        upstreams = self._pipeline.upstreams
        resources = tuple(
            ResourceStats(
                endpoint=upstream.resource,
                requests=upstream.requests,
                throttled=upstream.cooldown.throttles,
                allowed_rate=upstream.allowed_rate,
                cooldown_remaining=upstream.cooldown.remaining(),
                breaker_state=upstream.breaker.state if upstream.breaker is not None else None,
            )
            for upstream in upstreams
        )
        rates = [r.allowed_rate for r in resources]
        stale = self._transport.stats().stale_resends
        return ClientStats(
            requests=counters.requests,
            successes=counters.successes,
            failures=ClientStats.freeze(counters.failures),
            retries=counters.retries,
            retries_refused=counters.retries_refused,
            throttled=counters.throttled,
            stale_resends=stale,
            allowed_rate=None if any(r is None for r in rates) else sum(r for r in rates if r is not None),
            cooldown_remaining=resources[0].cooldown_remaining,
            breaker_state=resources[0].breaker_state,
            in_flight=counters.in_flight,
            resources=resources,
            coordination=self._coordination.describe(),
        )

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"VisionClient(endpoint={self.endpoint!r}, auth={self._auth_kind}, {state})"

    def _check_open(self) -> None:
        self._lifecycle.check()

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


def _chain(first: OnRetry | None, second: Callable[[Any], None]) -> Callable[[Any], None]:
    """The user's on_retry (if any), then the observer's."""
    if first is None:
        return second

    def both(event: Any) -> None:
        call_hook(first, event)
        second(event)

    return both
