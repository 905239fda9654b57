"""client.v4.analyze: the 4.0 request on the wire, local validation before any request, the 4.0
error shape in the VisionError tree, the shared pipeline, _bind for batches, and the emulator."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from tests.helpers import ENDPOINT, FIXTURES_ROOT, KEY, SAMPLES, png_bytes
from vision_async import (
    BadRequestError,
    ClientClosedError,
    ImageLimits,
    InvalidInputError,
    RateLimitError,
    ResponseValidationError,
    RetryPolicy,
    VisionClient,
)
from vision_async.emulator import Emulator, EmulatorTransport
from vision_async.testing import ScriptedTransport, json_response
from vision_async.v4 import Feature, ImageAnalysisResult, ImageAnalysisV4

pytestmark = pytest.mark.anyio

FIXTURES = FIXTURES_ROOT / "v4.0"
SEED = json.loads((FIXTURES / "seed_tags.json").read_text())
FULL = json.loads((FIXTURES / "AnalyzeFromImageData_MaximumSet.json").read_text())["responses"]["200"]["body"]
V4_ERROR = {
    "error": {
        "code": "InvalidRequest",
        "message": "Image format is not valid.",
        "innererror": {"code": "InvalidImageFormat", "message": "Input data is not a valid image."},
    }
}

MakeClient = Callable[..., VisionClient]


async def test_request_on_the_wire(make_client: MakeClient) -> None:
    """POST {endpoint}/computervision/imageanalysis:analyze with the spec's query, binary body, key header."""
    transport = ScriptedTransport(json_response(200, FULL))
    async with make_client(transport) as client:
        result = await client.v4.analyze(
            png_bytes(),
            features=[Feature.TAGS, "caption", "read"],
            gender_neutral_caption=True,
            model_version="latest",
        )
    (sent,) = transport.requests
    assert sent.method == "POST"
    assert f"{sent.url.scheme}://{sent.url.host}{sent.url.path}" == ENDPOINT + "/computervision/imageanalysis:analyze"
    assert dict(sent.params) == {
        "api-version": "2023-10-01",
        "features": "tags,caption,read",
        "language": "en",
        "gender-neutral-caption": "true",
        "model-version": "latest",
    }
    assert sent.headers["content-type"] == "application/octet-stream" and sent.content == png_bytes()
    assert sent.headers["ocp-apim-subscription-key"] == KEY
    assert result.request_id == "req-test" and result.caption is not None and result.read is not None
    assert result.smart_crops is not None and result.smart_crops[1].aspect_ratio == 1.33


async def test_url_image_is_a_json_body(make_client: MakeClient) -> None:
    """An http(s) URL is sent as {"url": ...} with a JSON content type; the seed's answer parses."""
    transport = ScriptedTransport(json_response(200, SEED))
    async with make_client(transport) as client:
        result = await client.v4.analyze("https://img.example/a.jpg", features="tags")
    assert transport.requests[0].json() == {"url": "https://img.example/a.jpg"}
    assert transport.requests[0].headers["content-type"] == "application/json"
    assert result.model_version is None and result.tags is not None and result.tags[0].name == "text"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"features": []}, "at least one"),
        ({"features": ["faces"]}, "invalid feature"),
        ({"features": ["caption"], "language": "fr"}, "only available in English"),
        ({"features": ["smartCrops"], "smart_crops_aspect_ratios": [2.0]}, "out of range"),
        ({"features": ["tags"], "model_version": "yesterday"}, "model_version"),
    ],
)
async def test_bad_options_send_nothing(make_client: MakeClient, options: dict[str, Any], message: str) -> None:
    """Invalid options are InvalidInputError and no request is sent."""
    transport = ScriptedTransport(json_response(200, SEED))
    async with make_client(transport) as client:
        with pytest.raises(InvalidInputError, match=message):
            await client.v4.analyze(png_bytes(), **options)
    assert transport.count == 0


