"""Real text recognition in the emulator (the ``ocr`` extra, installed with ``dev``)."""

from __future__ import annotations

import pytest

from tests.helpers import SAMPLES
from vision_async import VisionClient
from vision_async.emulator import Emulator, EmulatorTransport
from vision_async.testing import FakeClock

pytestmark = pytest.mark.anyio

SIGN = (SAMPLES / "sign.png").read_bytes()


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # recognition is slow enough (about a second) that one backend is plenty


@pytest.fixture(scope="module")
def emulator() -> Emulator:
    em = Emulator(ocr="auto", read_delays=(0.0, 0.0))
    assert em.recognizer() is not None, "rapidocr-onnxruntime is a dev dependency"
    return em


async def test_ocr_reads_the_sample_sign(emulator: Emulator) -> None:
    """ocr returns the sign's words, with x,y,w,h boxes inside the image."""
    async with VisionClient("https://e.test", "k", transport=EmulatorTransport(emulator)) as client:
        result = await client.ocr(SIGN)
    words = [w.text for region in result.regions for line in region.lines for w in line.words]
    assert "images" in words and "42" in words
    assert result.orientation == "Up" and result.text_angle == 0.0
    for region in result.regions:
        x, y, w, h = region.bounding_box
        assert x >= 0 and y >= 0 and x + w <= 480 and y + h <= 200


async def test_read_reads_the_sample_sign(emulator: Emulator) -> None:
    """read returns the sign's lines, with 8-number boxes and per-word confidences."""
    clock = FakeClock()
    async with VisionClient("https://e.test", "k", transport=EmulatorTransport(emulator), sleep=clock.sleep) as client:
        result = await client.read(SIGN)
    assert "42 images" in result.text
    assert "VISION" in result.text.upper()
    line = next(line for line in result.lines if "42" in line.text)
    assert len(line.bounding_box) == 8
    assert all(0.0 < w.confidence <= 1.0 for w in line.words)
