"""The emulator's 4.0 route: the service's validation and error shapes, pixel-derived metadata and
smart crops, Read from rapidocr, and the rest from the same scenarios and fallback as 3.2."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.helpers import SAMPLES, png_bytes
from vision_async.emulator import Emulator, EmulatorTransport
from vision_async.emulator._pixels import analyze_pixels, crop_box
from vision_async.v4 import ImageAnalysisResult

pytestmark = pytest.mark.anyio

PATH = "/computervision/imageanalysis:analyze"
ALL = "tags,caption,denseCaptions,objects,read,smartCrops,people"
OCTET = {"content-type": "application/octet-stream", "Ocp-Apim-Subscription-Key": "key"}


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(ocr="off")


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=EmulatorTransport(emulator), base_url="http://emulator") as client:
        yield client


async def post(
    http: httpx.AsyncClient, content: bytes, *, api_version: str | None = "2023-10-01", **query: str
) -> httpx.Response:
    params = {"api-version": api_version, **query} if api_version else dict(query)
    return await http.post(PATH, params=params, content=content, headers=OCTET)


def square_on_right(width: int = 400, height: int = 200) -> bytes:
    """A white image with a red square near its right edge: all its saliency is there."""
    img = Image.new("RGB", (width, height), (255, 255, 255))
    img.paste((220, 20, 20), (width - 90, 60, width - 10, 140))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["innererror"]["code"]


async def test_every_feature_parses_and_metadata_is_from_pixels(http: httpx.AsyncClient) -> None:
    """All seven features answer in the spec's shape, which the client parses; metadata is the pixel size."""
    response = await post(http, png_bytes(123, 77), features=ALL)
    assert response.status_code == 200
    body = response.json()
    assert body["metadata"] == {"width": 123, "height": 77} and body["modelVersion"] == "2023-10-01"
    result = ImageAnalysisResult.from_json(body, request_id=response.headers["apim-request-id"])
    assert result.request_id and result.tags and result.caption is not None
    assert result.objects == () and result.people == () and result.read is not None and result.read.blocks == ()
    assert result.dense_captions is not None and result.dense_captions[0].text == result.caption.text
    assert result.dense_captions[0].bounding_box.width == 123


async def test_only_requested_features_are_answered(http: httpx.AsyncClient) -> None:
    """A feature not asked for is absent from the body."""
    body = (await post(http, png_bytes(), features="people")).json()
    assert set(body) == {"modelVersion", "metadata", "peopleResult"}


async def test_fallback_is_the_3_2_fallback(http: httpx.AsyncClient) -> None:
    """Without a scenario, tags and caption are those the 3.2 routes give the same image."""
    data = (SAMPLES / "shapes.png").read_bytes()
    v4 = (await post(http, data, features="tags,caption")).json()
    v32 = (
        await http.post(
            "/vision/v3.2/analyze", params={"visualFeatures": "Tags,Description"}, content=data, headers=OCTET
        )
    ).json()
    assert v4["tagsResult"]["values"] == [{"name": t["name"], "confidence": t["confidence"]} for t in v32["tags"]]
    assert v4["captionResult"] == v32["description"]["captions"][0]
    assert v4["captionResult"]["confidence"] <= 0.5