def _encoded(fmt: str, size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(buf, format=fmt)
    return buf.getvalue()


async def test_image_checks_are_the_4_0_limits(make_client: MakeClient) -> None:
    """4.0 takes WEBP and TIFF (3.2 does not), refuses PDF, and checks 50 < side < 16000 and < 20 MB locally."""
    transport = ScriptedTransport(json_response(200, SEED))
    async with make_client(transport, limits=ImageLimits(max_v4_image_bytes=1000)) as client:
        webp = _encoded("WEBP", (60, 60))
        assert len(webp) < 1000
        await client.v4.analyze(webp, features="tags")
        with pytest.raises(InvalidInputError):
            await client.tag(webp)  # 3.2 refuses WEBP
        for bad, message in (
            (b"%PDF-1.7 ...", r"not JPEG, PNG, GIF, BMP, WEBP, ICO or TIFF \(it is PDF\)"),
            (_encoded("PNG", (50, 300)), "larger than 50x50"),
            (png_bytes(300, 300) + b"\x00" * 1000, "less than 1000 bytes"),
        ):
            with pytest.raises(InvalidInputError, match=message):
                await client.v4.analyze(bad, features="tags")
    assert transport.count == 1


async def test_default_size_limit_is_20_mb(make_client: MakeClient) -> None:
    """By default an image of 5 MB is sent (3.2 would refuse it) and one of 20 MiB is not."""
    transport = ScriptedTransport(json_response(200, SEED))
    async with make_client(transport) as client:
        await client.v4.analyze(png_bytes() + b"\x00" * (5 * 1024 * 1024), features="tags")
        with pytest.raises(InvalidInputError, match="less than"):
            await client.v4.analyze(png_bytes() + b"\x00" * (20 * 1024 * 1024), features="tags")
    assert transport.count == 1


async def test_4_0_errors_map_into_the_vision_error_tree(make_client: MakeClient) -> None:
    """A 4.0 error body is a BadRequestError with the outer and inner codes, message and request id."""
    response = json_response(400, V4_ERROR, headers={"x-ms-error-code": "InvalidRequest", "apim-request-id": "r-9"})
    async with make_client(ScriptedTransport(response)) as client:
        with pytest.raises(BadRequestError) as info:
            await client.v4.analyze(png_bytes(), features="tags")
    error = info.value
    assert (error.status_code, error.code, error.inner_code) == (400, "InvalidRequest", "InvalidImageFormat")
    assert error.request_id == "r-9" and "Image format is not valid" in error.message


async def test_same_pipeline_retries_429(make_client: MakeClient, fake_clock: Any) -> None:
    """client.v4 goes through the client's retry policy: a 429 with Retry-After is waited out and retried."""
    throttled = json_response(
        429, {"error": {"code": "429", "message": "Rate limit is exceeded."}}, headers={"Retry-After": "2"}
    )
    transport = ScriptedTransport(throttled, json_response(200, SEED))
    async with make_client(transport) as client:
        result = await client.v4.analyze(png_bytes(), features="tags")
    assert result.tags is not None and transport.count == 2
    assert 2.0 in fake_clock.sleeps


async def test_429_after_retries_is_a_rate_limit_error(make_client: MakeClient) -> None:
    """When retries run out, the 429 surfaces as RateLimitError."""
    throttled = json_response(429, {"error": {"code": "429", "message": "Rate limit is exceeded."}})
    async with make_client(ScriptedTransport(throttled), retry=RetryPolicy(max_attempts=2)) as client:
        with pytest.raises(RateLimitError):
            await client.v4.analyze(png_bytes(), features="tags")


async def test_malformed_answer_is_a_validation_error_with_request_id(make_client: MakeClient) -> None:
    """A 200 whose body breaks the spec is a ResponseValidationError naming the path and the request id."""
    bad = {"metadata": {"width": 1, "height": 1}, "tagsResult": {"values": [{"name": "x"}]}}
    async with make_client(ScriptedTransport(json_response(200, bad))) as client:
        with pytest.raises(ResponseValidationError, match=r"\$\.tagsResult\.values\[0\]\.confidence") as info:
            await client.v4.analyze(png_bytes(), features="tags")
    assert info.value.request_id == "req-test"


async def test_closed_client_refuses(make_client: MakeClient) -> None:
    """A closed client's v4 raises ClientClosedError and sends nothing."""
    transport = ScriptedTransport(json_response(200, SEED))
    client = make_client(transport)
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await client.v4.analyze(png_bytes(), features="tags")
    assert transport.count == 0


async def test_v4_is_one_surface_per_client(make_client: MakeClient) -> None:
    """client.v4 is an ImageAnalysisV4, the same object every time."""
    async with make_client(ScriptedTransport(json_response(200, SEED))) as client:
        assert isinstance(client.v4, ImageAnalysisV4) and client.v4 is client.v4
        assert KEY not in repr(client.v4)


async def test_bind_validates_once_and_analyzes_many(make_client: MakeClient) -> None:
    """_bind checks the options once (bad ones raise at once) and returns analyze(image) for many images."""
    transport = ScriptedTransport(json_response(200, SEED))
    async with make_client(transport) as client:
        with pytest.raises(InvalidInputError):
            client.v4._bind({"features": ["tags"], "language": 3})
        with pytest.raises(InvalidInputError, match="unknown option"):
            client.v4._bind({"features": ["tags"], "details": "x"})
        analyze = client.v4._bind({"features": ["tags", "smartCrops"], "smart_crops_aspect_ratios": [1.0]})
        results = [await analyze(png_bytes()), await analyze("https://img.example/b.png")]
    assert all(isinstance(r, ImageAnalysisResult) for r in results)
    assert [dict(r.params)["smartcrops-aspect-ratios"] for r in transport.requests] == ["1.0", "1.0"]


async def test_end_to_end_on_the_emulator() -> None:
    """Against the in-process emulator: every feature, scenario objects and people, pixel smart crops."""
    emulator = Emulator(ocr="off")
    data = (SAMPLES / "shapes.png").read_bytes()
    emulator.register(
        data,
        objects=[{"rectangle": {"x": 1, "y": 2, "w": 3, "h": 4}, "object": "cup", "confidence": 0.8}],
        people=[{"boundingBox": {"x": 5, "y": 6, "w": 7, "h": 8}, "confidence": 0.9}],
    )
    async with VisionClient("http://127.0.0.1:9", "k", transport=EmulatorTransport(emulator)) as client:
        result = await client.v4.analyze(data, features=list(Feature), smart_crops_aspect_ratios=[0.9, 1.33])
    assert (result.metadata.width, result.metadata.height) == (320, 200)
    assert result.objects is not None and result.objects[0].tags[0].name == "cup"
    assert result.people is not None and result.people[0].bounding_box.width == 7
    assert result.smart_crops is not None and [c.aspect_ratio for c in result.smart_crops] == [0.9, 1.33]
    assert result.read is not None and result.read.blocks == ()
    assert result.caption is not None and result.tags and result.dense_captions
    assert result.request_id and result.model_version == "2023-10-01"


async def test_emulator_errors_reach_the_client_with_inner_codes() -> None:
    """The emulator's 4.0 errors arrive as typed errors with the inner code (an undecodable image)."""
    async with VisionClient("http://127.0.0.1:9", "k", transport=EmulatorTransport(Emulator(ocr="off"))) as client:
        with pytest.raises(BadRequestError) as info:
            await client.v4.analyze(_lying_png(), features="tags")
    assert (info.value.code, info.value.inner_code) == ("InvalidRequest", "InvalidImageFormat")


def _lying_png() -> bytes:
    """A PNG signature and a plausible header, then garbage: passes local checks, fails decoding."""
    real = png_bytes(100, 100)
    return real[:33] + b"garbage" * 10
