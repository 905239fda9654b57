"""Each v3.2 operation: URL and binary input, its query on the wire, its result and its error path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.helpers import fixture_body, png_bytes
from vision_async import (
    BadRequestError,
    BoundingRect,
    InvalidInputError,
    NotFoundError,
    ResponseValidationError,
    VisionClient,
)
from vision_async.testing import ScriptedTransport, json_response

pytestmark = pytest.mark.anyio

URL = "https://example.com/cat.jpg"
IMAGE = png_bytes(80, 60)
BAD_IMAGE = json_response(
    400,
    {
        "error": {
            "code": "InvalidRequest",
            "message": "Input data is not a valid image.",
            "innererror": {"code": "InvalidImageFormat", "message": "Input data is not a valid image."},
        }
    },
)

Call = Callable[[VisionClient, Any], Awaitable[Any]]

OPERATIONS: list[tuple[str, str, str, Call, dict[str, str], Callable[[Any], None]]] = [
    (
        "analyze",
        "/vision/v3.2/analyze",
        "analyze_image_with_url",
        lambda c, img: c.analyze(img, features=["Objects", "Brands"], details="Celebrities"),
        {"visualFeatures": "Objects,Brands", "details": "Celebrities", "language": "en", "model-version": "latest"},
        lambda r: r.brands[0].name == "Pepsi" or pytest.fail("brands"),
    ),
    (
        "tag",
        "/vision/v3.2/tag",
        "tag_image",
        lambda c, img: c.tag(img, language="ja"),
        {"language": "ja", "model-version": "latest"},
        lambda r: len(r.tags) == 8 or pytest.fail("tags"),
    ),
    (
        "describe",
        "/vision/v3.2/describe",
        "describe_image",
        lambda c, img: c.describe(img, max_candidates=2, description_exclude="celebrities"),
        {"maxCandidates": "2", "descriptionExclude": "Celebrities", "language": "en", "model-version": "latest"},
        lambda r: r.tags[0] == "person" or pytest.fail("describe"),
    ),
    (
        "detect",
        "/vision/v3.2/detect",
        "detect_objects",
        lambda c, img: c.detect(img, model_version="2021-04-01"),
        {"model-version": "2021-04-01"},
        lambda r: r.objects[0].object_ == "tree" or pytest.fail("detect"),
    ),
    (
        "analyze_by_domain",
        "/vision/v3.2/models/celebrities/analyze",
        "analyze_image_by_domain",
        lambda c, img: c.analyze_by_domain("celebrities", img, language="es"),
        {"language": "es", "model-version": "latest"},
        lambda r: r.celebrities[0].name == "Satya Nadella" or pytest.fail("domain"),
    ),
    (
        "ocr",
        "/vision/v3.2/ocr",
        "recognize_printed_text",
        lambda c, img: c.ocr(img, language="en", detect_orientation=False),
        {"language": "en", "detectOrientation": "false", "model-version": "latest"},
        lambda r: r.regions[0].lines[0].text == "A GOAL WITHOUT" or pytest.fail("ocr"),
    ),
    (
        "area_of_interest",
        "/vision/v3.2/areaOfInterest",
        "get_area_of_interest",
        lambda c, img: c.area_of_interest(img),
        {"model-version": "latest"},
        lambda r: r.area_of_interest == BoundingRect(160, 0, 950, 951) or pytest.fail("aoi"),
    ),
]
IDS = [op[0] for op in OPERATIONS]


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
@pytest.mark.parametrize("kind", ["url", "binary"])
async def test_operation_wire_format(make_client: Callable[..., VisionClient], op: tuple, kind: str) -> None:
    """URL goes as JSON, bytes as octet-stream, to the spec's path with the spec's query."""
    _name, path, fixture, call, params, check = op
    transport = ScriptedTransport(json_response(200, fixture_body(fixture)))
    async with make_client(transport) as client:
        result = await call(client, URL if kind == "url" else IMAGE)
    (req,) = transport.requests
    assert req.method == "POST"
    assert req.url.path == path
    assert dict(req.params) == params
    if kind == "url":
        assert req.headers["content-type"] == "application/json" and req.json() == {"url": URL}
    else:
        assert req.headers["content-type"] == "application/octet-stream" and req.content == IMAGE
    check(result)


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
async def test_operation_error_path(make_client: Callable[..., VisionClient], op: tuple) -> None:
    """A 400 answer raises BadRequestError with the inner code, after one request."""
    call = op[3]
    transport = ScriptedTransport(BAD_IMAGE)
    async with make_client(transport) as client:
        with pytest.raises(BadRequestError) as info:
            await call(client, IMAGE)
    assert info.value.inner_code == "InvalidImageFormat"
    assert transport.count == 1


async def test_list_models(make_client: Callable[..., VisionClient]) -> None:
    """list_models is a GET to /models with no body."""
    transport = ScriptedTransport(json_response(200, fixture_body("list_models")))
    async with make_client(transport) as client:
        result = await client.list_models()
    (req,) = transport.requests
    assert (req.method, req.url.path, req.content) == ("GET", "/vision/v3.2/models", b"")
    assert [m.name for m in result.models] == ["celebrities", "landmarks"]


async def test_list_models_error(make_client: Callable[..., VisionClient]) -> None:
    """A 404 from /models raises NotFoundError."""
    transport = ScriptedTransport(json_response(404, {"error": {"code": "404", "message": "Resource not found"}}))
    async with make_client(transport) as client:
        with pytest.raises(NotFoundError):
            await client.list_models()


@pytest.mark.parametrize("kind", ["url", "binary"])
async def test_generate_thumbnail(make_client: Callable[..., VisionClient], kind: str) -> None:
    """Thumbnail sends width, height and smartCropping, accepts an image answer, and returns the image bytes."""
    thumb = png_bytes(20, 10)
    transport = ScriptedTransport(httpx.Response(200, headers={"content-type": "image/png"}, content=thumb))
    async with make_client(transport) as client:
        data = await client.generate_thumbnail(URL if kind == "url" else IMAGE, 20, 10, smart_cropping=True)
    assert data == thumb
    params = dict(transport.requests[0].params)
    assert params == {"width": "20", "height": "10", "smartCropping": "true", "model-version": "latest"}
    assert transport.requests[0].url.path == "/vision/v3.2/generateThumbnail"
    assert transport.requests[0].headers["accept"].startswith("application/octet-stream")  # a strict server 406s JSON


async def test_thumbnail_sizes_are_checked_locally(make_client: Callable[..., VisionClient]) -> None:
    """Width and height outside 1..1024 fail before any request."""
    transport = ScriptedTransport(json_response(200, {}))
    async with make_client(transport) as client:
        for width, height in ((0, 10), (10, 1025), (True, 10), (10.5, 10)):
            with pytest.raises(InvalidInputError, match=r"width|height"):
                await client.generate_thumbnail(IMAGE, width, height)  # type: ignore[arg-type]
    assert transport.count == 0


async def test_thumbnail_that_is_not_an_image(make_client: Callable[..., VisionClient]) -> None:
    """A 200 thumbnail body that is not an image raises ResponseValidationError."""
    transport = ScriptedTransport(json_response(200, {"oops": True}))
    async with make_client(transport) as client:
        with pytest.raises(ResponseValidationError, match="not an image"):
            await client.generate_thumbnail(IMAGE, 10, 10)


async def test_thumbnail_error_path(make_client: Callable[..., VisionClient]) -> None:
    """A 400 InvalidThumbnailSize from the service is a BadRequestError."""
    body = {
        "error": {
            "code": "InvalidRequest",
            "message": "bad size",
            "innererror": {"code": "InvalidThumbnailSize", "message": "bad size"},
        }
    }
    transport = ScriptedTransport(json_response(400, body))
    async with make_client(transport) as client:
        with pytest.raises(BadRequestError) as info:
            await client.generate_thumbnail(IMAGE, 10, 10)
    assert info.value.inner_code == "InvalidThumbnailSize"


async def test_local_validation_of_the_other_operations(make_client: Callable[..., VisionClient]) -> None:
    """Bad languages, models and flags fail locally, before any request."""
    transport = ScriptedTransport(json_response(200, {}))
    async with make_client(transport) as client:
        with pytest.raises(InvalidInputError, match="language for ocr"):
            await client.ocr(IMAGE, language="xx")
        with pytest.raises(InvalidInputError, match="language for ocr"):
            await client.ocr(IMAGE, language="vi")  # a service language, but not an OCR one
        with pytest.raises(InvalidInputError, match="detect_orientation"):
            await client.ocr(IMAGE, detect_orientation="yes")  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="model"):
            await client.analyze_by_domain("../../admin", IMAGE)
        with pytest.raises(InvalidInputError, match="language for analyze_by_domain"):
            await client.analyze_by_domain("landmarks", IMAGE, language="klingon")
        with pytest.raises(InvalidInputError, match="model_version"):
            await client.detect(IMAGE, model_version="v2")
    assert transport.count == 0


async def test_repeated_options_are_validated_once(
    make_client: Callable[..., VisionClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same hashable options reuse one validated plan; unhashable ones (lists) still work."""
    import vision_async._v32.plans as operations

    checks = 0
    real = operations.check_model_version

    def counting(value: object) -> str:
        nonlocal checks
        checks += 1
        return real(value)

    monkeypatch.setattr(operations, "check_model_version", counting)
    transport = ScriptedTransport(json_response(200, fixture_body("tag_image")))
    async with make_client(transport) as client:
        for _ in range(3):
            await client.tag(URL, language="en")
        assert checks == 1
        await client.tag(URL, language="es")
        assert checks == 2
        transport.script = [json_response(200, fixture_body("analyze_image_with_url"))]
        for _ in range(2):
            await client.analyze(URL, features=["Tags"])  # a list: validated every time
        assert checks == 4


async def test_validation_does_not_depend_on_the_plan_cache(make_client: Callable[..., VisionClient]) -> None:
    """A value equal to a cached one but of another type (1 vs True, 100.0 vs 100) is still validated and refused."""
    transport = ScriptedTransport(json_response(200, fixture_body("recognize_printed_text")))
    async with make_client(transport) as client:
        await client.ocr(URL, detect_orientation=True)
        with pytest.raises(InvalidInputError, match="detect_orientation"):
            await client.ocr(URL, detect_orientation=1)  # type: ignore[arg-type]
        transport.script = [httpx.Response(200, headers={"content-type": "image/png"}, content=png_bytes(100, 100))]
        await client.generate_thumbnail(URL, width=100, height=100)
        with pytest.raises(InvalidInputError, match="width"):
            await client.generate_thumbnail(URL, width=100.0, height=100)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="smart_cropping"):
            await client.generate_thumbnail(URL, width=100, height=100, smart_cropping=0)  # type: ignore[arg-type]
    assert transport.count == 2