async def test_scenarios_answer_both_versions(emulator: Emulator, http: httpx.AsyncClient) -> None:
    """One registered scenario answers 4.0 too: 3.2 objects and tags converted, 4.0-only keys as given."""
    data = png_bytes(200, 100, (10, 200, 10))
    people = [{"boundingBox": {"x": 1, "y": 2, "w": 30, "h": 40}, "confidence": 0.9}]
    emulator.register(
        data,
        tags=[{"name": "lawn", "confidence": 0.97, "hint": "x"}],
        objects=[{"rectangle": {"x": 5, "y": 6, "w": 7, "h": 8}, "object": "ball", "confidence": 0.6}],
        description={"tags": ["lawn"], "captions": [{"text": "a green lawn", "confidence": 0.8}]},
        people=people,
        metadata={"width": 2000, "height": 1000, "format": "Png"},
    )
    body = (await post(http, data, features="tags,objects,caption,denseCaptions,people")).json()
    assert body["tagsResult"] == {"values": [{"name": "lawn", "confidence": 0.97}]}
    assert body["objectsResult"] == {
        "values": [{"boundingBox": {"x": 5, "y": 6, "w": 7, "h": 8}, "tags": [{"name": "ball", "confidence": 0.6}]}]
    }
    assert body["captionResult"] == {"text": "a green lawn", "confidence": 0.8}
    assert body["denseCaptionsResult"]["values"][0]["boundingBox"] == {"x": 0, "y": 0, "w": 2000, "h": 1000}
    assert body["peopleResult"] == {"values": people}
    assert body["metadata"] == {"width": 2000, "height": 1000}


async def test_url_images_and_registered_urls(emulator: Emulator, http: httpx.AsyncClient) -> None:
    """A JSON {"url"} body is answered from the bytes registered for the URL; other URLs are refused."""
    emulator.register("https://img.example/a.png", data=png_bytes(90, 60), caption={"text": "hi", "confidence": 1})
    headers = {"content-type": "application/json", "Ocp-Apim-Subscription-Key": "key"}
    ok = await http.post(
        PATH,
        params={"api-version": "2023-10-01", "features": "caption"},
        json={"url": "https://img.example/a.png"},
        headers=headers,
    )
    assert ok.json()["captionResult"] == {"text": "hi", "confidence": 1}
    assert ok.json()["metadata"] == {"width": 90, "height": 60}
    bad = await http.post(
        PATH,
        params={"api-version": "2023-10-01", "features": "tags"},
        json={"url": "https://x.example/"},
        headers=headers,
    )
    assert error_of(bad) == (400, "InvalidRequest", "InvalidImageUrl")


async def test_smart_crops_one_per_ratio_around_the_saliency(http: httpx.AsyncClient) -> None:
    """One crop per requested ratio, at that ratio, inside the image, holding the salient square; the
    cut is the one 3.2's smart thumbnail makes."""
    data = square_on_right()
    body = (await post(http, data, features="smartCrops", **{"smartcrops-aspect-ratios": "0.75,1.0,1.8"})).json()
    crops = body["smartCropsResult"]["values"]
    assert [c["aspectRatio"] for c in crops] == [0.75, 1.0, 1.8]
    facts = analyze_pixels(data)
    for crop in crops:
        box = crop["boundingBox"]
        assert box["x"] >= 0 and box["x"] + box["w"] <= 400 and box["h"] == 200
        assert box["w"] / box["h"] == pytest.approx(crop["aspectRatio"], abs=0.01)
        assert box["x"] <= 310 and box["x"] + box["w"] >= 390  # the square (x 310..390) is inside
        left, top, right, bottom = crop_box(400, 200, crop["aspectRatio"], facts)
        assert (box["x"], box["y"], box["w"], box["h"]) == (left, top, right - left, bottom - top)


async def test_smart_crops_without_ratios_pick_one(http: httpx.AsyncClient) -> None:
    """Without ratios there is one crop, at the image's ratio clamped to 0.5..2.0."""
    body = (await post(http, square_on_right(600, 200), features="smartCrops")).json()
    (crop,) = body["smartCropsResult"]["values"]
    box = crop["boundingBox"]
    assert crop["aspectRatio"] == 2.0 and (box["w"], box["h"]) == (400, 200)
    assert box["x"] <= 510 and box["x"] + box["w"] >= 590  # slid right, to the square (x 510..590)


