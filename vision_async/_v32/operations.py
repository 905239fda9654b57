"""The v3.2 operations: each one validates its options into a :class:`Plan`, then runs it on an image.

Splitting the two lets ``client.batch`` validate a job's options once, before anything is sent,
and run the same plan on every image; the public methods go through the very same path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .._core.call import encode_query
from .._core.endpoint import API_PATH
from .._core.images import ImageInput, ImageKind, PreparedImage, prepare_at_once, prepare_image, sniff_format
from .._core.pipeline import Pipeline, Response
from .._errors import InvalidInputError, ResponseValidationError
from .._policies import ImageLimits, ResponseLimits
from .features import (
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
from .read import ReadPoller, check_operation_id, operation_id_from_location

if TYPE_CHECKING:  # the result classes are imported by the planners (cached): `import vision_async` stays light
    from .models import (
        AreaOfInterestResult,
        DetectResult,
        DomainModelResults,
        ImageAnalysis,
        ImageDescription,
        ListModelsResult,
        TagResult,
    )
    from .ocr_models import OcrResult, ReadOperationResult

__all__ = ["OPERATIONS", "Plan", "V32Operations"]

#: Operations that take one image, by the name ``client.batch`` knows them by.
OPERATIONS = (
    "analyze",
    "tag",
    "describe",
    "detect",
    "analyze_by_domain",
    "ocr",
    "read",
    "generate_thumbnail",
    "area_of_interest",
)
#: Validated plans a client keeps for repeated calls with the same options.
_PLANS_KEPT = 256
#: Read operation ids remembered with the resource that accepted them (for polling there).
_READ_IDS_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated request, ready to run on any number of images."""

    operation: str
    path: str  # below API_PATH
    params: dict[str, str]
    parse: type[Any] | None  # the result class; None: the caller reads the response itself
    kind: ImageKind = ImageKind.ANALYZE
    expect: int = 200
    accept: str = "application/json"
    body_cap: str = "json_bytes"  # which ResponseLimits field caps the answer
    extra: dict[str, Any] = field(default_factory=dict)
    query: str = field(init=False, default="")  # ``params`` encoded once, reused for every image

    def __post_init__(self) -> None:
        object.__setattr__(self, "query", encode_query(self.params))


