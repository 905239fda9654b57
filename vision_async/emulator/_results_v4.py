"""The 4.0 answer, from the same scenarios and the same honest fallback as 3.2.

Per feature (a registered scenario first, else the fallback):

- ``metadata``: the decoded image's width and height (a scenario's ``metadata`` overrides them);
- ``tagsResult``: the scenario's 3.2 ``tags``, else the 3.2 fallback's palette tags;
- ``captionResult``: the scenario's ``caption``, else the first 3.2 caption (scenario
  ``description`` or the fallback's color caption, confidence at most 0.5);
- ``denseCaptionsResult``: the scenario's ``denseCaptions``, else that caption for the whole image;
- ``objectsResult``: the scenario's 3.2 ``objects`` (rectangle -> boundingBox, object -> tags),
  else none; ``peopleResult``: the scenario's ``people``, else none;
- ``readResult``: the scenario's 3.2 ``read`` pages, else the text rapidocr finds (the ``ocr``
  extra), one block of lines with word polygons; no text is ``{"blocks": []}``;
- ``smartCropsResult``: one crop per requested ratio, the largest box at that ratio slid to hold
  the most saliency (the 3.2 smart thumbnail's cut); without ratios, one at the image's own ratio
  clamped to 0.5..2.0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..v4._options import Feature
from ._ocr import TextLine
from ._pixels import ImageFacts, crop_box

__all__ = ["AUTO_RATIO_RANGE", "analysis_v4"]

#: Without requested ratios the service picks one between 0.5 and 2.0.
AUTO_RATIO_RANGE = (0.5, 2.0)


def _box(x: float, y: float, w: float, h: float) -> dict[str, int]:
    return {"x": max(0, int(x)), "y": max(0, int(y)), "w": max(0, int(w)), "h": max(0, int(h))}


def _points(flat: Sequence[float]) -> list[dict[str, int]]:
    """``[x1, y1, ..., x4, y4]`` as the spec's ImagePoints (clamped at 0: pixels)."""
    return [{"x": max(0, round(flat[i])), "y": max(0, round(flat[i + 1]))} for i in range(0, len(flat) - 1, 2)]


def _line(text: str, polygon: Sequence[float], words: list[dict[str, Any]]) -> dict[str, Any]:
    return {"text": text, "boundingPolygon": _points(polygon), "words": words}


def read_lines(lines: list[TextLine]) -> list[dict[str, Any]]:
    """Recognized lines as 4.0 lines (word boxes cut from the line's, as the 3.2 Read route does)."""
    out = []
    for line in lines:
        words = [
            {"text": text, "boundingPolygon": _points(box), "confidence": round(line.confidence, 3)}
            for text, box in line.words()
        ]
        if words:
            out.append(_line(line.text, line.flat(), words))
    return out


def read_lines_from_pages(pages: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A 3.2 Read scenario's pages as 4.0 lines."""
    out = []
    for page in pages:
        for line in page.get("lines", []):
            words = [
                {
                    "text": word["text"],
                    "boundingPolygon": _points(word["boundingBox"]),
                    "confidence": word.get("confidence", 1.0),
                }
                for word in line.get("words", [])
            ]
            out.append(_line(line["text"], line["boundingBox"], words))
    return out


def _object(obj: Mapping[str, Any]) -> dict[str, Any]:
    r = obj.get("rectangle") or {"x": 0, "y": 0, "w": 0, "h": 0}
    return {
        "boundingBox": _box(r["x"], r["y"], r["w"], r["h"]),
        "tags": [{"name": obj.get("object") or "object", "confidence": obj.get("confidence", 0.0)}],
    }


def smart_crops(facts: ImageFacts, ratios: list[float] | None) -> list[dict[str, Any]]:
    if not ratios:
        low, high = AUTO_RATIO_RANGE
        ratios = [round(min(high, max(low, facts.width / facts.height)), 2)]
    out = []
    for ratio in ratios:
        left, top, right, bottom = crop_box(facts.width, facts.height, ratio, facts)
        out.append({"aspectRatio": ratio, "boundingBox": _box(left, top, right - left, bottom - top)})
    return out


def analysis_v4(
    wanted: list[Feature],
    *,
    facts: ImageFacts,
    computed: Mapping[str, Any],
    scenario: Mapping[str, Any],
    text: list[TextLine],
    ratios: list[float] | None,
    model_version: str,
) -> dict[str, Any]:
    """The 4.0 body. ``computed`` is the 3.2 analysis (fallback overlaid with the scenario)."""
    meta = scenario.get("metadata") or {}
    width, height = int(meta.get("width", facts.width)), int(meta.get("height", facts.height))
    body: dict[str, Any] = {"modelVersion": model_version}
    captions = computed["description"].get("captions") or [{"text": "an image", "confidence": 0.0}]
    caption = dict(scenario.get("caption") or captions[0])
    if Feature.CAPTION in wanted:
        body["captionResult"] = {"text": caption["text"], "confidence": caption["confidence"]}
    if Feature.DENSE_CAPTIONS in wanted:
        dense = scenario.get("denseCaptions") or [{**caption, "boundingBox": _box(0, 0, width, height)}]
        body["denseCaptionsResult"] = {"values": list(dense)}
    body["metadata"] = {"width": width, "height": height}
    if Feature.TAGS in wanted:
        body["tagsResult"] = {"values": [{"name": t["name"], "confidence": t["confidence"]} for t in computed["tags"]]}
    if Feature.OBJECTS in wanted:
        body["objectsResult"] = {"values": [_object(o) for o in computed["objects"]]}
    if Feature.READ in wanted:
        lines = read_lines_from_pages(scenario["read"]) if "read" in scenario else read_lines(text)
        body["readResult"] = {"blocks": [{"lines": lines}] if lines else []}
    if Feature.SMART_CROPS in wanted:
        body["smartCropsResult"] = {"values": smart_crops(facts, ratios)}
    if Feature.PEOPLE in wanted:
        body["peopleResult"] = {"values": list(scenario.get("people") or [])}
    return body
