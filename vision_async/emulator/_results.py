"""The emulator's answers: registered scenarios first, else a deterministic pixel-derived fallback.

The fallback never claims more than the pixels show:

- tags: the palette colors covering at least 5% of the image (confidence = their share), plus
  "black and white", "clipart" and "line drawing" when the pixels say so;
- description: those tags, and one caption naming the main colors ("a red and white image"),
  with a confidence of at most 0.5;
- categories: ``others_`` (or ``abstract_shape`` for clip art);
- adult: every flag false and every score 0.0 (no evidence);
- faces, objects, brands, celebrities, landmarks: none;
- text (ocr, read): what rapidocr finds when the ``ocr`` extra is installed, else none.

Image Analysis 4.0 answers from the same scenarios and the same fallback (``_results_v4``): one
registered image answers alike on both API versions.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from typing import Any

from ._ocr import TextLine
from ._pixels import ImageFacts

__all__ = ["Scenarios", "analysis_fallback", "ocr_body", "read_page"]

#: What a scenario may set: the wire JSON of each feature or route.
SCENARIO_KEYS = frozenset(
    {
        "categories",
        "adult",
        "color",
        "imageType",
        "tags",
        "description",
        "faces",
        "objects",
        "brands",
        "celebrities",
        "landmarks",
        "areaOfInterest",
        "ocr",
        "read",
        "read_status",
        "metadata",
        # Image Analysis 4.0 only (its tags, objects and read come from the keys above):
        "caption",
        "denseCaptions",
        "people",
    }
)


class Scenarios:
    """ "Answer this image (by its bytes or its URL) with that result."""

    def __init__(self) -> None:
        self._by_key: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key_of(image: bytes | str) -> str:
        if isinstance(image, str):
            return "url:" + image
        return "sha256:" + hashlib.sha256(image).hexdigest()

    def register(self, image: bytes | str, **results: Any) -> str:
        """Register results (wire JSON, keyed as :data:`SCENARIO_KEYS`) for an image."""
        unknown = set(results) - SCENARIO_KEYS
        if unknown:
            raise ValueError(f"unknown scenario keys {sorted(unknown)}; known: {sorted(SCENARIO_KEYS)}")
        if "read_status" in results and results["read_status"] not in ("succeeded", "failed"):
            raise ValueError("read_status must be 'succeeded' or 'failed'")
        key = self.key_of(image)
        with self._lock:
            self._by_key.setdefault(key, {}).update(results)
        return key

    def clear(self) -> None:
        with self._lock:
            self._by_key.clear()

    def lookup(self, data: bytes | None, url: str | None) -> Mapping[str, Any]:
        found: dict[str, Any] = {}
        if data is not None:
            found.update(self._by_key.get(self.key_of(data), {}))
        if url is not None:
            found.update(self._by_key.get(self.key_of(url), {}))
        return found


def fallback_tags(facts: ImageFacts) -> list[dict[str, Any]]:
    tags: list[dict[str, Any]] = [
        {"name": name.lower(), "confidence": round(share, 4)} for name, share in facts.coverage if share >= 0.05
    ]
    if facts.color["isBWImg"]:
        tags.append({"name": "black and white", "confidence": 0.9})
    clip = facts.image_type["clipArtType"]
    if clip >= 2:
        tags.append({"name": "clipart", "confidence": 0.5 + 0.15 * (clip - 2)})
    if facts.image_type["lineDrawingType"]:
        tags.append({"name": "line drawing", "confidence": 0.8})
    tags.sort(key=lambda t: -t["confidence"])
    return tags


def _caption(facts: ImageFacts) -> dict[str, Any]:
    main = [name.lower() for name, share in facts.coverage if share >= 0.1][:3] or [facts.coverage[0][0].lower()]
    colors = main[0] if len(main) == 1 else ", ".join(main[:-1]) + " and " + main[-1]
    kind = (
        "line drawing"
        if facts.image_type["lineDrawingType"]
        else "clip art"
        if facts.image_type["clipArtType"] >= 2
        else "image"
    )
    article = "an" if colors[0] in "aeiou" else "a"
    share = sum(s for n, s in facts.coverage if n.lower() in main)
    return {"text": f"{article} {colors} {kind}", "confidence": round(min(0.5, 0.5 * share), 4)}


def analysis_fallback(facts: ImageFacts) -> dict[str, Any]:
    """Every analyze feature, computed or honestly empty."""
    tags = fallback_tags(facts)
    clip = facts.image_type["clipArtType"] >= 2
    return {
        "categories": [{"name": "abstract_shape", "score": 0.5} if clip else {"name": "others_", "score": 0.00390625}],
        "adult": {
            "isAdultContent": False,
            "isRacyContent": False,
            "isGoryContent": False,
            "adultScore": 0.0,
            "racyScore": 0.0,
            "goreScore": 0.0,
        },
        "color": dict(facts.color),
        "imageType": dict(facts.image_type),
        "tags": tags,
        "description": {"tags": [t["name"] for t in tags], "captions": [_caption(facts)]},
        "faces": [],
        "objects": [],
        "brands": [],
        "celebrities": [],
        "landmarks": [],
        "areaOfInterest": dict(facts.area_of_interest),
    }


def ocr_body(lines: list[TextLine], *, language: str, detect_orientation: bool, model_version: str) -> dict[str, Any]:
    """The legacy OCR body for recognized lines (one region holding them all)."""
    body: dict[str, Any] = {"language": "en" if language == "unk" and lines else language}
    if lines:
        body["textAngle"] = 0.0
        body["orientation"] = "Up" if detect_orientation else "NotDetected"
        out_lines = []
        for line in lines:
            x, y, w, h = line.box()
            words = []
            for text, box8 in line.words():
                xs, ys = box8[0::2], box8[1::2]
                box = (int(min(xs)), int(min(ys)), int(max(xs) - min(xs)), int(max(ys) - min(ys)))
                words.append({"boundingBox": ",".join(map(str, box)), "text": text})
            out_lines.append({"boundingBox": f"{x},{y},{w},{h}", "words": words})
        boxes = [line.box() for line in lines]
        rx, ry = min(b[0] for b in boxes), min(b[1] for b in boxes)
        rw = max(b[0] + b[2] for b in boxes) - rx
        rh = max(b[1] + b[3] for b in boxes) - ry
        body["regions"] = [{"boundingBox": f"{rx},{ry},{rw},{rh}", "lines": out_lines}]
    else:
        body["orientation"] = "NotDetected"
        body["regions"] = []
    body["modelVersion"] = model_version
    return body


def read_page(
    lines: list[TextLine], *, page: int, width: float, height: float, unit: str, language: str | None
) -> dict[str, Any]:
    """One Read page for recognized lines."""
    out: dict[str, Any] = {"page": page, "angle": 0, "width": width, "height": height, "unit": unit}
    if language:
        out["language"] = language
    out["lines"] = [
        {
            "boundingBox": line.flat(),
            "appearance": {"style": {"name": "other", "confidence": round(line.confidence, 3)}},
            "text": line.text,
            "words": [
                {"boundingBox": box, "text": text, "confidence": round(line.confidence, 3)}
                for text, box in line.words()
            ],
        }
        for line in lines
    ]
    return out
