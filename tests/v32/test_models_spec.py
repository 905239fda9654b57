"""Spec conformance of the v3.2 parsers, driven by the spec itself.

For every response definition of ComputerVision.json and Ocr.json a complete body is generated
from the schema; then every property of every nested definition is removed (and set to null)
in turn. A property the spec lists as ``required`` must make the parse fail with a
ResponseValidationError naming its JSON path; any other property must parse, and the parsed
field must be ``None`` (or ``()`` for a list).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vision_async import (
    AreaOfInterestResult,
    DetectResult,
    DomainModelResults,
    ImageAnalysis,
    ImageDescription,
    ListModelsResult,
    ObjectHierarchy,
    OcrResult,
    OperationStatus,
    ReadOperationResult,
    ResponseValidationError,
    TagResult,
)

SPEC = Path("/work/shared/azure-spec/v3.2")
if not SPEC.is_dir():  # pragma: no cover - the spec ships with the team's shared files
    pytest.skip("the v3.2 spec is not available", allow_module_level=True)

DEFINITIONS: dict[str, Any] = {
    **json.loads((SPEC / "ComputerVision.json").read_text())["definitions"],
    **json.loads((SPEC / "Ocr.json").read_text())["definitions"],
}

# response definition -> the class that parses it
RESULTS: dict[str, Any] = {
    "ImageAnalysis": ImageAnalysis,
    "TagResult": TagResult,
    "ImageDescription": ImageDescription,
    "DetectResult": DetectResult,
    "ListModelsResult": ListModelsResult,
    "DomainModelResults": DomainModelResults,
    "AreaOfInterestResult": AreaOfInterestResult,
    "OcrResult": OcrResult,
    "ReadOperationResult": ReadOperationResult,
}

# the legacy OCR's boundingBox is a string of four integers (the spec's description)
LEGACY_BOXES = {"OcrRegion", "OcrLine", "OcrWord"}


def _ref(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def _value(schema: dict[str, Any], owner: str, name: str, depth: int) -> Any:
    """A valid value for ``schema`` (a property ``name`` of definition ``owner``)."""
    ref = _ref(schema)
    if ref is not None:
        target = DEFINITIONS[ref]
        if target.get("type", "object") == "object":
            return _instance(ref, depth + 1)
        return _value(target, ref, name, depth)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "string":
        if owner in LEGACY_BOXES and name == "boundingBox":
            return "1,2,3,4"
        return "latest" if "pattern" in schema else f"{name}-text"
    if kind == "number":
        return 0.5
    if kind == "integer":
        return 2
    if kind == "boolean":
        return True
    if kind == "array":
        items = schema["items"]
        if owner == "BoundingBox" or (_ref(items) is None and items.get("type") == "number"):
            return [1.0, 2.0, 3.0, 2.0, 3.0, 4.0, 1.0, 4.0]
        return [_value(items, owner, name, depth)]
    if kind == "object":  # DomainModelResults.result: a free object; give it celebrities
        return {"celebrities": [_instance("CelebritiesModel", depth + 1)]}
    raise AssertionError(f"no generator for {owner}.{name}: {schema}")


def _instance(definition: str, depth: int = 0) -> dict[str, Any]:
    """A complete object of ``definition``: every property present (recursion cut at depth 3)."""
    body: dict[str, Any] = {}
    for name, schema in DEFINITIONS[definition].get("properties", {}).items():
        if _ref(schema) == definition and depth >= 3:
            continue  # ObjectHierarchy.parent: three levels are enough
        if definition == "BoundingBox":
            continue
        body[name] = _value(schema, definition, name, depth)
    return body


def _definition_of(schema: dict[str, Any]) -> str | None:
    ref = _ref(schema)
    if ref is None and schema.get("type") == "array":
        ref = _ref(schema["items"])
    if ref is not None and DEFINITIONS[ref].get("type", "object") == "object":
        return ref
    return None


def _fields(definition: str, body: dict[str, Any], path: str) -> Iterator[tuple[str, str, str, bool]]:
    """(json path of the object, property, owning definition, required?) for every property in the tree."""
    spec = DEFINITIONS[definition]
    required = set(spec.get("required", []))
    for name, schema in spec.get("properties", {}).items():
        if name not in body:
            continue
        yield path, name, definition, name in required
        child = _definition_of(schema)
        value = body[name]
        if child is None:
            if definition == "DomainModelResults" and name == "result":
                yield from _fields("CategoryDetail", value, f"{path}.result")
            continue
        if isinstance(value, list):
            yield from _fields(child, value[0], f"{path}.{name}[0]")
        else:
            yield from _fields(child, value, f"{path}.{name}")


def _locate(body: dict[str, Any], path: str) -> dict[str, Any]:
    node: Any = body
    for part in re.findall(r"\.(\w+)|\[(\d+)\]", path):
        node = node[part[0]] if part[0] else node[int(part[1])]
    return node  # type: ignore[no-any-return]


def _snake(name: str) -> str:
    if name == "object":
        return "object_"
    if name == "isBWImg":
        return "is_bw_img"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _attribute(result: Any, path: str, name: str) -> Any:
    """The parsed counterpart of the JSON field ``path.name``."""
    node = result
    for part in re.findall(r"\.(\w+)|\[(\d+)\]", path):
        if part[0]:
            key = part[0]
            if isinstance(node, ImageDescription) and key == "description":
                continue  # describe's result flattens its description
            if isinstance(node, DomainModelResults) and key == "result":
                continue  # the parsed celebrities sit on the result itself
            node = getattr(node, _snake(key))
        else:
            node = node[int(part[1])]
    return getattr(node, _snake(name))


def _cases() -> Iterator[Any]:
    for definition, cls in RESULTS.items():
        body = _instance(definition)
        if definition == "ReadOperationResult":
            body["status"] = OperationStatus.SUCCEEDED.value
        for path, name, _owner, required in _fields(definition, body, "$"):
            yield pytest.param(
                cls, body, path, name, required, id=f"{definition}:{path}.{name}{'(required)' if required else ''}"
            )


CASES = list(_cases())


def test_the_generated_bodies_parse_whole() -> None:
    """Every generated complete body parses (the generator is sound), with every field set."""
    for definition, cls in RESULTS.items():
        result = cls.from_json(_instance(definition))
        assert result.raw


def test_every_definition_with_properties_is_covered() -> None:
    """The cases reach every object definition the responses use (none is skipped silently)."""
    assert {str(param.id).split(":")[0] for param in CASES} == set(RESULTS)
    used = {
        "Category", "AdultInfo", "ColorInfo", "ImageType", "ImageTag", "ImageDescriptionDetails",
        "FaceDescription", "DetectedObject", "DetectedBrand", "ImageMetadata", "CategoryDetail",
        "ImageCaption", "FaceRectangle", "BoundingRect", "ObjectHierarchy", "CelebritiesModel",
        "LandmarksModel", "ModelDescription", "OcrRegion", "OcrLine", "OcrWord", "analyzeResults",
        "ReadResult", "Line", "Word", "Appearance", "Style",
    }  # fmt: skip
    seen = set()
    for definition in RESULTS:
        seen |= {owner for _, _, owner, _ in _fields(definition, _instance(definition), "$")}
    assert used <= seen, used - seen
    assert sum(1 for param in CASES if param.values[4]) >= 15  # the required fields of Ocr.json


@pytest.mark.parametrize(("cls", "body", "path", "name", "required"), CASES)
@pytest.mark.parametrize("how", ["absent", "null"])
def test_each_field_is_as_required_as_the_spec_says(
    cls: Any, body: dict[str, Any], path: str, name: str, required: bool, how: str
) -> None:
    """Without a field (or with it null): required -> ResponseValidationError naming the path; else it parses."""
    broken = copy.deepcopy(body)
    if how == "absent":
        del _locate(broken, path)[name]
    else:
        _locate(broken, path)[name] = None
    if required:
        with pytest.raises(ResponseValidationError) as info:
            cls.from_json(broken)
        assert f"{path}.{name}" in str(info.value)
        return
    result = cls.from_json(broken)
    if path == "$" and name in ("requestId",):
        assert result.request_id is None
        return
    if name == "result" and cls is DomainModelResults:
        assert result.result == {} and result.celebrities == ()
        return
    if cls is ImageDescription and path == "$" and name == "description":
        assert result.tags == () and result.captions == ()
        return
    assert _attribute(result, path, name) in (None, ())


def test_a_parent_without_confidence_keeps_the_result() -> None:
    """Issue 8: one ObjectHierarchy parent with no confidence no longer rejects a detect result."""
    body = {
        "objects": [
            {
                "rectangle": {"x": 1, "y": 2, "w": 3, "h": 4},
                "object": "beagle",
                "confidence": 0.9,
                "parent": {"object": "dog", "parent": {"object": "mammal", "confidence": 0.8}},
            }
        ]
    }
    result = DetectResult.from_json(body)
    parent = result.objects[0].parent
    assert parent == ObjectHierarchy("dog", None, ObjectHierarchy("mammal", 0.8))
    analysis = ImageAnalysis.from_json(body)
    assert analysis.objects[0].parent is not None and analysis.objects[0].parent.confidence is None


def test_null_items_of_object_lists_are_skipped() -> None:
    """The spec makes every object type nullable: a null item of a list is skipped, the rest parse."""
    result = TagResult.from_json({"tags": [None, {"name": "grass", "confidence": 0.9}, None]})
    assert [t.name for t in result.tags] == ["grass"]


@pytest.mark.parametrize(
    ("cls", "body", "path"),
    [
        (DetectResult, {"objects": [{"parent": {"confidence": "high"}}]}, "$.objects[0].parent.confidence"),
        (ImageAnalysis, {"color": {"isBWImg": "yes"}}, "$.color.isBWImg"),
        (ImageAnalysis, {"faces": [{"age": 1.5}]}, "$.faces[0].age"),
        (TagResult, {"tags": [None, 3]}, "$.tags[1]"),
        (OcrResult, {"textAngle": "up"}, "$.textAngle"),
        (ReadOperationResult, {"status": 3}, "$.status"),
    ],
)
def test_a_present_field_of_the_wrong_type_is_still_an_error(cls: Any, body: dict[str, Any], path: str) -> None:
    """Optional is not untyped: a field present with the wrong type names its path."""
    with pytest.raises(ResponseValidationError) as info:
        cls.from_json(body)
    assert path in str(info.value)


def test_a_read_result_without_status_is_not_done() -> None:
    """status is optional in Ocr.json: without it the result parses and is not done."""
    result = ReadOperationResult.from_json({"createdDateTime": "2026-01-01T00:00:00Z"})
    assert result.status is None and not result.done and result.text == ""
