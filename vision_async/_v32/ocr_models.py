"""Results of the legacy OCR operation and of Read (Ocr.json), parsed in one place each.

Required-ness follows the spec definition by definition. The legacy OCR result
(ComputerVision.json: ``OcrResult``, ``OcrRegion``, ``OcrLine``, ``OcrWord``) requires nothing:
an absent field is ``None`` or ``()``. Read (Ocr.json) requires what its ``required`` lists
name: ``analyzeResults`` (version, modelVersion, readResults), ``ReadResult`` (page, angle,
width, height, unit, lines), ``Line`` (boundingBox, text, words), ``Word`` (boundingBox, text,
confidence), ``Appearance`` (style) and ``Style`` (name, confidence); a body without one is a
ResponseValidationError naming its JSON path. ``ReadOperationResult`` requires nothing, its
``status`` included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .._core.parse import Node
from .._errors import ResponseValidationError
from .models import _raw

__all__ = [
    "AnalyzeResults",
    "Appearance",
    "Line",
    "OcrLine",
    "OcrRegion",
    "OcrResult",
    "OcrWord",
    "OperationStatus",
    "ReadOperationResult",
    "ReadResult",
    "Style",
    "Word",
]


def _box4(n: Node) -> tuple[int, int, int, int] | None:
    """The legacy OCR's ``"x,y,w,h"`` bounding box string as four ints (``None`` when absent)."""
    text = n.opt_text("boundingBox")
    if text is None:
        return None
    parts = text.split(",")
    try:
        if len(parts) != 4:
            raise ValueError
        x, y, w, h = (int(p.strip()) for p in parts)
    except ValueError:
        raise ResponseValidationError(
            f"response field {n.path}.boundingBox should be 'x,y,w,h' integers, got {text[:40]!r}"
        ) from None
    return x, y, w, h


@dataclass(frozen=True, slots=True)
class OcrWord:
    bounding_box: tuple[int, int, int, int] | None
    text: str | None

    @classmethod
    def _parse(cls, n: Node) -> OcrWord:
        return cls(_box4(n), n.opt_text("text"))


@dataclass(frozen=True, slots=True)
class OcrLine:
    bounding_box: tuple[int, int, int, int] | None
    words: tuple[OcrWord, ...] = ()

    @property
    def text(self) -> str:
        """The line's words joined by spaces."""
        return " ".join(w.text for w in self.words if w.text)

    @classmethod
    def _parse(cls, n: Node) -> OcrLine:
        return cls(_box4(n), n.objects("words", OcrWord._parse))


@dataclass(frozen=True, slots=True)
class OcrRegion:
    bounding_box: tuple[int, int, int, int] | None
    lines: tuple[OcrLine, ...] = ()

    @classmethod
    def _parse(cls, n: Node) -> OcrRegion:
        return cls(_box4(n), n.objects("lines", OcrLine._parse))


@dataclass(frozen=True, slots=True)
class OcrResult:
    """The result of :meth:`VisionClient.ocr`. ``text_angle`` is in radians, ``None`` when the
    service could not tell; ``orientation`` is Up/Down/Left/Right or NotDetected."""

    language: str | None = None
    text_angle: float | None = None
    orientation: str | None = None
    regions: tuple[OcrRegion, ...] = ()
    model_version: str | None = None
    request_id: str | None = None
    raw: Mapping[str, Any] = _raw()
    #: The root URL of the Azure resource that answered (set by the client).
    resource: str | None = field(default=None, compare=False)

    @property
    def text(self) -> str:
        """All recognized lines, one per line, regions separated by a blank line."""
        return "\n\n".join("\n".join(line.text for line in r.lines) for r in self.regions)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> OcrResult:
        n = Node(data, "$")
        return cls(
            language=n.opt_text("language"),
            text_angle=n.opt_number("textAngle"),
            orientation=n.opt_text("orientation"),
            regions=n.objects("regions", OcrRegion._parse),
            model_version=n.opt_text("modelVersion"),
            request_id=n.opt_text("requestId") or request_id,
            raw=n.raw(),
        )


class OperationStatus(StrEnum):
    """Where a Read operation is."""

    NOT_STARTED = "notStarted"
    RUNNING = "running"
    FAILED = "failed"
    SUCCEEDED = "succeeded"


