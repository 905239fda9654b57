"""The v3.2 operations' plans: each operation's options validated into a :class:`Plan` (no I/O).

Splitting validation from running lets ``client.batch`` validate a job's options once, before
anything is sent, and run the same plan on every image; the public methods go through the very
same path (:class:`PlanCache` keeps the plans of repeated calls).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .._checks import is_int, is_number
from .._core.call import encode_query
from .._core.images import ImageKind
from .._errors import InvalidInputError
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

__all__ = ["OPERATIONS", "Plan", "PlanCache", "check_read_timeout", "plan_for"]

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
    if not is_int(value) or not low <= value <= high:
        raise InvalidInputError(f"{name} must be an int from {low} to {high}, got {value!r}")
    return value


def _service_language(language: object, operation: str) -> str:
    return check_language(language, SERVICE_LANGUAGES, operation)


def _typed(value: object) -> object:
    """``value`` as a plan-cache key part that tells apart equal values of different types (``1``, ``True``)."""
    if isinstance(value, tuple):
        return type(value), tuple(_typed(item) for item in value)
    if isinstance(value, frozenset):
        return type(value), frozenset(_typed(item) for item in value)
    return type(value), value


def check_read_timeout(timeout: object) -> float:
    """A Read's own deadline: a number of seconds > 0."""
    if not is_number(timeout) or timeout <= 0:
        raise InvalidInputError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    return float(timeout)


# -- one planner per operation -------------------------------------------------------------------


def plan_analyze(
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


def plan_tag(*, language: str = "en", model_version: str = "latest") -> Plan:
    params = {
        "language": _service_language(language, "tag"),
        "model-version": check_model_version(model_version),
    }
    from .models import TagResult

    return Plan("tag", "/tag", params, TagResult)


def plan_describe(
    *,
    max_candidates: int = 1,
    language: str = "en",
    description_exclude: Iterable[DescriptionExclude | str] | DescriptionExclude | str = (),
    model_version: str = "latest",
) -> Plan:
    if not is_int(max_candidates) or max_candidates < 1:
        raise InvalidInputError(f"max_candidates must be an int >= 1, got {max_candidates!r}")
    params = {"maxCandidates": str(max_candidates), "language": _service_language(language, "describe")}
    exclude = normalize_many(description_exclude, DescriptionExclude, "description_exclude")
    if exclude:
        params["descriptionExclude"] = ",".join(exclude)
    params["model-version"] = check_model_version(model_version)
    from .models import ImageDescription

    return Plan("describe", "/describe", params, ImageDescription)


def plan_detect(*, model_version: str = "latest") -> Plan:
    from .models import DetectResult

    return Plan("detect", "/detect", {"model-version": check_model_version(model_version)}, DetectResult)


def plan_analyze_by_domain(*, model: str, language: str = "en", model_version: str = "latest") -> Plan:
    if not isinstance(model, str) or not model.strip() or not model.replace("_", "").replace("-", "").isalnum():
        raise InvalidInputError(f"model must be a model name such as 'celebrities' or 'landmarks', got {model!r}")
    params = {
        "language": _service_language(language, "analyze_by_domain"),
        "model-version": check_model_version(model_version),
    }
    path = f"/models/{quote(model.strip(), safe='')}/analyze"
    from .models import DomainModelResults

    return Plan("analyze_by_domain", path, params, DomainModelResults)


def plan_ocr(*, language: str = "unk", detect_orientation: bool = True, model_version: str = "latest") -> Plan:
    if not isinstance(detect_orientation, bool):
        raise InvalidInputError(f"detect_orientation must be a bool, got {detect_orientation!r}")
    params = {
        "language": check_language(language, OCR_LANGUAGES, "ocr"),
        "detectOrientation": "true" if detect_orientation else "false",
        "model-version": check_model_version(model_version),
    }
    from .ocr_models import OcrResult

    return Plan("ocr", "/ocr", params, OcrResult)


def plan_generate_thumbnail(
    *, width: int, height: int, smart_cropping: bool = False, model_version: str = "latest"
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


def plan_area_of_interest(*, model_version: str = "latest") -> Plan:
    params = {"model-version": check_model_version(model_version)}
    from .models import AreaOfInterestResult

    return Plan("area_of_interest", "/areaOfInterest", params, AreaOfInterestResult)


def plan_begin_read(
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


def plan_read(*, timeout: float | None = None, **options: Any) -> Plan:
    plan = plan_begin_read(**options)
    if timeout is not None:
        plan.extra["timeout"] = check_read_timeout(timeout)
    return plan


_PLANNERS: dict[str, Callable[..., Plan]] = {
    "analyze": plan_analyze,
    "tag": plan_tag,
    "describe": plan_describe,
    "detect": plan_detect,
    "analyze_by_domain": plan_analyze_by_domain,
    "ocr": plan_ocr,
    "read": plan_read,
    "begin_read": plan_begin_read,
    "generate_thumbnail": plan_generate_thumbnail,
    "area_of_interest": plan_area_of_interest,
}


def plan_for(operation: str, options: dict[str, Any]) -> Plan:
    """Validate ``operation``'s keyword arguments into a plan (InvalidInputError when they are wrong)."""
    if operation not in OPERATIONS:
        raise InvalidInputError(f"unknown operation {operation!r}; expected one of: {', '.join(OPERATIONS)}")
    try:
        return _PLANNERS[operation](**options)
    except TypeError as exc:  # an unknown or missing keyword argument
        raise InvalidInputError(f"{operation}: {exc}".replace("plan_", "")) from None


class PlanCache:
    """The plan for a set of options, validated once per distinct set of hashable options.

    A service calling ``tag(image, language="en")`` a million times validates and encodes the
    options once; options that cannot be hashed (lists) are validated every time. The key holds
    each value's type beside it: ``1`` and ``True``, ``100`` and ``100.0`` are equal in Python but
    not to validation, so each is validated the first time it is seen.
    """

    __slots__ = ("_plans",)

    def __init__(self) -> None:
        self._plans: dict[tuple[Any, ...], Plan] = {}

    def get(self, operation: str, **options: Any) -> Plan:
        key = (operation, *((name, _typed(value)) for name, value in options.items()))
        try:
            plan = self._plans.get(key)
        except TypeError:  # an unhashable option value
            plan, cacheable = None, False
        else:
            cacheable = True
        if plan is not None:
            return plan
        plan = _PLANNERS[operation](**options)
        if cacheable and len(self._plans) < _PLANS_KEPT:
            self._plans[key] = plan
        return plan
