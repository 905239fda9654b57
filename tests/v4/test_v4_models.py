"""Image Analysis 4.0 results: every spec example and the seed's example parse with every field
checked; required fields are enforced with JSON paths, optional ones never reject a result."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vision_async
import vision_async.v4 as v4
from tests.helpers import FIXTURES_ROOT, ROOT
from vision_async import ResponseValidationError
from vision_async.v4 import (
    CropRegion,
    DetectedTextLine,
    ImageAnalysisResult,
    ImageBoundingBox,
    ImagePoint,
    ReadResult,
)

FIXTURES = FIXTURES_ROOT / "v4.0"
SPEC_EXAMPLES = ROOT.parent / "shared" / "azure-spec" / "v4.0" / "examples"
EXAMPLES = ("AnalyzeFromImageData_MaximumSet", "AnalyzeFromUrl_MaximumSet")


def body(name: str) -> dict[str, Any]:
    doc = json.loads((FIXTURES / f"{name}.json").read_text())
    return doc["responses"]["200"]["body"] if "responses" in doc else doc


def _box(b: ImageBoundingBox) -> dict[str, int]:
    return {"x": b.x, "y": b.y, "w": b.width, "h": b.height}


def _points(points: tuple[ImagePoint, ...]) -> list[dict[str, int]]:
    return [{"x": p.x, "y": p.y} for p in points]


def _line(line: DetectedTextLine) -> dict[str, Any]:
    words = [
        {"text": w.text, "boundingPolygon": _points(w.bounding_polygon), "confidence": w.confidence} for w in line.words
    ]
    return {"text": line.text, "boundingPolygon": _points(line.bounding_polygon), "words": words}


def to_wire(r: ImageAnalysisResult) -> dict[str, Any]:
    """The parsed result written back in the wire's names: equal to the body iff every field was read."""
    out: dict[str, Any] = {"metadata": {"width": r.metadata.width, "height": r.metadata.height}}
    if r.model_version is not None:
        out["modelVersion"] = r.model_version
    if r.caption is not None:
        out["captionResult"] = {"text": r.caption.text, "confidence": r.caption.confidence}
    if r.dense_captions is not None:
        out["denseCaptionsResult"] = {
            "values": [
                {"text": d.text, "confidence": d.confidence, "boundingBox": _box(d.bounding_box)}
                for d in r.dense_captions
            ]
        }
    if r.tags is not None:
        out["tagsResult"] = {"values": [{"name": t.name, "confidence": t.confidence} for t in r.tags]}
    if r.objects is not None:
        out["objectsResult"] = {
            "values": [
                {
                    "boundingBox": _box(o.bounding_box),
                    "tags": [{"name": t.name, "confidence": t.confidence} for t in o.tags],
                }
                for o in r.objects
            ]
        }
    if r.read is not None:
        out["readResult"] = {"blocks": [{"lines": [_line(li) for li in b.lines]} for b in r.read.blocks]}
    if r.smart_crops is not None:
        out["smartCropsResult"] = {
            "values": [{"aspectRatio": c.aspect_ratio, "boundingBox": _box(c.bounding_box)} for c in r.smart_crops]
        }
    if r.people is not None:
        out["peopleResult"] = {
            "values": [{"boundingBox": _box(p.bounding_box), "confidence": p.confidence} for p in r.people]
        }
    return out


@pytest.mark.parametrize("name", EXAMPLES)
def test_spec_examples_parse_with_every_field(name: str) -> None:
    """Each spec example parses, and writing the result back gives the example's body exactly."""
    data = body(name)
    result = ImageAnalysisResult.from_json(data, request_id="req-1")
    assert to_wire(result) == data
    assert result.request_id == "req-1"
    assert result.raw == data


@pytest.mark.parametrize("name", EXAMPLES)
def test_fixtures_are_the_spec_examples(name: str) -> None:
    """The fixtures are verbatim copies of the spec's examples (checked where the spec is present)."""
    source = SPEC_EXAMPLES / f"{name}.json"
    if not source.is_file():  # pragma: no cover - the spec ships with the team's shared files
        pytest.skip("the shared spec is not beside this checkout")
    assert json.loads(source.read_text()) == json.loads((FIXTURES / f"{name}.json").read_text())