@dataclass(frozen=True, slots=True)
class Style:
    """``name`` is "handwriting" or "other"."""

    name: str
    confidence: float

    @classmethod
    def _parse(cls, n: Node) -> Style:
        return cls(n.text("name"), n.number("confidence"))


@dataclass(frozen=True, slots=True)
class Appearance:
    style: Style

    @classmethod
    def _parse(cls, n: Node) -> Appearance:
        return cls(n.obj("style", Style._parse))


def _box8(n: Node) -> tuple[float, ...]:
    """A required ``BoundingBox``: an array of numbers. The spec's description says eight (four
    corners); its schema fixes no length, so the numbers are kept as sent."""
    return n.numbers("boundingBox")


@dataclass(frozen=True, slots=True)
class Word:
    """A word; ``bounding_box`` is normally 8 numbers: the corners clockwise from top-left (x, y)."""

    bounding_box: tuple[float, ...]
    text: str
    confidence: float

    @classmethod
    def _parse(cls, n: Node) -> Word:
        return cls(_box8(n), n.text("text"), n.number("confidence"))


@dataclass(frozen=True, slots=True)
class Line:
    """A line of text; ``language`` only when it differs from the page's."""

    bounding_box: tuple[float, ...]
    text: str
    words: tuple[Word, ...]
    language: str | None = None
    appearance: Appearance | None = None

    @classmethod
    def _parse(cls, n: Node) -> Line:
        return cls(
            _box8(n),
            n.text("text"),
            n.objects("words", Word._parse, required=True),
            n.opt_text("language"),
            n.opt_obj("appearance", Appearance._parse),
        )


@dataclass(frozen=True, slots=True)
class ReadResult:
    """One page. ``unit`` is "pixel" for images, "inch" for PDF; ``angle`` in degrees."""

    page: int
    angle: float
    width: float
    height: float
    unit: str
    lines: tuple[Line, ...]
    language: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @classmethod
    def _parse(cls, n: Node) -> ReadResult:
        return cls(
            n.integer("page"),
            n.number("angle"),
            n.number("width"),
            n.number("height"),
            n.text("unit"),
            n.objects("lines", Line._parse, required=True),
            n.opt_text("language"),
        )


@dataclass(frozen=True, slots=True)
class AnalyzeResults:
    """The text Read extracted (the spec's ``analyzeResults``)."""

    version: str
    model_version: str
    read_results: tuple[ReadResult, ...]

    @classmethod
    def _parse(cls, n: Node) -> AnalyzeResults:
        return cls(
            n.text("version"), n.text("modelVersion"), n.objects("readResults", ReadResult._parse, required=True)
        )


@dataclass(frozen=True, slots=True)
class ReadOperationResult:
    """A Read operation's state, and its result once ``status`` is succeeded.

    ``status`` is ``None`` when the body does not say (the spec makes it optional); such a
    result is not :attr:`done`.
    """

    status: OperationStatus | None
    created_date_time: str | None = None
    last_updated_date_time: str | None = None
    analyze_result: AnalyzeResults | None = None
    request_id: str | None = None
    raw: Mapping[str, Any] = _raw()
    #: The root URL of the Azure resource that answered (set by the client).
    resource: str | None = field(default=None, compare=False)

    @property
    def done(self) -> bool:
        return self.status in (OperationStatus.SUCCEEDED, OperationStatus.FAILED)

    @property
    def lines(self) -> tuple[Line, ...]:
        """Every line of every page, in order."""
        if self.analyze_result is None:
            return ()
        return tuple(line for page in self.analyze_result.read_results for line in page.lines)

    @property
    def text(self) -> str:
        """The whole text: lines joined by newlines, pages by a blank line."""
        if self.analyze_result is None:
            return ""
        return "\n\n".join(page.text for page in self.analyze_result.read_results)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> ReadOperationResult:
        n = Node(data, "$")
        status_text = n.opt_text("status")
        try:
            status = OperationStatus(status_text) if status_text is not None else None
        except ValueError:
            raise ResponseValidationError(
                f"response field $.status should be one of {[s.value for s in OperationStatus]}, "
                f"got {str(status_text)[:40]!r}"
            ) from None
        return cls(
            status=status,
            created_date_time=n.opt_text("createdDateTime"),
            last_updated_date_time=n.opt_text("lastUpdatedDateTime"),
            analyze_result=n.opt_obj("analyzeResult", AnalyzeResults._parse),
            request_id=n.opt_text("requestId") or request_id,
            raw=n.raw(),
        )