async def test_read_from_a_3_2_read_scenario(emulator: Emulator, http: httpx.AsyncClient) -> None:
    """A registered 3.2 Read result answers 4.0's read: lines and words with 4-point polygons."""
    data = png_bytes(300, 100)
    line = {
        "boundingBox": [10, 10, 110, 10, 110, 30, 10, 30],
        "text": "two words",
        "words": [
            {"boundingBox": [10, 10, 50, 10, 50, 30, 10, 30], "text": "two", "confidence": 0.9},
            {"boundingBox": [60, 10, 110, 10, 110, 30, 60, 30], "text": "words", "confidence": 0.8},
        ],
    }
    emulator.register(data, read=[{"page": 1, "lines": [line]}])
    result = ImageAnalysisResult.from_json((await post(http, data, features="read")).json())
    assert result.read is not None and result.read.text == "two words"
    words = result.read.blocks[0].lines[0].words
    assert [(w.text, w.confidence, len(w.bounding_polygon)) for w in words] == [("two", 0.9, 4), ("words", 0.8, 4)]
    assert (words[1].bounding_polygon[2].x, words[1].bounding_polygon[2].y) == (110, 30)


async def test_read_recognizes_text_with_the_ocr_extra() -> None:
    """With rapidocr installed, read finds the sample sign's text, with word polygons inside the line's."""
    pytest.importorskip("rapidocr_onnxruntime")
    emulator = Emulator(ocr="auto")
    async with httpx.AsyncClient(transport=EmulatorTransport(emulator), base_url="http://emulator") as http:
        response = await post(http, (SAMPLES / "sign.png").read_bytes(), features="read")
    result = ImageAnalysisResult.from_json(response.json())
    assert result.read is not None and "42" in result.read.text
    for line in result.read.lines:
        assert len(line.bounding_polygon) == 4 and line.words
        xs = [p.x for p in line.bounding_polygon]
        for word in line.words:
            assert len(word.bounding_polygon) == 4 and 0 < word.confidence <= 1
            assert min(xs) - 1 <= word.bounding_polygon[0].x <= max(xs) + 1


@pytest.mark.parametrize(
    ("query", "inner"),
    [
        ({}, "BadArgument"),
        ({"features": "tags,faces"}, "NotSupportedVisualFeature"),
        ({"features": "caption", "language": "fr"}, "NotSupportedLanguage"),
        ({"features": "denseCaptions", "language": "es"}, "NotSupportedLanguage"),
        ({"features": "tags", "language": "not a language"}, "NotSupportedLanguage"),
        ({"features": "tags", "gender-neutral-caption": "maybe"}, "BadArgument"),
        ({"features": "smartCrops", "smartcrops-aspect-ratios": "0.5"}, "InvalidAspectRatio"),
        ({"features": "smartCrops", "smartcrops-aspect-ratios": "wide"}, "BadArgument"),
        ({"features": "tags", "model-version": "bogus"}, "BadArgument"),
        ({"features": "tags", "model-version": "2021-05-01"}, "InvalidModel"),
    ],
)
async def test_query_validation_errors(http: httpx.AsyncClient, query: dict[str, str], inner: str) -> None:
    """Bad queries are 400 InvalidRequest with the inner code, and x-ms-error-code names the code."""
    response = await post(http, png_bytes(), **query)
    assert error_of(response) == (400, "InvalidRequest", inner)
    assert response.headers["x-ms-error-code"] == "InvalidRequest"
    assert "requestId" not in response.json()


@pytest.mark.parametrize("api_version", [None, "2023-02-01-preview", "2024-13-01"])
async def test_unknown_api_version_is_the_gateways_404(http: httpx.AsyncClient, api_version: str | None) -> None:
    """A missing or unknown api-version is not routed: the gateway's 404."""
    response = await post(http, png_bytes(), api_version=api_version, features="tags")
    assert response.status_code == 404 and response.json() == {
        "error": {"code": "404", "message": "Resource not found"}
    }


def _image(fmt: str, size: tuple[int, int] = (80, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (0, 90, 200)).save(buf, format=fmt, **({"sizes": [size]} if fmt == "ICO" else {}))
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["WEBP", "ICO", "TIFF", "JPEG", "GIF", "BMP"])
async def test_formats_4_0_accepts(http: httpx.AsyncClient, fmt: str) -> None:
    """WEBP, ICO and TIFF (which 3.2 refuses) are analyzed, as are the 3.2 formats."""
    response = await post(http, _image(fmt), features="tags")
    assert response.status_code == 200 and response.json()["metadata"] == {"width": 80, "height": 60}


