"""Image Analysis 4.0 options: Feature accepts the wire strings in any case, and every bad option
is an InvalidInputError before anything is sent; good ones become the spec's query string."""

from __future__ import annotations

from typing import Any

import pytest

from vision_async import InvalidInputError
from vision_async.v4 import Feature
from vision_async.v4._options import check_options


def params(**options: Any) -> dict[str, str]:
    return check_options(options).params()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (Feature.DENSE_CAPTIONS, Feature.DENSE_CAPTIONS),
        ("denseCaptions", Feature.DENSE_CAPTIONS),
        ("DENSECAPTIONS", Feature.DENSE_CAPTIONS),
        ("dense_captions", Feature.DENSE_CAPTIONS),
        (" SmartCrops ", Feature.SMART_CROPS),
        ("TAGS", Feature.TAGS),
        ("Read", Feature.READ),
    ],
)
def test_feature_accepts_members_and_wire_strings_in_any_case(given: Any, expected: Feature) -> None:
    """A Feature member, its wire string in any case, or its name all select the feature."""
    assert params(features=[given])["features"] == expected.value


def test_feature_is_a_str_enum_of_the_spec_values() -> None:
    """Feature's values are exactly the spec's VisualFeatures."""
    assert [f.value for f in Feature] == [
        "tags",
        "caption",
        "denseCaptions",
        "objects",
        "read",
        "smartCrops",
        "people",
    ]
    assert Feature.TAGS == "tags"


def test_query_string_for_every_option() -> None:
    """Every option maps to the spec's parameter name and serialization."""
    assert params(
        features=[Feature.TAGS, "caption", "read", "smartCrops"],
        language="en",
        gender_neutral_caption=True,
        smart_crops_aspect_ratios=[0.9, 1.33, 1],
        model_version="2023-10-01",
    ) == {
        "api-version": "2023-10-01",
        "features": "tags,caption,read,smartCrops",
        "language": "en",
        "gender-neutral-caption": "true",
        "smartcrops-aspect-ratios": "0.9,1.33,1.0",
        "model-version": "2023-10-01",
    }


def test_defaults_and_duplicates() -> None:
    """Defaults: English, latest model, no gender-neutral flag; duplicate features are sent once, in order."""
    assert params(features="people,TAGS,people") == {
        "api-version": "2023-10-01",
        "features": "people,tags",
        "language": "en",
        "model-version": "latest",
    }
    assert params(features=Feature.OBJECTS)["features"] == "objects"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "features is required"),
        ({"features": []}, "at least one feature"),
        ({"features": ""}, "invalid feature"),
        ({"features": ["tags", "faces"]}, "invalid feature 'faces'"),
        ({"features": [1]}, "invalid feature 1"),
        ({"features": 7}, "features must be"),
        ({"features": ["caption"], "language": "fr"}, "caption is only available in English"),
        ({"features": ["tags", "denseCaptions", "caption"], "language": "de"}, "are only available in English"),
        ({"features": ["tags"], "language": "english please"}, "language must be a language code"),
        ({"features": ["tags"], "language": None}, "language must be a language code"),
        ({"features": ["tags"], "gender_neutral_caption": "yes"}, "gender_neutral_caption must be a bool"),
        ({"features": ["smartCrops"], "smart_crops_aspect_ratios": [0.74]}, "out of range"),
        ({"features": ["smartCrops"], "smart_crops_aspect_ratios": [1.81]}, "out of range"),
        ({"features": ["smartCrops"], "smart_crops_aspect_ratios": [float("nan")]}, "invalid aspect ratio"),
        ({"features": ["smartCrops"], "smart_crops_aspect_ratios": [float("inf")]}, "invalid aspect ratio"),
        ({"features": ["smartCrops"], "smart_crops_aspect_ratios": [True]}, "invalid aspect ratio"),
        ({"features": ["smartCrops"], "smart_crops_aspect_ratios": ["1.2"]}, "invalid aspect ratio"),
        ({"features": ["smartCrops"], "smart_crops_aspect_ratios": "1.2"}, "must be a number or an iterable"),
        ({"features": ["smartCrops"], "smart_crops_aspect_ratios": []}, "at least one ratio"),
        ({"features": ["tags"], "smart_crops_aspect_ratios": [1.0]}, "needs the smartCrops feature"),
        ({"features": ["tags"], "model_version": "newest"}, "invalid model_version"),
        ({"features": ["tags"], "model_version": "2023-10-1"}, "invalid model_version"),
        ({"features": ["tags"], "visual_features": ["tags"]}, "unknown option"),
    ],
)
def test_bad_options_are_refused_locally(options: dict[str, Any], message: str) -> None:
    """Each bad option is an InvalidInputError that says what is wrong."""
    with pytest.raises(InvalidInputError, match=message):
        check_options(options)


def test_languages_other_than_english_are_fine_without_captions() -> None:
    """Only Caption and Dense Captions are English only: tags may be asked for in another language."""
    assert params(features=["tags", "objects", "read"], language="pt-BR")["language"] == "pt-BR"


def test_aspect_ratio_bounds_are_inclusive_and_one_number_is_one_ratio() -> None:
    """0.75 and 1.8 are accepted (the spec says inclusive); a single number is one ratio."""
    assert params(features=["smartCrops"], smart_crops_aspect_ratios=(0.75, 1.8))["smartcrops-aspect-ratios"] == (
        "0.75,1.8"
    )
    assert params(features=["smartCrops"], smart_crops_aspect_ratios=1.5)["smartcrops-aspect-ratios"] == "1.5"


def test_options_must_be_a_mapping() -> None:
    """_bind's options must be a mapping of analyze's keyword names."""
    with pytest.raises(InvalidInputError, match="mapping"):
        check_options([("features", "tags")])  # type: ignore[arg-type]