def test_spec_example_values() -> None:
    """Spot checks of the parsed example against the spec's numbers and names."""
    r = ImageAnalysisResult.from_json(body("AnalyzeFromImageData_MaximumSet"))
    assert r.model_version == "2023-10-01" and (r.metadata.width, r.metadata.height) == (864, 576)
    assert r.caption is not None and r.caption.text.startswith("a woman wearing a mask")
    assert r.dense_captions is not None and len(r.dense_captions) == 10
    assert r.dense_captions[0].bounding_box == ImageBoundingBox(0, 0, 864, 576)
    assert r.tags is not None and r.tags[0].name == "furniture" and len(r.tags) == 14
    assert r.objects is not None and r.objects[2].tags[0].name == "Laptop"
    assert r.people is not None and r.people[1].confidence == pytest.approx(0.00165, rel=1e-2)
    assert r.smart_crops == (
        CropRegion(0.9, ImageBoundingBox(238, 0, 511, 568)),
        CropRegion(1.33, ImageBoundingBox(54, 0, 760, 571)),
    )
    assert r.read is not None and r.read.blocks[0].lines[1].words[1].text == "writing"
    assert r.read.text == "Sample text\nHand writing\n123 456"
    assert [line.text for line in r.read.lines] == ["Sample text", "Hand writing", "123 456"]
    assert r.read.blocks[0].lines[0].bounding_polygon[2] == ImagePoint(843, 519)


def test_seed_example_without_model_version() -> None:
    """The seed's {"metadata", "tagsResult"} example parses: no modelVersion, tags only."""
    data = body("seed_tags")
    r = ImageAnalysisResult.from_json(data)
    assert to_wire(r) == data
    assert r.model_version is None and r.request_id is None
    assert r.tags is not None and [t.name for t in r.tags] == ["text", "indoor", "font", "screenshot"]
    assert (r.caption, r.dense_captions, r.objects, r.people, r.read, r.smart_crops) == (None,) * 6


def test_not_requested_is_none_and_nothing_found_is_empty() -> None:
    """A feature absent from the body is None; present with no values is an empty tuple."""
    data = {
        "metadata": {"width": 100, "height": 80},
        "modelVersion": "2023-10-01",
        "tagsResult": {"values": []},
        "objectsResult": {"values": []},
        "peopleResult": {"values": []},
        "readResult": {"blocks": []},
    }
    r = ImageAnalysisResult.from_json(data)
    assert r.tags == () and r.objects == () and r.people == ()
    assert r.read == ReadResult(blocks=()) and r.read.text == ""
    assert r.caption is None and r.dense_captions is None and r.smart_crops is None


def test_unknown_fields_are_kept_and_never_fatal() -> None:
    """Fields the spec does not know stay in raw and do not reject the result."""
    data = copy.deepcopy(body("seed_tags"))
    data["futureResult"] = {"values": [1, 2]}
    data["tagsResult"]["values"][0]["hint"] = "new"
    r = ImageAnalysisResult.from_json(data)
    assert r.raw["futureResult"] == {"values": [1, 2]}
    assert r.tags is not None and r.tags[0].name == "text"


