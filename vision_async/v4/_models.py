"""The result of Image Analysis 4.0's analyze, as frozen, slotted dataclasses named after the spec.

Each type is parsed in one place (``_parse``/``from_json``) through :class:`Node`, so a mismatch
is a ResponseValidationError naming the JSON path (``$.objectsResult.values[2].tags``). Fields the
spec requires are required (``modelVersion`` excepted: the seed's own example has none); fields it
makes optional never reject a result; unknown fields are kept in :attr:`ImageAnalysisResult.raw`.

A feature that was not requested is ``None``; one that was requested and found nothing is an
empty tuple (or, for Read, a :class:`ReadResult` without blocks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .._core.parse import Node

__all__ = [
    "CaptionResult",
    "CropRegion",
    "DenseCaption",
    "DetectedObject",
    "DetectedPerson",
    "DetectedTag",
    "DetectedTextBlock",
    "DetectedTextLine",
    "DetectedTextWord",
    "ImageAnalysisResult",
    "ImageBoundingBox",
    "ImageMetadata",
    "ImagePoint",
    "ReadResult",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ImagePoint:
    """One pixel: ``x`` from the left, ``y`` from the top."""

    x: int
    y: int

    @classmethod
    def _parse(cls, n: Node) -> ImagePoint:
        return cls(n.integer("x"), n.integer("y"))


@dataclass(frozen=True, slots=True)
class ImageBoundingBox:
    """A rectangle in pixels (the wire's ``w`` and ``h`` are ``width`` and ``height``)."""

    x: int
    y: int
    width: int
    height: int

    @classmethod
    def _parse(cls, n: Node) -> ImageBoundingBox:
        return cls(n.integer("x"), n.integer("y"), n.integer("w"), n.integer("h"))


@dataclass(frozen=True, slots=True)
class ImageMetadata:
    """The analyzed image's size in pixels."""

    width: int
    height: int

    @classmethod
    def _parse(cls, n: Node) -> ImageMetadata:
        return cls(n.integer("width"), n.integer("height"))


@dataclass(frozen=True, slots=True)
class CaptionResult:
    """A sentence describing the whole image."""

    text: str
    confidence: float

    @classmethod
    def _parse(cls, n: Node) -> CaptionResult:
        return cls(n.text("text"), n.number("confidence"))


@dataclass(frozen=True, slots=True)
class DenseCaption:
    """A sentence describing a region (the first of a result describes the whole image)."""

    text: str
    confidence: float
    bounding_box: ImageBoundingBox

    @classmethod
    def _parse(cls, n: Node) -> DenseCaption:
        return cls(n.text("text"), n.number("confidence"), n.obj("boundingBox", ImageBoundingBox._parse))


@dataclass(frozen=True, slots=True)
class DetectedTag:
    """Something seen in the image: an object, a living being, scenery or an action."""

    name: str
    confidence: float

    @classmethod
    def _parse(cls, n: Node) -> DetectedTag:
        return cls(n.text("name"), n.number("confidence"))


@dataclass(frozen=True, slots=True)
class DetectedObject:
    """A physical object and where it is; ``tags`` holds (today) one tag naming it."""

    bounding_box: ImageBoundingBox
    tags: tuple[DetectedTag, ...]

    @classmethod
    def _parse(cls, n: Node) -> DetectedObject:
        return cls(n.obj("boundingBox", ImageBoundingBox._parse), n.objects("tags", DetectedTag._parse, required=True))


@dataclass(frozen=True, slots=True)
class DetectedPerson:
    """A person and where they are."""

    bounding_box: ImageBoundingBox
    confidence: float

    @classmethod
    def _parse(cls, n: Node) -> DetectedPerson:
        return cls(n.obj("boundingBox", ImageBoundingBox._parse), n.number("confidence"))


@dataclass(frozen=True, slots=True)
class DetectedTextWord:
    """A word (a character, in languages written without spaces), its outline and confidence."""

    text: str
    bounding_polygon: tuple[ImagePoint, ...]
    confidence: float

    @classmethod
    def _parse(cls, n: Node) -> DetectedTextWord:
        return cls(
            n.text("text"), n.objects("boundingPolygon", ImagePoint._parse, required=True), n.number("confidence")
        )


@dataclass(frozen=True, slots=True)
class DetectedTextLine:
    """A line of text, its outline (a quadrilateral today) and its words."""

    text: str
    bounding_polygon: tuple[ImagePoint, ...]
    words: tuple[DetectedTextWord, ...]

    @classmethod
    def _parse(cls, n: Node) -> DetectedTextLine:
        return cls(
            n.text("text"),
            n.objects("boundingPolygon", ImagePoint._parse, required=True),
            n.objects("words", DetectedTextWord._parse, required=True),
        )


@dataclass(frozen=True, slots=True)
class DetectedTextBlock:
    """A block of text lines (today the service puts all the text in one block)."""

    lines: tuple[DetectedTextLine, ...]

    @classmethod
    def _parse(cls, n: Node) -> DetectedTextBlock:
        return cls(n.objects("lines", DetectedTextLine._parse, required=True))


@dataclass(frozen=True, slots=True)
class ReadResult:
    """The text found by the ``read`` feature (OCR)."""

    blocks: tuple[DetectedTextBlock, ...]

    @property
    def lines(self) -> tuple[DetectedTextLine, ...]:
        """Every line of every block, in order."""
        return tuple(line for block in self.blocks for line in block.lines)

    @property
    def text(self) -> str:
        """All the text, one line per line."""
        return "\n".join(line.text for line in self.lines)

    @classmethod
    def _parse(cls, n: Node) -> ReadResult:
        return cls(n.objects("blocks", DetectedTextBlock._parse, required=True))


@dataclass(frozen=True, slots=True)
class CropRegion:
    """A region at ``aspect_ratio`` (width / height) fit to be the image's thumbnail."""

    aspect_ratio: float
    bounding_box: ImageBoundingBox

    @classmethod
    def _parse(cls, n: Node) -> CropRegion:
        return cls(n.number("aspectRatio"), n.obj("boundingBox", ImageBoundingBox._parse))


def _values(n: Node, key: str, parse: Any) -> Any:
    """The ``values`` of the ``{"values": [...]}`` wrapper at ``key``, or None when absent."""
    return n.opt_obj(key, lambda r: r.objects("values", parse, required=True))


@dataclass(frozen=True, slots=True)
class ImageAnalysisResult:
    """The result of :meth:`ImageAnalysisV4.analyze`.

    Each feature's field is ``None`` when the feature was not requested, and an empty tuple
    when it was and nothing was found. ``request_id`` comes from the response headers;
    ``raw`` is the whole body, unknown fields included.
    """

    metadata: ImageMetadata
    model_version: str | None = None
    caption: CaptionResult | None = None
    dense_captions: tuple[DenseCaption, ...] | None = None
    tags: tuple[DetectedTag, ...] | None = None
    objects: tuple[DetectedObject, ...] | None = None
    people: tuple[DetectedPerson, ...] | None = None
    read: ReadResult | None = None
    smart_crops: tuple[CropRegion, ...] | None = None
    request_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)
    #: The root URL of the Azure resource that answered (set by the client).
    resource: str | None = field(default=None, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> ImageAnalysisResult:
        n = Node(data, "$")
        return cls(
            metadata=n.obj("metadata", ImageMetadata._parse),
            model_version=n.opt_text("modelVersion"),
            caption=n.opt_obj("captionResult", CaptionResult._parse),
            dense_captions=_values(n, "denseCaptionsResult", DenseCaption._parse),
            tags=_values(n, "tagsResult", DetectedTag._parse),
            objects=_values(n, "objectsResult", DetectedObject._parse),
            people=_values(n, "peopleResult", DetectedPerson._parse),
            read=n.opt_obj("readResult", ReadResult._parse),
            smart_crops=_values(n, "smartCropsResult", CropRegion._parse),
            request_id=request_id or n.opt_text("requestId"),
            raw=n.raw(),
        )
