"""Results of analyze, tag, describe, detect, the domain models and area of interest.

Frozen, slotted dataclasses named after the v3.2 spec's definitions, each parsed in one place
(``from_json``). Lists are tuples; a feature that was not requested is ``None`` or ``()``;
unknown fields are ignored but stay reachable in ``raw`` on every top-level result. Non-nullable
numbers of the spec are required: a body without them is a ResponseValidationError.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from .._core.parse import Node

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


@dataclass(frozen=True, slots=True)
class FaceRectangle:
    left: int
    top: int
    width: int
    height: int

    @classmethod
    def _parse(cls, n: Node) -> FaceRectangle:
        return cls(n.integer("left"), n.integer("top"), n.integer("width"), n.integer("height"))


@dataclass(frozen=True, slots=True)
class BoundingRect:
    x: int
    y: int
    w: int
    h: int

    @classmethod
    def _parse(cls, n: Node) -> BoundingRect:
        return cls(n.integer("x"), n.integer("y"), n.integer("w"), n.integer("h"))


@dataclass(frozen=True, slots=True)
class ImageMetadata:
    width: int
    height: int
    format: str | None = None

    @classmethod
    def _parse(cls, n: Node) -> ImageMetadata:
        return cls(n.integer("width"), n.integer("height"), n.opt_text("format"))


@dataclass(frozen=True, slots=True)
class CelebritiesModel:
    name: str | None
    confidence: float
    face_rectangle: FaceRectangle | None = None

    @classmethod
    def _parse(cls, n: Node) -> CelebritiesModel:
        return cls(n.opt_text("name"), n.number("confidence"), n.opt_obj("faceRectangle", FaceRectangle._parse))


@dataclass(frozen=True, slots=True)
class LandmarksModel:
    name: str | None
    confidence: float

    @classmethod
    def _parse(cls, n: Node) -> LandmarksModel:
        return cls(n.opt_text("name"), n.number("confidence"))


@dataclass(frozen=True, slots=True)
class CategoryDetail:
    celebrities: tuple[CelebritiesModel, ...] = ()
    landmarks: tuple[LandmarksModel, ...] = ()

    @classmethod
    def _parse(cls, n: Node) -> CategoryDetail:
        return cls(n.objects("celebrities", CelebritiesModel._parse), n.objects("landmarks", LandmarksModel._parse))


@dataclass(frozen=True, slots=True)
class Category:
    name: str | None
    score: float
    detail: CategoryDetail | None = None

    @classmethod
    def _parse(cls, n: Node) -> Category:
        return cls(n.opt_text("name"), n.number("score"), n.opt_obj("detail", CategoryDetail._parse))


@dataclass(frozen=True, slots=True)
class AdultInfo:
    is_adult_content: bool
    is_racy_content: bool
    is_gory_content: bool
    adult_score: float
    racy_score: float
    gore_score: float

    @classmethod
    def _parse(cls, n: Node) -> AdultInfo:
        return cls(
            n.boolean("isAdultContent"),
            n.boolean("isRacyContent"),
            n.boolean("isGoryContent"),
            n.number("adultScore"),
            n.number("racyScore"),
            n.number("goreScore"),
        )


@dataclass(frozen=True, slots=True)
class ColorInfo:
    dominant_color_foreground: str | None
    dominant_color_background: str | None
    dominant_colors: tuple[str, ...]
    accent_color: str | None
    is_bw_img: bool

    @classmethod
    def _parse(cls, n: Node) -> ColorInfo:
        return cls(
            n.opt_text("dominantColorForeground"),
            n.opt_text("dominantColorBackground"),
            n.texts("dominantColors"),
            n.opt_text("accentColor"),
            n.boolean("isBWImg"),
        )


@dataclass(frozen=True, slots=True)
class ImageType:
    """``clip_art_type``: 0 non-clip-art, 1 ambiguous, 2 normal, 3 good clip art.
    ``line_drawing_type``: 0 not a line drawing, 1 line drawing."""

    clip_art_type: int
    line_drawing_type: int

    @classmethod
    def _parse(cls, n: Node) -> ImageType:
        return cls(n.integer("clipArtType"), n.integer("lineDrawingType"))


@dataclass(frozen=True, slots=True)
class ImageTag:
    name: str | None
    confidence: float
    hint: str | None = None

    @classmethod
    def _parse(cls, n: Node) -> ImageTag:
        return cls(n.opt_text("name"), n.number("confidence"), n.opt_text("hint"))


@dataclass(frozen=True, slots=True)
class ImageCaption:
    text: str | None
    confidence: float

    @classmethod
    def _parse(cls, n: Node) -> ImageCaption:
        return cls(n.opt_text("text"), n.number("confidence"))


@dataclass(frozen=True, slots=True)
class ImageDescriptionDetails:
    tags: tuple[str, ...] = ()
    captions: tuple[ImageCaption, ...] = ()

    @classmethod
    def _parse(cls, n: Node) -> ImageDescriptionDetails:
        return cls(n.texts("tags"), n.objects("captions", ImageCaption._parse))


@dataclass(frozen=True, slots=True)
class FaceDescription:
    age: int
    gender: str | None
    face_rectangle: FaceRectangle | None = None

    @classmethod
    def _parse(cls, n: Node) -> FaceDescription:
        return cls(n.integer("age"), n.opt_text("gender"), n.opt_obj("faceRectangle", FaceRectangle._parse))


@dataclass(frozen=True, slots=True)
class ObjectHierarchy:
    """A more generic form of a detected object (``object_`` is the spec's ``object``)."""

    object_: str | None
    confidence: float
    parent: ObjectHierarchy | None = None

    @classmethod
    def _parse(cls, n: Node) -> ObjectHierarchy:
        return cls(n.opt_text("object"), n.number("confidence"), n.opt_obj("parent", ObjectHierarchy._parse))


@dataclass(frozen=True, slots=True)
class DetectedObject:
    """An object found in the image (``object_`` is the spec's ``object``)."""

    rectangle: BoundingRect | None
    object_: str | None
    confidence: float
    parent: ObjectHierarchy | None = None

    @classmethod
    def _parse(cls, n: Node) -> DetectedObject:
        return cls(
            n.opt_obj("rectangle", BoundingRect._parse),
            n.opt_text("object"),
            n.number("confidence"),
            n.opt_obj("parent", ObjectHierarchy._parse),
        )


@dataclass(frozen=True, slots=True)
class DetectedBrand:
    name: str | None
    confidence: float
    rectangle: BoundingRect | None = None

    @classmethod
    def _parse(cls, n: Node) -> DetectedBrand:
        return cls(n.opt_text("name"), n.number("confidence"), n.opt_obj("rectangle", BoundingRect._parse))


def _common(n: Node, request_id: str | None) -> dict[str, Any]:
    """The fields every top-level result carries."""
    return {
        "request_id": n.opt_text("requestId") or request_id,
        "model_version": n.opt_text("modelVersion"),
        "metadata": n.opt_obj("metadata", ImageMetadata._parse),
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

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> ImageAnalysis:
        n = Node(data, "$")
        return cls(
            categories=n.objects("categories", Category._parse),
            adult=n.opt_obj("adult", AdultInfo._parse),
            color=n.opt_obj("color", ColorInfo._parse),
            image_type=n.opt_obj("imageType", ImageType._parse),
            tags=n.objects("tags", ImageTag._parse),
            description=n.opt_obj("description", ImageDescriptionDetails._parse),
            faces=n.objects("faces", FaceDescription._parse),
            objects=n.objects("objects", DetectedObject._parse),
            brands=n.objects("brands", DetectedBrand._parse),
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

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> TagResult:
        n = Node(data, "$")
        return cls(tags=n.objects("tags", ImageTag._parse), **_common(n, request_id))


@dataclass(frozen=True, slots=True)
class ImageDescription:
    """The result of :meth:`VisionClient.describe` (the spec flattens ``description`` into it)."""

    tags: tuple[str, ...] = ()
    captions: tuple[ImageCaption, ...] = ()
    request_id: str | None = None
    metadata: ImageMetadata | None = None
    model_version: str | None = None
    raw: Mapping[str, Any] = _raw()

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

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> DetectResult:
        n = Node(data, "$")
        return cls(objects=n.objects("objects", DetectedObject._parse), **_common(n, request_id))


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

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> ListModelsResult:
        n = Node(data, "$")
        return cls(
            models=n.objects("models", ModelDescription._parse),
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

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> DomainModelResults:
        n = Node(data, "$")
        result = n.opt_obj("result", lambda r: r) or Node({}, "$.result")
        return cls(
            result=result.raw(),
            celebrities=result.objects("celebrities", CelebritiesModel._parse),
            landmarks=result.objects("landmarks", LandmarksModel._parse),
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

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> AreaOfInterestResult:
        n = Node(data, "$")
        return cls(area_of_interest=n.opt_obj("areaOfInterest", BoundingRect._parse), **_common(n, request_id))