def _without(data: dict[str, Any], path: list[Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return data


@pytest.mark.parametrize(
    ("path", "where"),
    [
        (["metadata"], "$.metadata"),
        (["metadata", "width"], "$.metadata.width"),
        (["captionResult", "text"], "$.captionResult.text"),
        (["denseCaptionsResult", "values", 3, "boundingBox"], "$.denseCaptionsResult.values[3].boundingBox"),
        (["tagsResult", "values"], "$.tagsResult.values"),
        (["tagsResult", "values", 1, "confidence"], "$.tagsResult.values[1].confidence"),
        (["objectsResult", "values", 2, "tags"], "$.objectsResult.values[2].tags"),
        (["objectsResult", "values", 0, "boundingBox", "h"], "$.objectsResult.values[0].boundingBox.h"),
        (["peopleResult", "values", 0, "confidence"], "$.peopleResult.values[0].confidence"),
        (["readResult", "blocks"], "$.readResult.blocks"),
        (["readResult", "blocks", 0, "lines", 1, "words"], "$.readResult.blocks[0].lines[1].words"),
        (
            ["readResult", "blocks", 0, "lines", 0, "words", 1, "boundingPolygon"],
            "$.readResult.blocks[0].lines[0].words[1].boundingPolygon",
        ),
        (["smartCropsResult", "values", 1, "aspectRatio"], "$.smartCropsResult.values[1].aspectRatio"),
    ],
)
def test_missing_required_field_names_its_path(path: list[Any], where: str) -> None:
    """A field the spec requires, missing, is a ResponseValidationError naming its JSON path."""
    data = _without(body("AnalyzeFromUrl_MaximumSet"), path)
    with pytest.raises(ResponseValidationError, match=re.escape(f"{where} should be")):
        ImageAnalysisResult.from_json(data)


@pytest.mark.parametrize(
    ("patch", "where"),
    [
        ({"captionResult": {"text": 5, "confidence": 0.5}}, "$.captionResult.text"),
        ({"tagsResult": {"values": [{"name": "a", "confidence": "high"}]}}, "$.tagsResult.values[0].confidence"),
        ({"tagsResult": [1]}, "$.tagsResult"),
        ({"peopleResult": {"values": [7]}}, "$.peopleResult.values[0]"),
        ({"metadata": {"width": 1.5, "height": 2}}, "$.metadata.width"),
        ({"modelVersion": 2023}, "$.modelVersion"),
    ],
)
def test_wrong_types_name_their_path(patch: dict[str, Any], where: str) -> None:
    """A value of the wrong JSON type is a ResponseValidationError naming its path."""
    data = {**body("seed_tags"), **patch}
    with pytest.raises(ResponseValidationError) as info:
        ImageAnalysisResult.from_json(data)
    assert where in str(info.value)


def test_results_are_frozen_and_slotted() -> None:
    """Results are immutable, slotted dataclasses."""
    r = ImageAnalysisResult.from_json(body("AnalyzeFromImageData_MaximumSet"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.model_version = "x"  # type: ignore[misc]
    assert not hasattr(r, "__dict__") and not hasattr(r.metadata, "__dict__")
    assert "raw" not in repr(r)


def test_public_names_of_v4() -> None:
    """vision_async.v4 exports the spec-named results, Feature and the surface, and nothing collides
    with the 3.2 names (ImageMetadata and DetectedObject are distinct types per version)."""
    assert v4.__all__ == sorted(v4.__all__)
    assert set(v4.__all__) == {
        "API_VERSION",
        "CaptionResult",
        "CropRegion",
        "DenseCaption",
        "DetectedObject",
        "DetectedPerson",
        "DetectedTag",
        "DetectedTextBlock",
        "DetectedTextLine",
        "DetectedTextWord",
        "Embedding",
        "Feature",
        "ImageAnalysisResult",
        "ImageAnalysisV4",
        "ImageBoundingBox",
        "ImageMetadata",
        "ImagePoint",
        "ReadResult",
    }
    assert v4.ImageMetadata is not vision_async.ImageMetadata
    assert v4.DetectedObject is not vision_async.DetectedObject
    assert v4.API_VERSION == "2023-10-01"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _all_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _all_paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _all_paths(v, (*prefix, i))
    return out


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_corrupting_any_node_gives_a_typed_error_or_a_result(data: st.DataObject) -> None:
    """Replacing any node of the full example with arbitrary JSON never raises anything untyped."""
    original = body("AnalyzeFromImageData_MaximumSet")
    path = data.draw(st.sampled_from(_all_paths(original)[1:]))
    corrupted = copy.deepcopy(original)
    target: Any = corrupted
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(_json_values)
    try:
        ImageAnalysisResult.from_json(corrupted)
    except ResponseValidationError as exc:
        assert str(exc).startswith("response field $")
