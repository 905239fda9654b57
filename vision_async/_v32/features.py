"""The closed sets of the v3.2 API (features, details, languages) and their local validation.

Every function here accepts the enum members or the wire strings, case-insensitively, and
returns the canonical wire spelling; anything else is an :class:`InvalidInputError` that lists
the valid values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import TypeVar

from .._errors import InvalidInputError

__all__ = [
    "ENGLISH_ONLY_FEATURES",
    "MODEL_VERSION_PATTERN",
    "PAGE_RANGE_PATTERN",
    "OCR_LANGUAGES",
    "READ_LANGUAGES",
    "SERVICE_LANGUAGES",
    "DescriptionExclude",
    "Detail",
    "ReadingOrder",
    "VisualFeature",
    "check_language",
    "check_model_version",
    "check_pages",
    "lookup_table",
    "normalize_many",
    "normalize_one",
]


class VisualFeature(StrEnum):
    """What :meth:`VisionClient.analyze` can return (the spec's ``VisualFeatureTypes``)."""

    IMAGE_TYPE = "ImageType"
    FACES = "Faces"
    ADULT = "Adult"
    CATEGORIES = "Categories"
    COLOR = "Color"
    TAGS = "Tags"
    DESCRIPTION = "Description"
    OBJECTS = "Objects"
    BRANDS = "Brands"


class Detail(StrEnum):
    """Domain-specific details for analyze (the spec's ``Details``)."""

    CELEBRITIES = "Celebrities"
    LANDMARKS = "Landmarks"


class DescriptionExclude(StrEnum):
    """Domain models to leave out of a description (the spec's ``DescriptionExclude``)."""

    CELEBRITIES = "Celebrities"
    LANDMARKS = "Landmarks"


class ReadingOrder(StrEnum):
    """How Read orders the lines it finds."""

    BASIC = "basic"
    NATURAL = "natural"


#: Features the service offers only in English (the spec: "only available in English").
ENGLISH_ONLY_FEATURES = frozenset({VisualFeature.OBJECTS, VisualFeature.BRANDS})

#: ``language`` of analyze, describe, tag and the domain models (the spec's ServiceLanguage).
SERVICE_LANGUAGES = (
    "ar",
    "az",
    "bg",
    "bs",
    "ca",
    "cs",
    "cy",
    "da",
    "de",
    "el",
    "en",
    "es",
    "et",
    "eu",
    "fi",
    "fr",
    "ga",
    "gl",
    "he",
    "hi",
    "hr",
    "hu",
    "id",
    "it",
    "ja",
    "kk",
    "ko",
    "lt",
    "lv",
    "mk",
    "ms",
    "nb",
    "nl",
    "pl",
    "prs",
    "pt",
    "pt-BR",
    "pt-PT",
    "ro",
    "ru",
    "sk",
    "sl",
    "sr-Cyrl",
    "sr-Latn",
    "sv",
    "th",
    "tr",
    "uk",
    "vi",
    "zh",
    "zh-Hans",
    "zh-Hant",
)

#: ``language`` of the legacy OCR operation (the spec's OcrLanguages).
OCR_LANGUAGES = (
    "unk",
    "zh-Hans",
    "zh-Hant",
    "cs",
    "da",
    "nl",
    "en",
    "fi",
    "fr",
    "de",
    "el",
    "hu",
    "it",
    "ja",
    "ko",
    "nb",
    "pl",
    "pt",
    "ru",
    "es",
    "sv",
    "tr",
    "ar",
    "ro",
    "sr-Cyrl",
    "sr-Latn",
    "sk",
)

#: ``language`` of Read (the spec's OcrDetectionLanguage).
READ_LANGUAGES = (
    "af",
    "ast",
    "bi",
    "br",
    "ca",
    "ceb",
    "ch",
    "co",
    "crh",
    "cs",
    "csb",
    "da",
    "de",
    "en",
    "es",
    "et",
    "eu",
    "fi",
    "fil",
    "fj",
    "fr",
    "fur",
    "fy",
    "ga",
    "gd",
    "gil",
    "gl",
    "gv",
    "hni",
    "hsb",
    "ht",
    "hu",
    "ia",
    "id",
    "it",
    "iu",
    "ja",
    "jv",
    "kaa",
    "kac",
    "kea",
    "kha",
    "kl",
    "ko",
    "ku",
    "kw",
    "lb",
    "ms",
    "mww",
    "nap",
    "nl",
    "no",
    "oc",
    "pl",
    "pt",
    "quc",
    "rm",
    "sco",
    "sl",
    "sq",
    "sv",
    "sw",
    "tet",
    "tr",
    "tt",
    "uz",
    "vo",
    "wae",
    "yua",
    "za",
    "zh-Hans",
    "zh-Hant",
    "zu",
)

MODEL_VERSION_PATTERN = re.compile(r"^(latest|\d{4}-\d{2}-\d{2})(-preview)?$")
PAGE_RANGE_PATTERN = re.compile(r"^(\d+|\d+-\d+|\d+-|-\d+)$")

E = TypeVar("E", bound=StrEnum)


def lookup_table(values: Iterable[str]) -> dict[str, str]:
    """Lower-cased spelling -> canonical spelling."""
    return {v.lower(): v for v in values}


_LOOKUPS: dict[object, dict[str, str]] = {}


def normalize_one(value: object, valid: type[StrEnum] | tuple[str, ...], name: str) -> str:
    """The canonical wire string for ``value`` (an enum member or a string, any case)."""
    table = _LOOKUPS.get(valid)
    if table is None:
        table = _LOOKUPS[valid] = lookup_table(valid if isinstance(valid, tuple) else [m.value for m in valid])
    if isinstance(value, str):
        found = table.get(value.strip().lower())
        if found is not None:
            return found
    allowed = ", ".join(table.values())
    raise InvalidInputError(f"invalid {name} {value!r}; valid values: {allowed}")


def normalize_many(values: object, valid: type[StrEnum], name: str) -> tuple[str, ...]:
    """Canonical wire strings for an iterable of values (or a single one), duplicates dropped."""
    if values is None:
        return ()
    items: Iterable[object] = (values,) if isinstance(values, str) else values  # type: ignore[assignment]
    try:
        iterator = iter(items)
    except TypeError:
        raise InvalidInputError(
            f"{name} must be a value or an iterable of values, got {type(values).__name__}"
        ) from None
    seen: dict[str, None] = {}
    for item in iterator:
        seen[normalize_one(item, valid, name)] = None
    return tuple(seen)


def check_language(language: object, valid: tuple[str, ...], operation: str) -> str:
    """The canonical language code, or InvalidInputError naming the operation's languages."""
    return normalize_one(language, valid, f"language for {operation}")


def check_model_version(model_version: object) -> str:
    if not isinstance(model_version, str) or not MODEL_VERSION_PATTERN.match(model_version):
        raise InvalidInputError(f"invalid model_version {model_version!r}; use 'latest' or a date such as '2021-04-01'")
    return model_version


def check_pages(pages: object) -> str | None:
    """Read's ``pages`` as the wire's comma-separated list: "1", "2-5", "3-", "-4"."""
    if pages is None:
        return None
    items: list[object]
    if isinstance(pages, str):
        items = [p.strip() for p in pages.split(",")]
    elif isinstance(pages, int) and not isinstance(pages, bool):
        items = [pages]
    else:
        try:
            items = list(pages)  # type: ignore[call-overload]
        except TypeError:
            raise InvalidInputError(f"pages must be a str, an int or an iterable of them, got {pages!r}") from None
    if not items:
        raise InvalidInputError("pages must name at least one page or range")
    out = []
    for item in items:
        text = str(item).strip() if isinstance(item, str | int) and not isinstance(item, bool) else None
        if text is None or not PAGE_RANGE_PATTERN.match(text):
            raise InvalidInputError(
                f"invalid page range {item!r}; use a page number ('3'), a range ('2-5'), an open range ('4-' or '-2')"
            )
        bounds = [int(b) for b in text.split("-") if b]
        if any(b < 1 for b in bounds) or (len(bounds) == 2 and bounds[0] > bounds[1]):
            raise InvalidInputError(f"invalid page range {item!r}; pages are numbered from 1, low to high")
        out.append(text)
    return ",".join(out)
