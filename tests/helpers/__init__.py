"""What the tests share besides fixtures: paths, the test key, sample images, counting helpers.

Import from here (``from tests.helpers import KEY, png_bytes``), never from ``conftest``.
"""

from __future__ import annotations

import bisect
import io
import json
from pathlib import Path
from typing import Any

__all__ = [
    "ENDPOINT",
    "FIXTURES",
    "FIXTURES_ROOT",
    "KEY",
    "ROOT",
    "SAMPLES",
    "fixture_body",
    "max_in_window",
    "png_bytes",
]

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
FIXTURES_ROOT = ROOT / "tests" / "fixtures"
FIXTURES = FIXTURES_ROOT / "v3.2"
ENDPOINT = "https://unit.cognitiveservices.azure.com"
KEY = "k3y-that-must-never-leak-0123456789"


def fixture_body(name: str) -> Any:
    """The wire JSON of a v3.2 fixture."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def png_bytes(
    width: int = 64, height: int = 64, color: tuple[int, int, int] = (200, 30, 30), fmt: str = "PNG"
) -> bytes:
    """A one-colour image of the given size and format."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format=fmt)
    return buf.getvalue()


def max_in_window(times: list[float], width: float = 1.0) -> int:
    """The most events in any half-open window ``[t, t + width)`` that starts at an event.

    Half-open as a rate limit counts: an event exactly ``width`` after another is in the next window.
    """
    ordered = sorted(times)
    if not ordered:
        return 0
    return max(bisect.bisect_left(ordered, t + width) - i for i, t in enumerate(ordered))