def _int_in_range(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(f"{name} must be an int from {low} to {high}, got {value!r}")
    return value


def _typed(value: object) -> object:
    """``value`` as a plan-cache key part that tells apart equal values of different types (``1``, ``True``)."""
    if isinstance(value, tuple):
        return type(value), tuple(_typed(item) for item in value)
    if isinstance(value, frozenset):
        return type(value), frozenset(_typed(item) for item in value)
    return type(value), value


def _service_language(language: object, operation: str) -> str:
    return check_language(language, SERVICE_LANGUAGES, operation)


def _read_timeout(timeout: object, default: float) -> float:
    budget = default if timeout is None else timeout
    if isinstance(budget, bool) or not isinstance(budget, int | float) or budget <= 0:
        raise InvalidInputError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    return float(budget)


class V32Operations:
    """The v3.2 surface of :class:`~vision_async.VisionClient` (a mixin: the client supplies the state)."""

    _pipeline: Pipeline
    _poller: ReadPoller
    _limits: ImageLimits
    _response_limits: ResponseLimits
    _read_timeout: float
    _clock: Callable[[], float]
    _read_resources: MutableMapping[str, str | None]
    _plans: dict[tuple[Any, ...], Plan]

    def _check_open(self) -> None:
        raise NotImplementedError

    # -- plans (validation only, no I/O) -----------------------------------------------------

    def _plan_analyze(
        self,
        *,
        features: Iterable[VisualFeature | str] | VisualFeature | str | None = None,
        details: Iterable[Detail | str] | Detail | str = (),
        language: str = "en",
        description_exclude: Iterable[DescriptionExclude | str] | DescriptionExclude | str = (),
        model_version: str = "latest",
    ) -> Plan:
        wanted = normalize_many(features, VisualFeature, "visual feature")
        params = {"language": _service_language(language, "analyze")}
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
        from .models import ImageAnalysis

        return Plan("analyze", "/analyze", params, ImageAnalysis)

    def _plan_tag(self, *, language: str = "en", model_version: str = "latest") -> Plan:
        params = {
            "language": _service_language(language, "tag"),
            "model-version": check_model_version(model_version),
        }
        from .models import TagResult

        return Plan("tag", "/tag", params, TagResult)

    def _plan_describe(
        self,
        *,
        max_candidates: int = 1,
        language: str = "en",
        description_exclude: Iterable[DescriptionExclude | str] | DescriptionExclude | str = (),
        model_version: str = "latest",
    ) -> Plan:
        if isinstance(max_candidates, bool) or not isinstance(max_candidates, int) or max_candidates < 1:
            raise InvalidInputError(f"max_candidates must be an int >= 1, got {max_candidates!r}")
        params = {"maxCandidates": str(max_candidates), "language": _service_language(language, "describe")}
        exclude = normalize_many(description_exclude, DescriptionExclude, "description_exclude")
        if exclude:
            params["descriptionExclude"] = ",".join(exclude)
        params["model-version"] = check_model_version(model_version)
        from .models import ImageDescription

        return Plan("describe", "/describe", params, ImageDescription)

    def _plan_detect(self, *, model_version: str = "latest") -> Plan:
        from .models import DetectResult

        return Plan("detect", "/detect", {"model-version": check_model_version(model_version)}, DetectResult)

    def _plan_analyze_by_domain(self, *, model: str, language: str = "en", model_version: str = "latest") -> Plan:
        if not isinstance(model, str) or not model.strip() or not model.replace("_", "").replace("-", "").isalnum():
            raise InvalidInputError(f"model must be a model name such as 'celebrities' or 'landmarks', got {model!r}")
        params = {
            "language": _service_language(language, "analyze_by_domain"),
            "model-version": check_model_version(model_version),
        }
        path = f"/models/{quote(model.strip(), safe='')}/analyze"
        from .models import DomainModelResults

        return Plan("analyze_by_domain", path, params, DomainModelResults)

    def _plan_ocr(
        self, *, language: str = "unk", detect_orientation: bool = True, model_version: str = "latest"
    ) -> Plan:
        if not isinstance(detect_orientation, bool):
            raise InvalidInputError(f"detect_orientation must be a bool, got {detect_orientation!r}")
        params = {
            "language": check_language(language, OCR_LANGUAGES, "ocr"),
            "detectOrientation": "true" if detect_orientation else "false",
            "model-version": check_model_version(model_version),
        }
        from .ocr_models import OcrResult

        return Plan("ocr", "/ocr", params, OcrResult)

    def _plan_generate_thumbnail(
        self, *, width: int, height: int, smart_cropping: bool = False, model_version: str = "latest"
    ) -> Plan:
        if not isinstance(smart_cropping, bool):
            raise InvalidInputError(f"smart_cropping must be a bool, got {smart_cropping!r}")
        params = {
            "width": str(_int_in_range("width", width, 1, 1024)),
            "height": str(_int_in_range("height", height, 1, 1024)),
            "smartCropping": "true" if smart_cropping else "false",
            "model-version": check_model_version(model_version),
        }
        return Plan(
            "generate_thumbnail",
            "/generateThumbnail",
            params,
            None,
            accept="application/octet-stream, application/json",
            body_cap="thumbnail_bytes",
        )

    def _plan_area_of_interest(self, *, model_version: str = "latest") -> Plan:
        params = {"model-version": check_model_version(model_version)}
        from .models import AreaOfInterestResult

        return Plan("area_of_interest", "/areaOfInterest", params, AreaOfInterestResult)

    def _plan_begin_read(
        self,
        *,
        language: str | None = None,
        pages: str | int | Iterable[str | int] | None = None,
        reading_order: ReadingOrder | str = ReadingOrder.BASIC,
        model_version: str = "latest",
    ) -> Plan:
        params: dict[str, str] = {}
        if language is not None:
            params["language"] = check_language(language, READ_LANGUAGES, "read")
        page_list = check_pages(pages)
        if page_list is not None:
            params["pages"] = page_list
        params["readingOrder"] = normalize_one(reading_order, ReadingOrder, "reading_order")
        params["model-version"] = check_model_version(model_version)
        return Plan("read", "/read/analyze", params, None, kind=ImageKind.READ, expect=202)

    def _plan_read(self, *, timeout: float | None = None, **options: Any) -> Plan:
        plan = self._plan_begin_read(**options)
        plan.extra["timeout"] = _read_timeout(timeout, self._read_timeout)
        return plan

    def _cached_plan(self, operation: str, **options: Any) -> Plan:
        """The plan for these options, validated once per distinct set of hashable options.

        A service calling ``tag(image, language="en")`` a million times validates and encodes the
        options once; options that cannot be hashed (lists) are validated every time. Each value's type
        is in the key beside it: ``1 == True`` and ``100 == 100.0``, and a value the planner refuses must
        never find the plan that an equal value of another type made.
        """
        key = (operation, *((name, _typed(value)) for name, value in options.items()))
        try:
            plan = self._plans.get(key)
        except TypeError:  # an unhashable option value
            plan, cacheable = None, False
        else:
            cacheable = True
        if plan is not None:
            return plan
        planner: Callable[..., Plan] = getattr(self, f"_plan_{operation}")
        plan = planner(**options)
        if cacheable and len(self._plans) < _PLANS_KEPT:
            self._plans[key] = plan
        return plan

    def _plan(self, operation: str, options: dict[str, Any]) -> Plan:
        """Validate ``operation``'s keyword arguments into a plan (InvalidInputError when they are wrong)."""
        if operation not in OPERATIONS:
            raise InvalidInputError(f"unknown operation {operation!r}; expected one of: {', '.join(OPERATIONS)}")
        planner: Callable[..., Plan] = getattr(self, f"_plan_{operation}")
        try:
            return planner(**options)
        except TypeError as exc:  # an unknown or missing keyword argument
            raise InvalidInputError(f"{operation}: {exc}".replace("_plan_", "")) from None

    # -- running a plan ----------------------------------------------------------------------

    def _max_bytes(self, kind: ImageKind) -> int:
        return self._limits.max_read_bytes if kind is ImageKind.READ else self._limits.max_image_bytes

    async def _prepare(self, image: ImageInput, kind: ImageKind) -> PreparedImage:
        self._check_open()
        return await prepare_image(image, kind=kind, max_bytes=self._max_bytes(kind))

    async def _send(self, plan: Plan, image: ImageInput, *, deadline: float | None = None) -> Response:
        self._check_open()
        pipeline = self._pipeline
        if pipeline.may_refuse:
            await pipeline.door()
        img = prepare_at_once(image, kind=plan.kind, max_bytes=self._max_bytes(plan.kind))
        if img is None:
            img = await self._prepare(image, plan.kind)
        self._check_open()
        return await pipeline.call(
            plan.operation,
            "POST",
            API_PATH + plan.path,
            query=plan.query,
            content=img.content,
            content_type=img.content_type,
            expect=plan.expect,
            accept=plan.accept,
            max_body=getattr(self._response_limits, plan.body_cap),
            deadline=deadline,
        )

    async def _run(self, plan: Plan, image: ImageInput) -> Any:
        if plan.operation == "read":
            return await self._run_read(plan, image)
        response = await self._send(plan, image)
        if plan.parse is not None:
            return response.parse(plan.parse, plan.operation)
        if sniff_format(response.content) not in ("JPEG", "PNG", "GIF", "BMP"):
            raise ResponseValidationError(
                f"{plan.operation}: the response is not an image ({len(response.content)} bytes)",
                request_id=response.request_id,
            )
        return response.content

    async def _begin_read(self, plan: Plan, image: ImageInput, *, deadline: float | None = None) -> str:
        response = await self._send(plan, image, deadline=deadline)
        operation_id = operation_id_from_location(response.headers.get("operation-location"), response.request_id)
        resources = self._read_resources
        resources[operation_id] = response.resource
        while len(resources) > _READ_IDS_KEPT:
            del resources[next(iter(resources))]
        return operation_id

    async def _run_read(self, plan: Plan, image: ImageInput) -> ReadOperationResult:
        """Submit and poll within one deadline on the client's clock: every request (and retry
        wait) of the Read is cut to what is left of it, as a call's total timeout is."""
        budget: float = plan.extra.get("timeout", self._read_timeout)
        deadline = self._clock() + budget
        operation_id = await self._begin_read(plan, image, deadline=deadline)
        return await self._poller.wait(
            operation_id, deadline=deadline, timeout=budget, resource=self._read_resources.get(operation_id)
        )

    def _bind_v32(self, operation: str, options: Mapping[str, Any]) -> Callable[[ImageInput], Awaitable[Any]]:
        """Validate once; return a coroutine function running ``operation`` on one image."""
        plan = self._plan(operation, dict(options))

        async def run(image: ImageInput) -> Any:
            return await self._run(plan, image)

        return run

    # -- the public operations -----------------------------------------------------------------

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
        plan = self._cached_plan(
            "analyze",
            features=features,
            details=details,
            language=language,
            description_exclude=description_exclude,
            model_version=model_version,
        )
        result: ImageAnalysis = await self._run(plan, image)
        return result

    async def tag(self, image: ImageInput, *, language: str = "en", model_version: str = "latest") -> TagResult:
        """Tag the image with words for what it shows."""
        result: TagResult = await self._run(
            self._cached_plan("tag", language=language, model_version=model_version), image
        )
        return result

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
        plan = self._cached_plan(
            "describe",
            max_candidates=max_candidates,
            language=language,
            description_exclude=description_exclude,
            model_version=model_version,
        )
        result: ImageDescription = await self._run(plan, image)
        return result

    async def detect(self, image: ImageInput, *, model_version: str = "latest") -> DetectResult:
        """Find objects, with bounding boxes and their taxonomy parents."""
        result: DetectResult = await self._run(self._cached_plan("detect", model_version=model_version), image)
        return result

    async def list_models(self) -> ListModelsResult:
        """The domain-specific models the service offers (celebrities, landmarks)."""
        self._check_open()
        response = await self._pipeline.call("list_models", "GET", API_PATH + "/models")
        from .models import ListModelsResult

        return response.parse(ListModelsResult, "list_models")

    async def analyze_by_domain(
        self, model: str, image: ImageInput, *, language: str = "en", model_version: str = "latest"
    ) -> DomainModelResults:
        """Recognize domain-specific content (``model`` as named by :meth:`list_models`)."""
        plan = self._cached_plan("analyze_by_domain", model=model, language=language, model_version=model_version)
        result: DomainModelResults = await self._run(plan, image)
        return result

    async def ocr(
        self,
        image: ImageInput,
        *,
        language: str = "unk",
        detect_orientation: bool = True,
        model_version: str = "latest",
    ) -> OcrResult:
        """Recognize printed text (the legacy synchronous OCR; prefer :meth:`read`)."""
        plan = self._cached_plan(
            "ocr", language=language, detect_orientation=detect_orientation, model_version=model_version
        )
        result: OcrResult = await self._run(plan, image)
        return result

    async def generate_thumbnail(
        self, image: ImageInput, width: int, height: int, *, smart_cropping: bool = False, model_version: str = "latest"
    ) -> bytes:
        """A thumbnail of ``width`` x ``height`` (1 to 1024 each), as image bytes."""
        plan = self._cached_plan(
            "generate_thumbnail", width=width, height=height, smart_cropping=smart_cropping, model_version=model_version
        )
        result: bytes = await self._run(plan, image)
        return result

    async def area_of_interest(self, image: ImageInput, *, model_version: str = "latest") -> AreaOfInterestResult:
        """The most important area of the image, for cropping."""
        result: AreaOfInterestResult = await self._run(
            self._cached_plan("area_of_interest", model_version=model_version), image
        )
        return result

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
        plan = self._cached_plan(
            "begin_read", language=language, pages=pages, reading_order=reading_order, model_version=model_version
        )
        return await self._begin_read(plan, image)

    async def get_read_result(self, operation_id: str) -> ReadOperationResult:
        """The current state of a Read operation (one poll, on the resource that accepted it)."""
        check_operation_id(operation_id)
        self._check_open()
        result, _ = await self._poller.get(operation_id, resource=self._read_resources.get(operation_id))
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
        plan = self._cached_plan(
            "read",
            language=language,
            pages=pages,
            reading_order=reading_order,
            model_version=model_version,
            timeout=timeout,
        )
        result: ReadOperationResult = await self._run(plan, image)
        return result
