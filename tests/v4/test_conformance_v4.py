"""Conformance: Microsoft's own 4.0 SDK (azure-ai-vision-imageanalysis), sync and aio, drives the
emulator's 4.0 route through every feature, URL and binary, and deserializes every answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.ai.vision.imageanalysis import ImageAnalysisClient
from azure.ai.vision.imageanalysis.aio import ImageAnalysisClient as AsyncImageAnalysisClient
from azure.ai.vision.imageanalysis.models import VisualFeatures
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from tests.helpers import SAMPLES
from vision_async.emulator import Emulator, EmulatorServer

KEY = "conformance-v4-key"
IMAGE_URL = "https://images.example/shapes-v4.png"
ALL_FEATURES = list(VisualFeatures)
BOX = {"x": 10, "y": 20, "w": 30, "h": 40}
SCENARIO: dict[str, Any] = {
    "objects": [{"rectangle": {"x": 1, "y": 2, "w": 3, "h": 4}, "object": "cup", "confidence": 0.8}],
    "people": [{"boundingBox": BOX, "confidence": 0.9}],
    "denseCaptions": [
        {"text": "shapes on white", "confidence": 0.7, "boundingBox": {"x": 0, "y": 0, "w": 320, "h": 200}},
        {"text": "a red square", "confidence": 0.6, "boundingBox": BOX},
    ],
    "caption": {"text": "shapes on white", "confidence": 0.7},
    "read": [
        {
            "page": 1,
            "lines": [
                {
                    "boundingBox": [5, 6, 60, 6, 60, 20, 5, 20],
                    "text": "hello world",
                    "words": [
                        {"boundingBox": [5, 6, 30, 6, 30, 20, 5, 20], "text": "hello", "confidence": 0.99},
                        {"boundingBox": [35, 6, 60, 6, 60, 20, 35, 20], "text": "world", "confidence": 0.98},
                    ],
                }
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def server(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
    image = (SAMPLES / "shapes.png").read_bytes()
    emulator = Emulator(key=KEY, ocr="off")
    emulator.register(image, **SCENARIO)
    emulator.register(IMAGE_URL, data=image, **SCENARIO)
    monkeypatch_module.setenv("NO_PROXY", "127.0.0.1,localhost")
    with EmulatorServer(emulator) as served:
        yield served


@pytest.fixture
def image() -> bytes:
    return (SAMPLES / "shapes.png").read_bytes()


def _check(result: Any, *, ratios: list[float] | None) -> None:
    """Every feature of the SDK's ImageAnalysisResult is there and typed as the SDK expects."""
    assert result.model_version == "2023-10-01"
    assert (result.metadata.width, result.metadata.height) == (320, 200)
    assert result.caption.text == "shapes on white" and result.caption.confidence == 0.7
    dense = result.dense_captions.list
    assert [d.text for d in dense] == ["shapes on white", "a red square"]
    assert (dense[1].bounding_box.x, dense[1].bounding_box.width, dense[1].bounding_box.height) == (10, 30, 40)
    assert result.tags.list and all(t.name and 0 <= t.confidence <= 1 for t in result.tags.list)
    obj = result.objects.list[0]
    assert obj.tags[0].name == "cup" and obj.tags[0].confidence == 0.8
    assert (obj.bounding_box.x, obj.bounding_box.y, obj.bounding_box.width, obj.bounding_box.height) == (1, 2, 3, 4)
    person = result.people.list[0]
    assert person.confidence == 0.9 and person.bounding_box.height == 40
    line = result.read.blocks[0].lines[0]
    assert line.text == "hello world" and len(line.bounding_polygon) == 4
    assert [w.text for w in line.words] == ["hello", "world"]
    assert (line.words[1].bounding_polygon[0].x, line.words[1].bounding_polygon[0].y) == (35, 6)
    assert line.words[0].confidence == 0.99
    crops = result.smart_crops.list
    if ratios is None:
        assert len(crops) == 1 and 0.5 <= crops[0].aspect_ratio <= 2.0
    else:
        assert [c.aspect_ratio for c in crops] == ratios
    for crop in crops:
        box = crop.bounding_box
        assert box.x + box.width <= 320 and box.y + box.height <= 200 and box.width > 0 and box.height > 0


def test_sync_sdk_every_feature_binary_and_url(server: EmulatorServer, image: bytes) -> None:
    """The sync SDK's analyze (bytes) and analyze_from_url, every feature, with and without ratios."""
    with ImageAnalysisClient(server.url, AzureKeyCredential(KEY)) as sdk:
        result = sdk.analyze(
            image,
            ALL_FEATURES,
            language="en",
            gender_neutral_caption=True,
            smart_crops_aspect_ratios=[0.9, 1.33],
            model_version="latest",
        )
        _check(result, ratios=[0.9, 1.33])
        _check(sdk.analyze_from_url(IMAGE_URL, ALL_FEATURES), ratios=None)


def test_sync_sdk_single_features(server: EmulatorServer, image: bytes) -> None:
    """Each feature alone: the SDK sees that feature and no other."""
    with ImageAnalysisClient(server.url, AzureKeyCredential(KEY)) as sdk:
        for feature in ALL_FEATURES:
            result = sdk.analyze(image, [feature])
            present = {
                name
                for name in ("caption", "dense_captions", "tags", "objects", "read", "smart_crops", "people")
                if getattr(result, name) is not None
            }
            assert present == {feature.name.lower()}, feature


def test_sync_sdk_errors(server: EmulatorServer, image: bytes) -> None:
    """Errors deserialize into azure-core's error model with the service's codes."""
    with ImageAnalysisClient(server.url, AzureKeyCredential(KEY)) as sdk:
        with pytest.raises(HttpResponseError) as info:
            sdk.analyze(image, [VisualFeatures.CAPTION], language="fr")
        assert info.value.status_code == 400
        assert info.value.error is not None and info.value.error.code == "InvalidRequest"
        assert info.value.error.innererror["code"] == "NotSupportedLanguage"
        with pytest.raises(HttpResponseError) as info:
            sdk.analyze_from_url("https://elsewhere.example/nope.png", [VisualFeatures.TAGS])
        assert info.value.error is not None and info.value.error.innererror["code"] == "InvalidImageUrl"
    with (
        ImageAnalysisClient(server.url, AzureKeyCredential("wrong-key")) as sdk,
        pytest.raises(ClientAuthenticationError),
    ):
        sdk.analyze(image, [VisualFeatures.TAGS])


@pytest.mark.anyio
async def test_aio_sdk_every_feature_binary_and_url(server: EmulatorServer, image: bytes, anyio_backend: str) -> None:
    """The aio SDK, on asyncio and on trio, every feature, bytes and URL."""
    from azure.core.pipeline.transport import AsyncioRequestsTransport, TrioRequestsTransport

    transport = TrioRequestsTransport() if anyio_backend == "trio" else AsyncioRequestsTransport()
    async with AsyncImageAnalysisClient(server.url, AzureKeyCredential(KEY), transport=transport) as sdk:
        result = await sdk.analyze(image, ALL_FEATURES, smart_crops_aspect_ratios=[0.75, 1.8])
        _check(result, ratios=[0.75, 1.8])
        _check(await sdk.analyze_from_url(IMAGE_URL, ALL_FEATURES, gender_neutral_caption=False), ratios=None)
        with pytest.raises(HttpResponseError) as info:
            await sdk.analyze(image, [VisualFeatures.SMART_CROPS], smart_crops_aspect_ratios=[2.5])
        assert info.value.error is not None and info.value.error.innererror["code"] == "InvalidAspectRatio"
