"""Results of analyze, tag, describe, detect, the domain models and area of interest.

Frozen, slotted dataclasses named after the v3.2 spec's definitions, each parsed in one place
(``from_json``). Lists are tuples; a feature that was not requested is ``None`` or ``()``;
unknown fields are ignored but stay reachable in ``raw`` on every top-level result.

No definition of ComputerVision.json has a ``required`` list, so every field is optional: a
field the body leaves out (or sends as ``null``) is ``None`` (``()`` for a list), never an
error, and a ``null`` item of a list of objects (the spec makes every object type nullable) is
skipped. What the spec does fix is each field's type: a field that is present with the wrong
type (a string where a number belongs) is a ResponseValidationError naming its JSON path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from .._core.parse import Node, maker
from .._errors import ResponseValidationError

__all__ = [
    "AdultInfo",
    "AreaOfInterestResult",
    "BoundingRect",
    "Category",
    "CategoryDetail",
    "CelebritiesModel",
    "ColorInfo",
    "DetectResult",
    "DetectedBrand",
    "DetectedObject",
    "DomainModelResults",
    "FaceDescription",
    "FaceRectangle",
    "ImageAnalysis",
    "ImageCaption",
    "ImageDescription",
    "ImageDescriptionDetails",
    "ImageMetadata",
    "ImageTag",
    "ImageType",
    "LandmarksModel",
    "ListModelsResult",
    "ModelDescription",
    "ObjectHierarchy",
    "TagResult",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
R = TypeVar("R")


def _raw() -> Any:
    return field(default_factory=lambda: _EMPTY, repr=False, compare=False)


def _flag(n: Node, key: str) -> bool | None:
    """An optional boolean: ``None`` when absent or ``null``, an error when not a boolean."""
    return None if n.data.get(key) is None else n.boolean(key)


def _objects(
    n: Node, key: str, parse: Callable[[Node], R], fast: Callable[[dict[str, Any]], R | None] | None = None
) -> tuple[R, ...]:
    """A list of objects that may be absent or ``null`` (``()``) and hold ``null`` items (skipped)."""
    value = n.data.get(key)
    if not isinstance(value, list) or None not in value:
        return n.objects(key, parse, fast=fast)
    out = []
    for i, item in enumerate(value):
        if item is None:
            continue
        if not isinstance(item, Mapping):
            kind = {list: "array", str: "string", bool: "boolean"}.get(type(item), type(item).__name__)
            raise ResponseValidationError(f"response field {n.path}.{key}[{i}] should be an object, got {kind}")
        out.append(parse(Node(item, n, key, i)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class FaceRectangle:
    left: int | None
    top: int | None
    width: int | None
    height: int | None

    @classmethod
    def _parse(cls, n: Node) -> FaceRectangle:
        return cls(n.opt_integer("left"), n.opt_integer("top"), n.opt_integer("width"), n.opt_integer("height"))


@dataclass(frozen=True, slots=True)
class BoundingRect:
    x: int | None
    y: int | None
    w: int | None
    h: int | None

    @classmethod
    def _parse(cls, n: Node) -> BoundingRect:
        return cls(n.opt_integer("x"), n.opt_integer("y"), n.opt_integer("w"), n.opt_integer("h"))


@dataclass(frozen=True, slots=True)
class ImageMetadata:
    width: int | None
    height: int | None
    format: str | None = None

    @classmethod
    def _parse(cls, n: Node) -> ImageMetadata:
        return cls(n.opt_integer("width"), n.opt_integer("height"), n.opt_text("format"))

    @staticmethod
    def _fast(data: dict[str, Any]) -> ImageMetadata | None:
        """The usual metadata, checked at once (None: read it field by field)."""
        width, height, fmt = data.get("width"), data.get("height"), data.get("format")
        if type(width) is int and type(height) is int and (fmt is None or type(fmt) is str):
            return _make_metadata(width, height, fmt)
        return None


_make_metadata = maker(ImageMetadata)


@dataclass(frozen=True, slots=True)
class CelebritiesModel:
    name: str | None
    confidence: float | None
    face_rectangle: FaceRectangle | None = None

    @classmethod
    def _parse(cls, n: Node) -> CelebritiesModel:
        return cls(n.opt_text("name"), n.opt_number("confidence"), n.opt_obj("faceRectangle", FaceRectangle._parse))


@dataclass(frozen=True, slots=True)
class LandmarksModel:
    name: str | None
    confidence: float | None

    @classmethod
    def _parse(cls, n: Node) -> LandmarksModel:
        return cls(n.opt_text("name"), n.opt_number("confidence"))


@dataclass(frozen=True, slots=True)
class CategoryDetail:
    celebrities: tuple[CelebritiesModel, ...] = ()
    landmarks: tuple[LandmarksModel, ...] = ()

    @classmethod
    def _parse(cls, n: Node) -> CategoryDetail:
        return cls(_objects(n, "celebrities", CelebritiesModel._parse), _objects(n, "landmarks", LandmarksModel._parse))


@dataclass(frozen=True, slots=True)
class Category:
    name: str | None
    score: float | None
    detail: CategoryDetail | None = None

    @classmethod
    def _parse(cls, n: Node) -> Category:
        return cls(n.opt_text("name"), n.opt_number("score"), n.opt_obj("detail", CategoryDetail._parse))


@dataclass(frozen=True, slots=True)
class AdultInfo:
    is_adult_content: bool | None
    is_racy_content: bool | None
    is_gory_content: bool | None
    adult_score: float | None
    racy_score: float | None
    gore_score: float | None

    @classmethod
    def _parse(cls, n: Node) -> AdultInfo:
        return cls(
            _flag(n, "isAdultContent"),
            _flag(n, "isRacyContent"),
            _flag(n, "isGoryContent"),
            n.opt_number("adultScore"),
            n.opt_number("racyScore"),
            n.opt_number("goreScore"),
        )


@dataclass(frozen=True, slots=True)
class ColorInfo:
    dominant_color_foreground: str | None
    dominant_color_background: str | None
    dominant_colors: tuple[str, ...]
    accent_color: str | None
    is_bw_img: bool | None

    @classmethod
    def _parse(cls, n: Node) -> ColorInfo:
        return cls(
            n.opt_text("dominantColorForeground"),
            n.opt_text("dominantColorBackground"),
            n.texts("dominantColors"),
            n.opt_text("accentColor"),
            _flag(n, "isBWImg"),
        )


@dataclass(frozen=True, slots=True)
class ImageType:
    """``clip_art_type``: 0 non-clip-art, 1 ambiguous, 2 normal, 3 good clip art.
    ``line_drawing_type``: 0 not a line drawing, 1 line drawing."""

    clip_art_type: int | None
    line_drawing_type: int | None

    @classmethod
    def _parse(cls, n: Node) -> ImageType:
        return cls(n.opt_integer("clipArtType"), n.opt_integer("lineDrawingType"))


@dataclass(frozen=True, slots=True)
class ImageTag:
    name: str | None
    confidence: float | None
    hint: str | None = None

    @classmethod
    def _parse(cls, n: Node) -> ImageTag:
        return cls(n.opt_text("name"), n.opt_number("confidence"), n.opt_text("hint"))

    @staticmethod
    def _fast(data: dict[str, Any]) -> ImageTag | None:
        """The usual tag, checked at once (None: read it field by field)."""
        name, confidence, hint = data.get("name"), data.get("confidence"), data.get("hint")
        if type(name) is str and type(confidence) is float and (hint is None or type(hint) is str):
            return _make_tag(name, confidence, hint)
        return None


_make_tag = maker(ImageTag)


@dataclass(frozen=True, slots=True)
class ImageCaption:
    text: str | None
    confidence: float | None

    @classmethod
    def _parse(cls, n: Node) -> ImageCaption:
        return cls(n.opt_text("text"), n.opt_number("confidence"))


@dataclass(frozen=True, slots=True)
class ImageDescriptionDetails:
    tags: tuple[str, ...] = ()
    captions: tuple[ImageCaption, ...] = ()

    @classmethod
    def _parse(cls, n: Node) -> ImageDescriptionDetails:
        return cls(n.texts("tags"), _objects(n, "captions", ImageCaption._parse))


@dataclass(frozen=True, slots=True)
class FaceDescription:
    age: int | None
    gender: str | None
    face_rectangle: FaceRectangle | None = None

    @classmethod
    def _parse(cls, n: Node) -> FaceDescription:
        return cls(n.opt_integer("age"), n.opt_text("gender"), n.opt_obj("faceRectangle", FaceRectangle._parse))


@dataclass(frozen=True, slots=True)
class ObjectHierarchy:
    """A more generic form of a detected object (``object_`` is the spec's ``object``)."""

    object_: str | None
    confidence: float | None
    parent: ObjectHierarchy | None = None

    @classmethod
    def _parse(cls, n: Node) -> ObjectHierarchy:
        return cls(n.opt_text("object"), n.opt_number("confidence"), n.opt_obj("parent", ObjectHierarchy._parse))


@dataclass(frozen=True, slots=True)
class DetectedObject:
    """An object found in the image (``object_`` is the spec's ``object``)."""

    rectangle: BoundingRect | None
    object_: str | None
    confidence: float | None
    parent: ObjectHierarchy | None = None

    @classmethod
    def _parse(cls, n: Node) -> DetectedObject:
        return cls(
            n.opt_obj("rectangle", BoundingRect._parse),
            n.opt_text("object"),
            n.opt_number("confidence"),
            n.opt_obj("parent", ObjectHierarchy._parse),
        )


@dataclass(frozen=True, slots=True)
class DetectedBrand:
    name: str | None
    confidence: float | None
    rectangle: BoundingRect | None = None

    @classmethod
    def _parse(cls, n: Node) -> DetectedBrand:
        return cls(n.opt_text("name"), n.opt_number("confidence"), n.opt_obj("rectangle", BoundingRect._parse))


def _common(n: Node, request_id: str | None) -> dict[str, Any]:
    """The fields every top-level result carries."""
    return {
        "request_id": n.opt_text("requestId") or request_id,
        "model_version": n.opt_text("modelVersion"),
        "metadata": n.opt_obj("metadata", ImageMetadata._parse, ImageMetadata._fast),
        "raw": n.raw(),
    }


@dataclass(frozen=True, slots=True)
class ImageAnalysis:
    """The result of :meth:`VisionClient.analyze`."""

    categories: tuple[Category, ...] = ()
    adult: AdultInfo | None = None
    color: ColorInfo | None = None
    image_type: ImageType | None = None
    tags: tuple[ImageTag, ...] = ()
    description: ImageDescriptionDetails | None = None
    faces: tuple[FaceDescription, ...] = ()
    objects: tuple[DetectedObject, ...] = ()
    brands: tuple[DetectedBrand, ...] = ()
    request_id: str | None = None
    metadata: ImageMetadata | None = None
    model_version: str | None = None
    raw: Mapping[str, Any] = _raw()
    #: The root URL of the Azure resource that answered (set by the client).
    resource: str | None = field(default=None, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> ImageAnalysis:
        n = Node(data, "$")
        return cls(
            categories=_objects(n, "categories", Category._parse),
            adult=n.opt_obj("adult", AdultInfo._parse),
            color=n.opt_obj("color", ColorInfo._parse),
            image_type=n.opt_obj("imageType", ImageType._parse),
            tags=_objects(n, "tags", ImageTag._parse, ImageTag._fast),
            description=n.opt_obj("description", ImageDescriptionDetails._parse),
            faces=_objects(n, "faces", FaceDescription._parse),
            objects=_objects(n, "objects", DetectedObject._parse),
            brands=_objects(n, "brands", DetectedBrand._parse),
            **_common(n, request_id),
        )


@dataclass(frozen=True, slots=True)
class TagResult:
    """The result of :meth:`VisionClient.tag`."""

    tags: tuple[ImageTag, ...] = ()
    request_id: str | None = None
    metadata: ImageMetadata | None = None
    model_version: str | None = None
    raw: Mapping[str, Any] = _raw()
    #: The root URL of the Azure resource that answered (set by the client).
    resource: str | None = field(default=None, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> TagResult:
        n = Node(data, "$")
        return cls(tags=_objects(n, "tags", ImageTag._parse, ImageTag._fast), **_common(n, request_id))


@dataclass(frozen=True, slots=True)
class ImageDescription:
    """The result of :meth:`VisionClient.describe` (the spec flattens ``description`` into it)."""

    tags: tuple[str, ...] = ()
    captions: tuple[ImageCaption, ...] = ()
    request_id: str | None = None
    metadata: ImageMetadata | None = None
    model_version: str | None = None
    raw: Mapping[str, Any] = _raw()
    #: The root URL of the Azure resource that answered (set by the client).
    resource: str | None = field(default=None, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> ImageDescription:
        n = Node(data, "$")
        details = n.opt_obj("description", ImageDescriptionDetails._parse) or ImageDescriptionDetails()
        return cls(tags=details.tags, captions=details.captions, **_common(n, request_id))


@dataclass(frozen=True, slots=True)
class DetectResult:
    """The result of :meth:`VisionClient.detect`."""

    objects: tuple[DetectedObject, ...] = ()
    request_id: str | None = None
    metadata: ImageMetadata | None = None
    model_version: str | None = None
    raw: Mapping[str, Any] = _raw()
    #: The root URL of the Azure resource that answered (set by the client).
    resource: str | None = field(default=None, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> DetectResult:
        n = Node(data, "$")
        return cls(objects=_objects(n, "objects", DetectedObject._parse), **_common(n, request_id))


@dataclass(frozen=True, slots=True)
class ModelDescription:
    name: str | None
    categories: tuple[str, ...] = ()

    @classmethod
    def _parse(cls, n: Node) -> ModelDescription:
        return cls(n.opt_text("name"), n.texts("categories"))


@dataclass(frozen=True, slots=True)
class ListModelsResult:
    """The result of :meth:`VisionClient.list_models`."""

    models: tuple[ModelDescription, ...] = ()
    request_id: str | None = None
    raw: Mapping[str, Any] = _raw()
    #: The root URL of the Azure resource that answered (set by the client).
    resource: str | None = field(default=None, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> ListModelsResult:
        n = Node(data, "$")
        return cls(
            models=_objects(n, "models", ModelDescription._parse),
            request_id=n.opt_text("requestId") or request_id,
            raw=n.raw(),
        )


@dataclass(frozen=True, slots=True)
class DomainModelResults:
    """The result of :meth:`VisionClient.analyze_by_domain`.

    ``result`` is the model-specific object as sent; ``celebrities`` and ``landmarks`` are it,
    parsed, for the two models the service has.
    """

    result: Mapping[str, Any] = _raw()
    celebrities: tuple[CelebritiesModel, ...] = ()
    landmarks: tuple[LandmarksModel, ...] = ()
    request_id: str | None = None
    metadata: ImageMetadata | None = None
    model_version: str | None = None
    raw: Mapping[str, Any] = _raw()
    #: The root URL of the Azure resource that answered (set by the client).
    resource: str | None = field(default=None, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> DomainModelResults:
        n = Node(data, "$")
        result = n.opt_obj("result", lambda r: r) or Node({}, "$.result")
        return cls(
            result=result.raw(),
            celebrities=_objects(result, "celebrities", CelebritiesModel._parse),
            landmarks=_objects(result, "landmarks", LandmarksModel._parse),
            **_common(n, request_id),
        )


@dataclass(frozen=True, slots=True)
class AreaOfInterestResult:
    """The result of :meth:`VisionClient.area_of_interest`."""

    area_of_interest: BoundingRect | None = None
    request_id: str | None = None
    metadata: ImageMetadata | None = None
    model_version: str | None = None
    raw: Mapping[str, Any] = _raw()
    #: The root URL of the Azure resource that answered (set by the client).
    resource: str | None = field(default=None, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> AreaOfInterestResult:
        n = Node(data, "$")
        return cls(area_of_interest=n.opt_obj("areaOfInterest", BoundingRect._parse), **_common(n, request_id))
