"""Every 200 example of the v3.2 spec parses into the dataclasses, every field checked."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.helpers import fixture_body
from vision_async import (
    AdultInfo,
    AreaOfInterestResult,
    BoundingRect,
    CelebritiesModel,
    ColorInfo,
    DetectResult,
    DomainModelResults,
    FaceDescription,
    FaceRectangle,
    ImageAnalysis,
    ImageCaption,
    ImageDescription,
    ImageMetadata,
    ImageTag,
    ImageType,
    LandmarksModel,
    ListModelsResult,
    ModelDescription,
    ObjectHierarchy,
    OcrResult,
    OperationStatus,
    ReadOperationResult,
    ResponseValidationError,
    TagResult,
)

SATYA_FACE = FaceRectangle(left=597, top=162, width=248, height=248)
TREE = (
    BoundingRect(0, 0, 50, 50),
    "tree",
    0.9,
    ObjectHierarchy("plant", 0.95, None),
)


def _check_common_analysis(a: ImageAnalysis) -> None:
    assert a.adult == AdultInfo(False, False, False, 0.0934349000453949, 0.06861349195241928, 0.012872257380997575)
    assert a.tags == (
        ImageTag("person", 0.9897908568382263),
        ImageTag("man", 0.9449388980865479),
        ImageTag("outdoor", 0.938492476940155),
        ImageTag("window", 0.8951393961906433),
        ImageTag("pangolin", 0.7250059783791661, "mammal"),
    )
    assert a.description is not None
    assert a.description.tags == ("person", "man", "outdoor", "window", "glasses")
    assert a.description.captions == (ImageCaption("Satya Nadella sitting on a bench", 0.48293603002174407),)
    assert a.request_id == "0dbec5ad-a3d3-4f7e-96b4-dfd57efe967d"
    assert a.metadata == ImageMetadata(1500, 1000, "Jpeg")
    assert a.model_version == "2021-04-01"
    assert a.faces == (FaceDescription(44, "Male", FaceRectangle(593, 160, 250, 250)),)
    assert a.color == ColorInfo("Brown", "Brown", ("Brown", "Black"), "873B59", False)
    assert a.image_type == ImageType(clip_art_type=0, line_drawing_type=0)
    (obj,) = a.objects
    assert (obj.rectangle, obj.object_, obj.confidence, obj.parent) == TREE
    assert [(b.name, b.confidence, b.rectangle) for b in a.brands] == [
        ("Pepsi", 0.857, BoundingRect(489, 79, 161, 177)),
        ("Coca-Cola", 0.893, BoundingRect(216, 55, 171, 372)),
    ]


def test_analyze_with_url_example() -> None:
    """The analyze (URL) example: categories with celebrity and landmark details, all features."""
    a = ImageAnalysis.from_json(fixture_body("analyze_image_with_url"))
    assert [(c.name, c.score) for c in a.categories] == [
        ("abstract_", 0.00390625),
        ("people_", 0.83984375),
        ("building_", 0.984375),
    ]
    assert a.categories[0].detail is None
    people = a.categories[1].detail
    assert people is not None
    assert people.celebrities == (CelebritiesModel("Satya Nadella", 0.999028444, SATYA_FACE),)
    assert people.landmarks == ()
    building = a.categories[2].detail
    assert building is not None
    assert building.celebrities == ()
    assert building.landmarks == (LandmarksModel("Forbidden City", 0.9829016923904419),)
    _check_common_analysis(a)
    assert a.raw["requestId"] == a.request_id


def test_analyze_with_stream_example() -> None:
    """The analyze (stream) example: one category holding both celebrities and landmarks."""
    a = ImageAnalysis.from_json(fixture_body("analyze_image_with_stream"))
    assert [(c.name, c.score) for c in a.categories] == [("abstract_", 0.00390625), ("people_", 0.83984375)]
    detail = a.categories[1].detail
    assert detail is not None
    assert detail.celebrities == (CelebritiesModel("Satya Nadella", 0.999028444, SATYA_FACE),)
    assert detail.landmarks == (LandmarksModel("Forbidden City", 0.9978346),)
    _check_common_analysis(a)


def test_tag_example() -> None:
    """The tag example: eight tags, request id, metadata, model version."""
    t = TagResult.from_json(fixture_body("tag_image"))
    assert [(x.name, x.confidence, x.hint) for x in t.tags] == [
        ("grass", 0.9999997615814209, None),
        ("outdoor", 0.9999706745147705, None),
        ("sky", 0.9992897510528564, None),
        ("building", 0.9964632391929626, None),
        ("house", 0.9927980303764343, None),
        ("lawn", 0.8226802945137024, None),
        ("green", 0.6412225365638733, None),
        ("residential", 0.31403225660324097, None),
    ]
    assert t.request_id == "1ad0e45e-b7b4-4be3-8042-53be96103337"
    assert t.metadata == ImageMetadata(400, 400, "Jpeg")
    assert t.model_version == "2021-04-01"


def test_describe_example() -> None:
    """The describe example: the flattened description tags and captions."""
    d = ImageDescription.from_json(fixture_body("describe_image"))
    assert d.tags == ("person", "man", "outdoor", "window", "glasses")
    assert d.captions == (ImageCaption("Satya Nadella sitting on a bench", 0.48293603002174407),)
    assert d.request_id == "ed2de1c6-fb55-4686-b0da-4da6e05d283f"
    assert d.metadata == ImageMetadata(1500, 1000, "Jpeg")
    assert d.model_version == "2021-04-01"


def test_detect_example() -> None:
    """The detect example: one object with its rectangle and parent."""
    r = DetectResult.from_json(fixture_body("detect_objects"))
    (obj,) = r.objects
    assert (obj.rectangle, obj.object_, obj.confidence, obj.parent) == TREE
    assert r.request_id == "1ad0e45e-b7b4-4be3-8042-53be96103337"
    assert r.metadata == ImageMetadata(100, 100, "Jpeg")
    assert r.model_version == "2021-04-01"


def test_list_models_example() -> None:
    """The models example: celebrities and landmarks with their categories."""
    r = ListModelsResult.from_json(fixture_body("list_models"))
    assert r.models == (ModelDescription("celebrities", ("people_",)), ModelDescription("landmarks", ("building_",)))


def test_domain_model_example() -> None:
    """The celebrities domain example: the result object, parsed and raw."""
    r = DomainModelResults.from_json(fixture_body("analyze_image_by_domain"))
    assert r.celebrities == (CelebritiesModel("Satya Nadella", 0.999028444, SATYA_FACE),)
    assert r.landmarks == ()
    assert r.result["celebrities"][0]["name"] == "Satya Nadella"
    assert r.request_id == "f0027b4b-dc0d-4082-9228-1545ed246b03"
    assert r.metadata == ImageMetadata(1500, 1000, "Jpeg")
    assert r.model_version == "2021-04-01"


def test_area_of_interest_example() -> None:
    """The area of interest example: the rectangle and metadata."""
    r = AreaOfInterestResult.from_json(fixture_body("get_area_of_interest"))
    assert r.area_of_interest == BoundingRect(x=160, y=0, w=950, h=951)
    assert r.request_id == "ed2de1c6-fb55-4686-b0da-4da6e05d283f"
    assert r.metadata == ImageMetadata(1378, 951, "Jpeg")
    assert r.model_version == "2021-04-01"


def test_ocr_example() -> None:
    """The OCR example: bounding box strings become int tuples; text joins the words."""
    r = OcrResult.from_json(fixture_body("recognize_printed_text"))
    assert r.language == "en"
    assert r.text_angle == -2.0000000000000338
    assert r.orientation == "Up"
    assert r.model_version == "2021-04-01"
    (region,) = r.regions
    assert region.bounding_box == (462, 379, 497, 258)
    assert [line.bounding_box for line in region.lines] == [
        (462, 379, 497, 74),
        (565, 471, 289, 74),
        (519, 563, 375, 74),
    ]
    assert [(w.bounding_box, w.text) for w in region.lines[0].words] == [
        ((462, 379, 41, 73), "A"),
        ((523, 379, 153, 73), "GOAL"),
        ((694, 379, 265, 74), "WITHOUT"),
    ]
    assert [(w.bounding_box, w.text) for w in region.lines[1].words] == [
        ((565, 471, 41, 73), "A"),
        ((626, 471, 150, 73), "PLAN"),
        ((801, 472, 53, 73), "IS"),
    ]
    assert [(w.bounding_box, w.text) for w in region.lines[2].words] == [
        ((519, 563, 149, 74), "JUST"),
        ((683, 564, 41, 72), "A"),
        ((741, 564, 153, 73), "WISH"),
    ]
    assert r.text == "A GOAL WITHOUT\nA PLAN IS\nJUST A WISH"


def test_read_result_example() -> None:
    """The Read result example: two pages, lines with styles and languages, 8-number boxes."""
    body = fixture_body("get_read_result")
    r = ReadOperationResult.from_json(body)
    assert r.status is OperationStatus.SUCCEEDED and r.done
    assert r.created_date_time == "2019-10-03T14:32:04.236Z"
    assert r.last_updated_date_time == "2019-10-03T14:38:14.852Z"
    ar = r.analyze_result
    assert ar is not None
    assert (ar.version, ar.model_version) == ("v3.2", "2021-04-12")
    p1, p2 = ar.read_results
    assert (p1.page, p1.language, p1.angle, p1.width, p1.height, p1.unit) == (1, "en", 49.59, 600, 400, "pixel")
    assert (p2.page, p2.language, p2.angle, p2.width, p2.height, p2.unit) == (2, "en", 1.32, 600, 400, "pixel")
    assert [line.text for line in p1.lines] == [
        "Our greatest glory is not",
        "but in rising every time we fall",
        "Viva la vida",
    ]
    assert [line.language for line in p1.lines] == [None, None, "es"]
    assert [(line.appearance.style.name, line.appearance.style.confidence) for line in p1.lines if line.appearance] == [
        ("other", 0.995),
        ("handwriting", 0.985),
        ("other", 0.995),
    ]
    assert p1.lines[0].bounding_box == (202, 618, 2047, 643, 2046, 840, 200, 813)
    first = p1.lines[0].words[0]
    assert (first.text, first.confidence, first.bounding_box) == (
        "Our",
        0.164,
        (204, 627, 481, 628, 481, 830, 204, 829),
    )
    # every word of every line, against the source body
    for page, page_json in zip(ar.read_results, body["analyzeResult"]["readResults"], strict=True):
        for line, line_json in zip(page.lines, page_json["lines"], strict=True):
            assert line.bounding_box == tuple(float(v) for v in line_json["boundingBox"])
            assert [(w.text, w.confidence, list(w.bounding_box)) for w in line.words] == [
                (w["text"], w["confidence"], w["boundingBox"]) for w in line_json["words"]
            ]
    assert p2.lines[0].appearance is not None and p2.lines[0].appearance.style.confidence == 0.855
    assert r.text == "Our greatest glory is not\nbut in rising every time we fall\nViva la vida\n\nin never failing ,"
    assert len(r.lines) == 4


def test_results_are_frozen_slotted_and_hashable_without_raw() -> None:
    """Results are immutable; raw stays out of equality."""
    t = TagResult.from_json(fixture_body("tag_image"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.tags = ()  # type: ignore[misc]
    assert not hasattr(t, "__dict__")
    assert t == TagResult.from_json(fixture_body("tag_image"))
    with pytest.raises(TypeError):
        t.raw["tags"] = []  # type: ignore[index]


def test_unknown_fields_are_tolerated_and_kept_in_raw() -> None:
    """A field the spec does not know is ignored by the parser and kept in raw."""
    body = fixture_body("tag_image") | {"futureField": {"x": 1}}
    body["tags"][0]["newThing"] = True
    t = TagResult.from_json(body)
    assert t.raw["futureField"] == {"x": 1}
    assert t.tags[0].name == "grass"


def test_absent_features_are_none_or_empty() -> None:
    """Features that were not requested come back as None or ()."""
    a = ImageAnalysis.from_json({"requestId": "r", "metadata": {"width": 10, "height": 20, "format": "Png"}})
    assert (a.adult, a.color, a.image_type, a.description) == (None, None, None, None)
    assert (a.categories, a.tags, a.faces, a.objects, a.brands) == ((), (), (), (), ())
    assert a.metadata == ImageMetadata(10, 20, "Png")


@pytest.mark.parametrize(
    ("cls", "body", "path"),
    [
        (TagResult, {"tags": {"name": "x"}}, "$.tags"),
        (TagResult, {"tags": [{"name": "x", "confidence": "high"}]}, "$.tags[0].confidence"),
        (TagResult, {"tags": [{"name": "x", "confidence": None}, {"name": 3}]}, "$.tags[1].name"),
        (TagResult, {"tags": ["x"]}, "$.tags[0]"),
        (ImageAnalysis, {"adult": {"isAdultContent": "no"}}, "$.adult.isAdultContent"),
        (ImageAnalysis, {"metadata": {"width": 1.5, "height": 2}}, "$.metadata.width"),
        (
            DetectResult,
            {"objects": [{"rectangle": {"x": 0, "y": 0, "w": 1, "h": "tall"}, "confidence": 1}]},
            "$.objects[0].rectangle.h",
        ),
        (OcrResult, {"regions": [{"boundingBox": "1,2,3", "lines": []}]}, "$.regions[0].boundingBox"),
        (ReadOperationResult, {"status": "exploded"}, "$.status"),
        (
            ReadOperationResult,
            {"status": "succeeded", "analyzeResult": {"version": "v3.2", "modelVersion": "x"}},
            "readResults",
        ),
    ],
)
def test_malformed_bodies_raise_response_validation_error(cls: type, body: dict, path: str) -> None:
    """A body that breaks the spec raises ResponseValidationError naming the field."""
    with pytest.raises(ResponseValidationError) as info:
        cls.from_json(json.loads(json.dumps(body)))
    assert path in str(info.value)