@pytest.mark.parametrize(
    ("content", "status", "inner"),
    [
        (b"", 400, "InvalidImageFormat"),
        (b"%PDF-1.7 not for 4.0", 400, "InvalidImageFormat"),
        (b"\x89PNG\r\n\x1a\n broken", 400, "InvalidImageFormat"),
        (png_bytes(50, 200), 400, "InvalidImageSize"),
        (png_bytes(16000, 60), 400, "InvalidImageDimension"),
    ],
)
async def test_image_errors(http: httpx.AsyncClient, content: bytes, status: int, inner: str) -> None:
    """Empty, non-image, too small and too large images are refused in the 4.0 shape."""
    response = await post(http, content, features="tags")
    assert error_of(response) == (status, "InvalidRequest", inner)
    assert response.headers["x-ms-error-code"] == "InvalidRequest"


async def test_size_limit_is_20_mb(http: httpx.AsyncClient) -> None:
    """Images of 20 MB or more are refused (3.2 stops at 4 MB; 4.0 takes 4 MB and more)."""
    big = png_bytes(300, 300) + b"\x00" * (5 * 1024 * 1024)
    assert (await post(http, big, features="tags")).status_code == 200
    huge = png_bytes(300, 300) + b"\x00" * (20 * 1024 * 1024)
    assert error_of(await post(http, huge, features="tags")) == (400, "InvalidRequest", "InvalidImageSize")


async def test_unsupported_media_type(http: httpx.AsyncClient) -> None:
    """Bodies other than JSON or octet-stream are 415 in the 4.0 shape."""
    response = await http.post(
        PATH,
        params={"api-version": "2023-10-01", "features": "tags"},
        content=b"x",
        headers={"content-type": "text/plain", "Ocp-Apim-Subscription-Key": "key"},
    )
    assert error_of(response) == (415, "InvalidRequest", "UnsupportedMediaType")


async def test_auth_faults_and_counters_are_shared_with_3_2() -> None:
    """The route needs the key, counts as v4_analyze in the stats and obeys the '*' faults."""
    emulator = Emulator(key="right", ocr="off")
    async with httpx.AsyncClient(transport=EmulatorTransport(emulator), base_url="http://emulator") as http:
        headers = {**OCTET, "Ocp-Apim-Subscription-Key": "wrong"}
        denied = await http.post(PATH, params={"api-version": "2023-10-01", "features": "tags"}, headers=headers)
        assert denied.status_code == 401 and denied.json()["error"]["code"] == "401"
        emulator.set_faults("*", p503=1.0)
        unavailable = await http.post(
            PATH,
            params={"api-version": "2023-10-01", "features": "tags"},
            content=png_bytes(),
            headers={**OCTET, "Ocp-Apim-Subscription-Key": "right"},
        )
        assert unavailable.status_code == 503
    stats: dict[str, Any] = emulator.stats.snapshot()
    assert stats["answered"] == {"v4_analyze 401": 1, "v4_analyze 503": 1}


async def test_faults_can_be_set_on_the_v4_route() -> None:
    """set_faults("v4_analyze", ...) configures the 4.0 route alone (a 500 there, the 3.2 tag unharmed)."""
    from vision_async import InternalServerError, VisionClient
    from vision_async.v4 import Feature

    em = Emulator(ocr="off")
    em.set_faults("v4_analyze", p500=1.0)
    async with VisionClient("https://e.test", "k", transport=EmulatorTransport(em), retry=None) as client:
        with pytest.raises(InternalServerError):
            await client.v4.analyze(png_bytes(80, 80), features=[Feature.TAGS])
        assert [t.name for t in (await client.tag(png_bytes(80, 80))).tags]  # the 3.2 route still answers with tags
