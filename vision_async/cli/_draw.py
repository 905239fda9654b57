"""``--draw OUT.png``: what a result found, drawn onto a copy of the image (Pillow, the CLI's extra).

Labelled outlines per kind, each in its own color: objects, people, faces, brands, dense captions,
text lines (polygons), smart crops and the area of interest. Works for the 4.0 result and for the
3.2 results that carry rectangles (analyze, detect, area, ocr, read).
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import InvalidInputError
from .._v32.models import AreaOfInterestResult, BoundingRect, DetectResult, FaceRectangle, ImageAnalysis
from .._v32.ocr_models import OcrResult, ReadOperationResult
from ..v4 import ImageAnalysisResult, ImageBoundingBox

__all__ = [
    "COLORS",
    "DRAWABLE_COMMANDS",
    "Shape",
    "add_draw_option",
    "draw",
    "draw_to_file",
    "output_path",
    "shapes_of",
]

Point = tuple[float, float]

#: Outline color per kind of shape.
COLORS = {
    "object": (230, 25, 75),
    "person": (60, 180, 75),
    "face": (245, 130, 48),
    "brand": (145, 30, 180),
    "caption": (0, 130, 200),
    "text": (240, 50, 230),
    "crop": (128, 128, 0),
    "area": (0, 128, 128),
}


#: The commands whose results carry rectangles, and so take ``--draw``.
DRAWABLE_COMMANDS = ("analyze", "detect", "area", "ocr", "read", "analyze4")


def add_draw_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--draw",
        type=Path,
        metavar="OUT.png",
        help="draw what was found onto a copy of the image (several images: OUT-1.png, OUT-2.png, ...)",
    )


@dataclass(frozen=True, slots=True)
class Shape:
    """One outline to draw: its kind (a :data:`COLORS` key), its label and its corners."""

    kind: str
    label: str
    points: tuple[Point, ...]


def _rect(x: float, y: float, w: float, h: float) -> tuple[Point, ...]:
    return ((x, y), (x + w, y), (x + w, y + h), (x, y + h))


def _v4_box(box: ImageBoundingBox) -> tuple[Point, ...]:
    return _rect(box.x, box.y, box.width, box.height)


def _v32_box(box: BoundingRect | FaceRectangle | None) -> tuple[Point, ...] | None:
    """A 3.2 rectangle's corners, or None when the service left any of its numbers out."""
    if box is None:
        return None
    values = (
        (box.left, box.top, box.width, box.height) if isinstance(box, FaceRectangle) else (box.x, box.y, box.w, box.h)
    )
    if any(v is None for v in values):
        return None
    x, y, w, h = (float(v) for v in values if v is not None)
    return _rect(x, y, w, h)


def _label(name: str | None, confidence: float | None, default: str) -> str:
    return (name or default) + (f" {confidence:.2f}" if confidence is not None else "")


def _flat(values: Sequence[float]) -> tuple[Point, ...]:
    return tuple((values[i], values[i + 1]) for i in range(0, len(values) - 1, 2))


def _v4_shapes(r: ImageAnalysisResult) -> list[Shape]:
    shapes = [Shape("crop", f"crop {c.aspect_ratio:g}", _v4_box(c.bounding_box)) for c in r.smart_crops or ()]
    shapes += [Shape("caption", d.text, _v4_box(d.bounding_box)) for d in r.dense_captions or ()]
    for obj in r.objects or ():
        name = obj.tags[0].name if obj.tags else "object"
        confidence = f" {obj.tags[0].confidence:.2f}" if obj.tags else ""
        shapes.append(Shape("object", name + confidence, _v4_box(obj.bounding_box)))
    shapes += [Shape("person", f"person {p.confidence:.2f}", _v4_box(p.bounding_box)) for p in r.people or ()]
    if r.read is not None:
        shapes += [Shape("text", line.text, tuple((p.x, p.y) for p in line.bounding_polygon)) for line in r.read.lines]
    return shapes


def _v32_shapes(r: Any) -> list[Shape]:
    found: list[tuple[str, str, tuple[Point, ...] | None]] = []
    if isinstance(r, AreaOfInterestResult):
        found.append(("area", "area of interest", _v32_box(r.area_of_interest)))
    if isinstance(r, ImageAnalysis | DetectResult):
        found += [("object", _label(o.object_, o.confidence, "object"), _v32_box(o.rectangle)) for o in r.objects]
    if isinstance(r, ImageAnalysis):
        for face in r.faces:
            label = " ".join(str(v) for v in (face.gender, face.age) if v is not None) or "face"
            found.append(("face", label, _v32_box(face.face_rectangle)))
        found += [("brand", _label(b.name, b.confidence, "brand"), _v32_box(b.rectangle)) for b in r.brands]
    if isinstance(r, OcrResult):
        for region in r.regions:
            for line in region.lines:
                box = line.bounding_box
                found.append(("text", line.text, _rect(*box) if box is not None else None))
    if isinstance(r, ReadOperationResult) and r.analyze_result is not None:
        pages = r.analyze_result.read_results
        if pages and pages[0].unit == "pixel":
            found += [("text", line.text, _flat(line.bounding_box)) for line in pages[0].lines]
    return [Shape(kind, label, points) for kind, label, points in found if points is not None]


