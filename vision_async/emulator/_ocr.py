"""Optional real text recognition for the emulator's ``ocr`` and ``read`` routes.

Uses rapidocr-onnxruntime (the ``ocr`` extra), whose ONNX models ship inside its wheel, so
nothing is downloaded at run time. Without it, the emulator finds no text (and says so in the
README): it never makes text up.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["TextLine", "TextRecognizer", "load_recognizer"]

logger = logging.getLogger("vision_async.emulator.ocr")


@dataclass(frozen=True, slots=True)
class TextLine:
    """One recognized line: its corners clockwise from top-left, its text, its confidence."""

    corners: tuple[tuple[float, float], ...]
    text: str
    confidence: float

    def box(self) -> tuple[int, int, int, int]:
        xs = [p[0] for p in self.corners]
        ys = [p[1] for p in self.corners]
        return int(min(xs)), int(min(ys)), int(max(xs) - min(xs)), int(max(ys) - min(ys))

    def flat(self) -> list[float]:
        return [round(v, 1) for point in self.corners for v in point]

    def words(self) -> list[tuple[str, list[float]]]:
        """The line's words, each with a box cut from the line's by character share."""
        parts = self.text.split()
        if not parts:
            return []
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = self.corners[:4]
        total = sum(len(p) for p in parts) + (len(parts) - 1)
        out, pos = [], 0
        for part in parts:
            a, b = pos / total, (pos + len(part)) / total
            top_l = (x0 + (x1 - x0) * a, y0 + (y1 - y0) * a)
            top_r = (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)
            bot_r = (x3 + (x2 - x3) * b, y3 + (y2 - y3) * b)
            bot_l = (x3 + (x2 - x3) * a, y3 + (y2 - y3) * a)
            out.append((part, [round(v, 1) for pt in (top_l, top_r, bot_r, bot_l) for v in pt]))
            pos += len(part) + 1
        return out


class TextRecognizer:
    """Wraps RapidOCR; one engine per process, calls serialized (onnxruntime sessions are not
    meant to be shared across threads without care)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._lock = threading.Lock()

    def recognize(self, data: bytes) -> list[TextLine]:
        with self._lock:
            result, _ = self._engine(data)
        lines = []
        for corners, text, score in result or []:
            if text and text.strip():
                lines.append(TextLine(tuple((float(x), float(y)) for x, y in corners), text.strip(), float(score)))
        return lines


_cached: TextRecognizer | None = None
_load_lock = threading.Lock()


def load_recognizer() -> TextRecognizer | None:
    """The shared recognizer, or None when rapidocr-onnxruntime is not installed."""
    global _cached
    with _load_lock:
        if _cached is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError:
                return None
            _cached = TextRecognizer(RapidOCR())
            logger.info("emulator text recognition: rapidocr-onnxruntime")
        return _cached
