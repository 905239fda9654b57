"""The closed sets of Image Analysis 4.0 and the local validation of an analyze call's options.

Everything here is checked before anything is sent: a bad option is an :class:`InvalidInputError`
naming the option and what it accepts. :func:`check_options` turns the keyword options of
:meth:`ImageAnalysisV4.analyze` into the query parameters of
``POST /computervision/imageanalysis:analyze``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .._checks import is_number
from .._errors import InvalidInputError

__all__ = [
    "ANALYZE_PATH",
    "API_VERSION",
    "ENGLISH_ONLY_FEATURES",
    "LANGUAGE_PATTERN",
    "MAX_ASPECT_RATIO",
    "MIN_ASPECT_RATIO",
    "MODEL_VERSION_PATTERN",
    "OPTION_NAMES",
    "AnalyzeOptions",
    "Feature",
    "check_options",
    "normalize_feature",
]

#: The REST API version this surface speaks (the GA spec, ``generated.json``).
API_VERSION = "2023-10-01"
#: The analyze operation, relative to the resource endpoint.
ANALYZE_PATH = "/computervision/imageanalysis:analyze"
#: ``smartcrops-aspect-ratios``: width / height, each from 0.75 to 1.8 inclusive.
MIN_ASPECT_RATIO = 0.75
MAX_ASPECT_RATIO = 1.8
#: ``model-version``: 'latest', or a model date, optionally '-preview'.
MODEL_VERSION_PATTERN = re.compile(r"^(latest|\d{4}-\d{2}-\d{2})(-preview)?$")
#: ``language``: a BCP-47 style code ('en', 'pt-BR', 'zh-Hans'); the service decides which it supports.
LANGUAGE_PATTERN = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class Feature(StrEnum):
    """What :meth:`ImageAnalysisV4.analyze` can extract (the spec's ``VisualFeatures``).

    The wire strings are accepted too, in any case (``"denseCaptions"``, ``"DENSECAPTIONS"``), as
    are the member names with underscores (``"dense_captions"``).
    """

    TAGS = "tags"
    CAPTION = "caption"
    DENSE_CAPTIONS = "denseCaptions"
    OBJECTS = "objects"
    READ = "read"
    SMART_CROPS = "smartCrops"
    PEOPLE = "people"


#: The service captions in English only (Caption and Dense Captions).
ENGLISH_ONLY_FEATURES = frozenset({Feature.CAPTION, Feature.DENSE_CAPTIONS})

_FEATURE_LOOKUP: dict[str, Feature] = {
    **{f.value.lower(): f for f in Feature},
    **{f.name.lower(): f for f in Feature},
}

#: The options of analyze, which :meth:`ImageAnalysisV4._bind` also takes as a mapping.
OPTION_NAMES = ("features", "language", "gender_neutral_caption", "smart_crops_aspect_ratios", "model_version")


def normalize_feature(value: object) -> Feature:
    """The :class:`Feature` for a member or a wire string (any case), else InvalidInputError."""
    if isinstance(value, Feature):
        return value
    if isinstance(value, str):
        found = _FEATURE_LOOKUP.get(value.strip().lower())
        if found is not None:
            return found
    valid = ", ".join(f.value for f in Feature)
    raise InvalidInputError(f"invalid feature {value!r}; valid features: {valid}")


def _features(value: object) -> tuple[Feature, ...]:
    if value is None:
        raise InvalidInputError("features is required: name at least one of " + ", ".join(f.value for f in Feature))
    items: Iterable[object]
    if isinstance(value, str):
        items = value.split(",") if "," in value else (value,)
    elif isinstance(value, Iterable):
        items = value
    else:
        raise InvalidInputError(f"features must be a Feature, a string or an iterable of them, got {value!r}")
    seen: dict[Feature, None] = {}
    for item in items:
        seen[normalize_feature(item)] = None
    if not seen:
        raise InvalidInputError("features must name at least one feature")
    return tuple(seen)


def _language(value: object, features: tuple[Feature, ...]) -> str:
    if not isinstance(value, str) or not LANGUAGE_PATTERN.match(value.strip()):
        raise InvalidInputError(f"language must be a language code such as 'en' or 'pt-BR', got {value!r}")
    language = value.strip()
    english_only = [f.value for f in features if f in ENGLISH_ONLY_FEATURES]
    if english_only and language.lower() != "en":
        raise InvalidInputError(
            f"{' and '.join(english_only)} {'is' if len(english_only) == 1 else 'are'} only available in English; "
            f"got language={language!r}"
        )
    return language


def _aspect_ratios(value: object, features: tuple[Feature, ...]) -> tuple[float, ...] | None:
    if value is None:
        return None
    items: list[object]
    if is_number(value):
        items = [value]
    elif isinstance(value, Iterable) and not isinstance(value, str | bytes):
        items = list(value)
    else:
        raise InvalidInputError(f"smart_crops_aspect_ratios must be a number or an iterable of numbers, got {value!r}")
    if not items:
        raise InvalidInputError("smart_crops_aspect_ratios must name at least one ratio (or be None)")
    if Feature.SMART_CROPS not in features:
        raise InvalidInputError("smart_crops_aspect_ratios needs the smartCrops feature (Feature.SMART_CROPS)")
    ratios: dict[float, None] = {}
    for item in items:
        if not is_number(item) or not math.isfinite(float(item)):
            raise InvalidInputError(f"invalid aspect ratio {item!r}: ratios are numbers (width / height)")
        ratio = float(item)
        if not MIN_ASPECT_RATIO <= ratio <= MAX_ASPECT_RATIO:
            raise InvalidInputError(
                f"aspect ratio {ratio:g} is out of range: each must be from {MIN_ASPECT_RATIO} to {MAX_ASPECT_RATIO}"
            )
        ratios[ratio] = None
    return tuple(ratios)


def _model_version(value: object) -> str:
    if not isinstance(value, str) or not MODEL_VERSION_PATTERN.match(value):
        raise InvalidInputError(
            f"invalid model_version {value!r}; use 'latest' or a date such as '2023-10-01' (or '2023-10-01-preview')"
        )
    return value


@dataclass(frozen=True, slots=True)
class AnalyzeOptions:
    """Validated options of one analyze call; :meth:`params` is its query string."""

    features: tuple[Feature, ...]
    language: str = "en"
    gender_neutral_caption: bool = False
    smart_crops_aspect_ratios: tuple[float, ...] | None = None
    model_version: str = "latest"

    def params(self) -> dict[str, str]:
        """The query parameters, in the spec's names and serializations."""
        params = {
            "api-version": API_VERSION,
            "features": ",".join(f.value for f in self.features),
            "language": self.language,
        }
        if self.gender_neutral_caption:
            params["gender-neutral-caption"] = "true"
        if self.smart_crops_aspect_ratios is not None:
            params["smartcrops-aspect-ratios"] = ",".join(repr(r) for r in self.smart_crops_aspect_ratios)
        params["model-version"] = self.model_version
        return params


def check_options(options: Mapping[str, Any]) -> AnalyzeOptions:
    """Validate analyze's options (a mapping of :data:`OPTION_NAMES`; ``features`` is required)."""
    if not isinstance(options, Mapping):
        raise InvalidInputError(f"options must be a mapping of option names to values, got {type(options).__name__}")
    unknown = sorted(str(k) for k in options if k not in OPTION_NAMES)
    if unknown:
        raise InvalidInputError(f"unknown option(s) {', '.join(unknown)}; analyze takes {', '.join(OPTION_NAMES)}")
    features = _features(options.get("features"))
    gender_neutral = options.get("gender_neutral_caption", False)
    if not isinstance(gender_neutral, bool):
        raise InvalidInputError(f"gender_neutral_caption must be a bool, got {gender_neutral!r}")
    return AnalyzeOptions(
        features=features,
        language=_language(options.get("language", "en"), features),
        gender_neutral_caption=gender_neutral,
        smart_crops_aspect_ratios=_aspect_ratios(options.get("smart_crops_aspect_ratios"), features),
        model_version=_model_version(options.get("model_version", "latest")),
    )
