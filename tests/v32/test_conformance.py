"""Conformance: Microsoft's own v3.2 SDK drives the emulator through every operation, URL and
stream, and deserializes every answer without error or warning."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from azure.cognitiveservices.vision.computervision import ComputerVisionClient
from azure.cognitiveservices.vision.computervision.models import (
    ComputerVisionErrorResponseException,
    OperationStatusCodes,
    VisualFeatureTypes,
)
from msrest.authentication import CognitiveServicesCredentials

from tests.helpers import SAMPLES
from vision_async.emulator import Emulator, EmulatorServer

KEY = "conformance-key"
IMAGE_URL = "https://images.example/shapes.png"
FACE = {"left": 10, "top": 20, "width": 30, "height": 30}


@pytest.fixture(scope="module")
def sdk(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[ComputerVisionClient]:
    image = (SAMPLES / "shapes.png").read_bytes()
    emulator = Emulator(key=KEY, read_delays=(0.0, 0.0), ocr="off")
    rich = {
        "faces": [{"age": 30, "gender": "Female", "faceRectangle": FACE}],
        "objects": [
            {
                "rectangle": {"x": 1, "y": 2, "w": 3, "h": 4},
                "object": "cup",
                "confidence": 0.8,
                "parent": {"object": "tableware", "confidence": 0.9},
            }
        ],
        "brands": [{"name": "Contoso", "confidence": 0.7, "rectangle": {"x": 5, "y": 6, "w": 7, "h": 8}}],
        "celebrities": [{"name": "Ada", "confidence": 0.9, "faceRectangle": FACE}],
        "landmarks": [{"name": "Tower", "confidence": 0.6}],
    }
    emulator.register(image, **rich)
    emulator.register(IMAGE_URL, data=image, **rich)
    monkeypatch_module.setenv("NO_PROXY", "127.0.0.1,localhost")
    with EmulatorServer(emulator) as server:
        yield ComputerVisionClient(server.url, CognitiveServicesCredentials(KEY))


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture
def stream() -> io.BytesIO:
    return io.BytesIO((SAMPLES / "shapes.png").read_bytes())


@pytest.fixture(autouse=True)
def no_deserialization_warnings(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """msrest logs (rather than raises) some deserialization problems: treat them as failures."""
    with caplog.at_level(logging.WARNING, logger="msrest"):
        yield
    problems = [r.getMessage() for r in caplog.records if r.name.startswith("msrest") and r.levelno >= logging.WARNING]
    assert problems == []


ALL_FEATURES = [
    VisualFeatureTypes.categories,
    VisualFeatureTypes.tags,
    VisualFeatureTypes.description,
    VisualFeatureTypes.faces,
    VisualFeatureTypes.image_type,
    VisualFeatureTypes.color,
    VisualFeatureTypes.adult,
    VisualFeatureTypes.objects,
    VisualFeatureTypes.brands,
]


def _check_analysis(result: object) -> None:
    r = result
    assert r.metadata.width == 320 and r.metadata.height == 200 and r.metadata.format == "Png"  # type: ignore[attr-defined]
    assert r.color.dominant_color_background == "White"  # type: ignore[attr-defined]
    assert r.faces[0].gender == "Female" and r.faces[0].face_rectangle.width == 30  # type: ignore[attr-defined]
    assert r.objects[0].object_property == "cup" and r.objects[0].parent.object_property == "tableware"  # type: ignore[attr-defined]
    assert r.brands[0].rectangle.h == 8  # type: ignore[attr-defined]
    assert r.tags and r.description.captions  # type: ignore[attr-defined]
    assert r.adult.is_adult_content is False  # type: ignore[attr-defined]
    assert r.image_type.clip_art_type in (0, 1, 2, 3)  # type: ignore[attr-defined]
    assert r.categories[0].detail.celebrities[0].name == "Ada"  # type: ignore[attr-defined]
    assert r.request_id and r.model_version  # type: ignore[attr-defined]


def test_analyze(sdk: ComputerVisionClient, stream: io.BytesIO) -> None:
    """analyze_image and analyze_image_in_stream with every feature and detail."""
    _check_analysis(sdk.analyze_image(IMAGE_URL, visual_features=ALL_FEATURES, details=["Celebrities", "Landmarks"]))
    _check_analysis(sdk.analyze_image_in_stream(stream, visual_features=ALL_FEATURES, details=["Celebrities"]))


def test_describe_tag_detect(sdk: ComputerVisionClient, stream: io.BytesIO) -> None:
    """describe, tag and detect, URL and stream."""
    assert sdk.describe_image(IMAGE_URL, max_candidates=2).captions
    assert sdk.describe_image_in_stream(stream, max_candidates=1).tags
    assert sdk.tag_image(IMAGE_URL).tags[0].confidence > 0
    stream.seek(0)
    assert sdk.tag_image_in_stream(stream).tags
    assert sdk.detect_objects(IMAGE_URL).objects[0].rectangle.w == 3
    stream.seek(0)
    assert sdk.detect_objects_in_stream(stream).objects[0].confidence == 0.8


def test_models_and_domain(sdk: ComputerVisionClient, stream: io.BytesIO) -> None:
    """list_models and analyze_image_by_domain, URL and stream."""
    assert [m.name for m in sdk.list_models().models_property] == ["celebrities", "landmarks"]
    assert sdk.analyze_image_by_domain("celebrities", IMAGE_URL).result["celebrities"][0]["name"] == "Ada"
    assert sdk.analyze_image_by_domain_in_stream("landmarks", stream).result["landmarks"][0]["name"] == "Tower"


def test_ocr(sdk: ComputerVisionClient, stream: io.BytesIO) -> None:
    """recognize_printed_text, URL and stream."""
    assert sdk.recognize_printed_text(IMAGE_URL, detect_orientation=True).regions == []
    assert (
        sdk.recognize_printed_text_in_stream(stream, detect_orientation=False, language="en").orientation
        == "NotDetected"
    )


def test_thumbnail_and_area_of_interest(sdk: ComputerVisionClient, stream: io.BytesIO) -> None:
    """generate_thumbnail (a byte stream) and get_area_of_interest, URL and stream."""
    data = b"".join(sdk.generate_thumbnail(50, 40, IMAGE_URL, smart_cropping=True))
    assert data.startswith(b"\x89PNG")
    assert b"".join(sdk.generate_thumbnail_in_stream(30, 30, stream)).startswith(b"\x89PNG")
    assert sdk.get_area_of_interest(IMAGE_URL).area_of_interest.w > 0
    stream.seek(0)
    assert sdk.get_area_of_interest_in_stream(stream).metadata.width == 320


def test_read(sdk: ComputerVisionClient, stream: io.BytesIO) -> None:
    """read / read_in_stream return Operation-Location; get_read_result deserializes."""
    for response in (sdk.read(IMAGE_URL, raw=True), sdk.read_in_stream(stream, raw=True)):
        location = response.headers["Operation-Location"]
        op_id = location.rsplit("/", 1)[-1]
        result = sdk.get_read_result(op_id)
        assert result.status == OperationStatusCodes.succeeded
        page = result.analyze_result.read_results[0]
        assert (page.page, page.width, page.height, page.unit) == (1, 320, 200, "pixel")


def test_errors_deserialize(sdk: ComputerVisionClient) -> None:
    """An error answer deserializes into the SDK's error model with its codes."""
    with pytest.raises(ComputerVisionErrorResponseException) as info:
        sdk.tag_image("https://elsewhere.example/nope.png")
    assert info.value.error.error.innererror.code == "InvalidImageUrl"
