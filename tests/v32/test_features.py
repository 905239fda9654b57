"""The closed sets of the API and their normalization."""

from __future__ import annotations

import pytest

from vision_async import Detail, InvalidInputError, ReadingOrder, VisualFeature
from vision_async._v32.features import (
    OCR_LANGUAGES,
    READ_LANGUAGES,
    SERVICE_LANGUAGES,
    check_language,
    check_pages,
    normalize_many,
    normalize_one,
)


def test_enum_members_and_wire_strings_normalize_alike() -> None:
    """Members, exact strings and other cases all give the canonical wire string."""
    assert normalize_many([VisualFeature.IMAGE_TYPE, "imagetype", "IMAGETYPE", "Tags"], VisualFeature, "f") == (
        "ImageType",
        "Tags",
    )
    assert normalize_many("celebrities", Detail, "d") == ("Celebrities",)
    assert normalize_many(None, Detail, "d") == ()
    assert normalize_one(" Natural ", ReadingOrder, "reading_order") == "natural"


def test_non_iterables_and_non_strings_are_refused() -> None:
    """A number where a feature list belongs is a clear error."""
    with pytest.raises(InvalidInputError, match="iterable"):
        normalize_many(3, VisualFeature, "visual feature")
    with pytest.raises(InvalidInputError, match="invalid visual feature 3"):
        normalize_many([3], VisualFeature, "visual feature")


def test_language_lists_follow_the_spec() -> None:
    """Each operation has its own language list, as in the spec."""
    assert len(SERVICE_LANGUAGES) == 52 and "pt-BR" in SERVICE_LANGUAGES
    assert OCR_LANGUAGES[0] == "unk" and "vi" not in OCR_LANGUAGES
    assert "ceb" in READ_LANGUAGES and "unk" not in READ_LANGUAGES
    assert check_language("ZH-hANS", SERVICE_LANGUAGES, "tag") == "zh-Hans"


@pytest.mark.parametrize(
    ("pages", "wire"),
    [("1", "1"), (3, "3"), ("2-5", "2-5"), ("4-", "4-"), ("-2", "-2"), (["1", 3, "5-7"], "1,3,5-7"), ("1, 2", "1,2")],
)
def test_pages_become_the_wire_list(pages: object, wire: str) -> None:
    """Pages as str, int or list become the comma-separated wire form."""
    assert check_pages(pages) == wire


@pytest.mark.parametrize("pages", ["", "0", "3-2", "a", "1--2", [True], [1.5], "-"])
def test_bad_pages_are_refused(pages: object) -> None:
    """Ranges that the spec's pattern refuses, or that are empty or backwards, fail locally."""
    with pytest.raises(InvalidInputError):
        check_pages(pages)