def shapes_of(result: object) -> list[Shape]:
    """The outlines a result carries (none for results without rectangles)."""
    if isinstance(result, ImageAnalysisResult):
        return _v4_shapes(result)
    return _v32_shapes(result)


def output_path(out: Path, index: int, count: int) -> Path:
    """``OUT.png`` for one image; ``OUT-1.png``, ``OUT-2.png``, ... for several."""
    return out if count == 1 else out.with_name(f"{out.stem}-{index + 1}{out.suffix}")


def draw(image: bytes, shapes: Sequence[Shape], out: Path) -> int:
    """Draw ``shapes`` onto a copy of ``image`` and save it to ``out`` (format from its suffix).

    Returns how many shapes were drawn. Raises InvalidInputError when Pillow is missing or the
    image cannot be decoded (a PDF, say).
    """
    try:
        from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow comes with the cli extra
        raise InvalidInputError("--draw needs Pillow: pip install 'vision-async[cli]'") from None
    try:
        with Image.open(io.BytesIO(image)) as opened:
            canvas = (ImageOps.exif_transpose(opened) or opened).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InvalidInputError(f"--draw cannot decode the image: {exc}") from None
    pen = ImageDraw.Draw(canvas)
    width = max(2, round(max(canvas.size) / 300))
    try:
        font: Any = ImageFont.load_default(size=max(11, round(max(canvas.size) / 45)))
    except TypeError:  # pragma: no cover - Pillow < 10.1 has one bitmap size
        font = ImageFont.load_default()
    placed: list[tuple[float, float, float, float]] = []
    for shape in shapes:
        color = COLORS.get(shape.kind, (255, 255, 0))
        points = [(float(x), float(y)) for x, y in shape.points]
        if len(points) < 2:
            continue
        pen.line([*points, points[0]], fill=color, width=width, joint="curve")
        if shape.label:
            box = _label_box(pen, font, shape.label, points, placed, canvas.size)
            placed.append(box)
            pen.rectangle(box, fill=color)
            pen.text((box[0] + 2, box[1] + 2), shape.label, fill=(255, 255, 255), font=font)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        canvas.save(out)
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidInputError(f"--draw cannot write {str(out)!r}: {exc}") from None
    return len(shapes)


def _label_box(
    pen: Any,
    font: Any,
    label: str,
    points: list[Point],
    placed: list[tuple[float, float, float, float]],
    size: tuple[int, int],
) -> tuple[float, float, float, float]:
    """Where a label goes: above its outline's top-left corner, else just inside it, moved down
    past the labels already placed so that none hides another."""
    left, top, right, bottom = pen.textbbox((0, 0), label, font=font)
    w, h = right - left + 4, bottom - top + 4
    x = min(max(0.0, min(p[0] for p in points)), max(0.0, size[0] - w))
    y_top = min(p[1] for p in points)
    y = y_top - h if y_top - h >= 0 else max(0.0, y_top)
    for _ in range(len(placed) + 1):
        box = (x, y, x + w, y + h)
        clash = [b for b in placed if b[0] < box[2] and box[0] < b[2] and b[1] < box[3] and box[1] < b[3]]
        if not clash:
            break
        y = max(b[3] for b in clash)
    return (x, y, x + w, y + h)


async def draw_to_file(image: str, result: object, out: Path) -> None:
    """Draw ``result`` onto a copy of ``image`` (a file, or an http(s) URL fetched once more) at ``out``."""
    import sys

    import anyio
    import httpx

    if image.startswith(("http://", "https://")):
        try:
            async with httpx.AsyncClient(timeout=30.0, follow_redirects=True) as http:
                response = await http.get(image)
                response.raise_for_status()
        except httpx.HTTPError as exc:
            raise InvalidInputError(f"--draw cannot download {image}: {exc}") from None
        data = response.content
    else:
        try:
            data = await anyio.Path(image).read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"--draw cannot read {image!r}: {exc.strerror or exc}") from None
    shapes = shapes_of(result)
    count = await anyio.to_thread.run_sync(draw, data, shapes, out)
    print(f"vision-async: drew {count} shape{'' if count == 1 else 's'} on {image} to {out}", file=sys.stderr)
