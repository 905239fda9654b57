"""The emulator in process: routes, the service's validation and error codes, pixel results."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw

from tests.helpers import png_bytes
from vision_async import (
    AuthenticationError,
    BadRequestError,
    OperationStatus,
    ReadOperationFailedError,
    UnsupportedMediaTypeError,
    VisionClient,
)
from vision_async.emulator import Emulator, EmulatorTransport
from vision_async.testing import FakeClock

pytestmark = pytest.mark.anyio

BASE = "https://emulator.test/vision/v3.2"


def picture(
    size: tuple[int, int] = (200, 120), box: tuple[int, int, int, int] = (60, 30, 140, 90), fill: str = "red"
) -> bytes:
    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).rectangle(box, fill=fill)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(key="secret-key", ocr="off")


@pytest.fixture
async def raw(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """A plain httpx client on the emulator, for looking at the wire itself."""
    async with httpx.AsyncClient(
        transport=EmulatorTransport(emulator), base_url=BASE, headers={"Ocp-Apim-Subscription-Key": "secret-key"}
    ) as client:
        yield client


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[VisionClient]:
    async with VisionClient(
        "https://emulator.test", "secret-key", transport=EmulatorTransport(emulator), retry=None
    ) as c:
        yield c


def octet(data: bytes) -> dict[str, Any]:
    return {"content": data, "headers": {"Content-Type": "application/octet-stream"}}


# -- protocol --------------------------------------------------------------------------------


async def test_wrong_key_gets_401_in_the_service_shape(raw: httpx.AsyncClient) -> None:
    """A wrong, empty or missing key is a 401 with {"error": {"code": "401", ...}} and a request id."""
    for key in ("nope", "", None):
        headers = {"Content-Type": "application/octet-stream"}
        request = raw.build_request("POST", "/tag", content=picture(), headers=headers)
        if key is None:
            del request.headers["Ocp-Apim-Subscription-Key"]
        else:
            request.headers["Ocp-Apim-Subscription-Key"] = key
        r = await raw.send(request)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "401"
        assert r.headers["apim-request-id"]


async def test_any_key_when_none_is_configured() -> None:
    """Without a configured key, any key (or bearer token) is accepted, but some credential is required."""
    em = Emulator(ocr="off")
    async with httpx.AsyncClient(transport=EmulatorTransport(em), base_url=BASE) as raw:
        ok = await raw.get("/models", headers={"Ocp-Apim-Subscription-Key": "whatever"})
        bearer = await raw.get("/models", headers={"Authorization": "Bearer t0ken"})
        none = await raw.get("/models")
    assert (ok.status_code, bearer.status_code, none.status_code) == (200, 200, 401)


async def test_every_response_has_a_request_id(raw: httpx.AsyncClient) -> None:
    """apim-request-id is on successes, errors and unknown routes alike, and unique."""
    responses = [
        await raw.get("/models"),
        await raw.post("/tag", **octet(b"junk")),
        await raw.get("/nowhere"),
    ]
    ids = [r.headers["apim-request-id"] for r in responses]
    assert len(set(ids)) == 3
    assert [r.status_code for r in responses] == [200, 400, 404]


@pytest.mark.parametrize(
    ("path", "params", "inner"),
    [
        ("/analyze", {"visualFeatures": "Tags,Smell"}, "NotSupportedVisualFeature"),
        ("/analyze", {"details": "Cars"}, "InvalidDetails"),
        ("/analyze", {"language": "xx"}, "NotSupportedLanguage"),
        ("/analyze", {"visualFeatures": "Objects", "language": "es"}, "NotSupportedLanguage"),
        ("/analyze", {"descriptionExclude": "Faces"}, "BadArgument"),
        ("/analyze", {"model-version": "v9"}, "BadArgument"),
        ("/describe", {"maxCandidates": "0"}, "BadArgument"),
        ("/ocr", {"language": "vi"}, "NotSupportedLanguage"),
        ("/ocr", {"detectOrientation": "maybe"}, "BadArgument"),
        ("/generateThumbnail", {"width": "0", "height": "10"}, "InvalidThumbnailSize"),
        ("/generateThumbnail", {"width": "10"}, "InvalidThumbnailSize"),
        ("/models/cars/analyze", {}, "InvalidModel"),
    ],
)
async def test_query_validation_uses_the_service_codes(
    raw: httpx.AsyncClient, path: str, params: dict, inner: str
) -> None:
    """Bad query parameters get 400 with the service's inner error code."""
    r = await raw.post(path, params=params, **octet(picture()))
    assert r.status_code == 400
    body = r.json()["error"]
    assert body["code"] == "InvalidRequest"
    assert body["innererror"]["code"] == inner


@pytest.mark.parametrize(
    ("kwargs", "status", "inner"),
    [
        (octet(b"\xff\xd8\xff" + b"\x00" * (4 * 1024 * 1024)), 400, "InvalidImageSize"),
        (octet(b"definitely not an image"), 400, "InvalidImageFormat"),
        (octet(b""), 400, "InvalidImageFormat"),
        (octet(png_bytes(40, 40)), 400, "InvalidImageSize"),
        ({"json": {"url": "https://example.com/cat.jpg"}}, 400, "InvalidImageUrl"),
        ({"json": {"uri": "x"}}, 400, "InvalidImageUrl"),
        ({"content": b"x", "headers": {"Content-Type": "text/plain"}}, 415, "UnsupportedMediaType"),
    ],
)
async def test_image_validation_uses_the_service_codes(
    raw: httpx.AsyncClient, kwargs: dict, status: int, inner: str
) -> None:
    """Oversized, non-image, tiny, unfetchable and wrongly typed bodies get the service's codes."""
    r = await raw.post("/analyze", **kwargs)
    assert r.status_code == status
    assert r.json()["error"]["innererror"]["code"] == inner


async def test_read_errors_use_the_flat_shape(raw: httpx.AsyncClient) -> None:
    """Read answers errors as {code, message, requestId}, as Ocr.json specifies."""
    r = await raw.post("/read/analyze", params={"pages": "x"}, **octet(picture()))
    assert r.status_code == 400
    assert r.json()["code"] == "InvalidPageRange"
    assert r.json()["requestId"] == r.headers["apim-request-id"]
    r = await raw.get("/read/analyzeResults/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404


async def test_client_maps_emulator_errors(client: VisionClient) -> None:
    """The client turns the emulator's answers into the typed errors."""
    with pytest.raises(BadRequestError) as info:
        await client.analyze("https://example.com/unreachable.jpg")
    assert info.value.inner_code == "InvalidImageUrl"
    assert info.value.request_id
    bad_key = VisionClient(
        "https://emulator.test", "wrong", transport=EmulatorTransport(Emulator(key="right", ocr="off"))
    )
    async with bad_key:
        with pytest.raises(AuthenticationError):
            await bad_key.tag(picture())


async def test_415_reaches_the_client_as_unsupported_media_type(raw: httpx.AsyncClient) -> None:
    """A wrong content type is 415 UnsupportedMediaType."""
    r = await raw.post("/tag", content=b"{}", headers={"Content-Type": "application/xml"})
    assert r.status_code == 415
    from vision_async._errors import error_from_response

    err = error_from_response(r.status_code, "x", r.content, request_id=None, retry_after=None)
    assert isinstance(err, UnsupportedMediaTypeError) and err.inner_code == "UnsupportedMediaType"


# -- pixel-derived results -------------------------------------------------------------------


async def test_metadata_and_color_come_from_the_pixels(client: VisionClient) -> None:
    """A red box on white: Png 200x120, background White, foreground Red, not black and white."""
    a = await client.analyze(picture(), features=["Color", "ImageType", "Tags", "Description", "Objects", "Faces"])
    assert a.metadata is not None and (a.metadata.width, a.metadata.height, a.metadata.format) == (200, 120, "Png")
    assert a.color is not None
    assert a.color.dominant_color_background == "White"
    assert a.color.dominant_color_foreground == "Red"
    assert a.color.dominant_colors[:2] == ("White", "Red")
    assert a.color.accent_color == "FF0000"
    assert a.color.is_bw_img is False
    assert a.image_type is not None and a.image_type.clip_art_type == 3  # two flat colors
    assert {t.name for t in a.tags} >= {"white", "red"}
    assert a.objects == () and a.faces == ()  # nothing the pixels cannot tell
    assert a.description is not None and "red" in (a.description.captions[0].text or "")


async def test_black_and_white_line_drawing(client: VisionClient) -> None:
    """Thin black strokes on white are black-and-white and a line drawing."""
    img = Image.new("RGB", (200, 200), "white")
    d = ImageDraw.Draw(img)
    d.line((20, 20, 180, 180), fill="black", width=2)
    d.ellipse((50, 50, 150, 150), outline="black", width=2)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    a = await client.analyze(buf.getvalue(), features=["Color", "ImageType"])
    assert a.color is not None and a.color.is_bw_img is True
    assert a.image_type is not None and a.image_type.line_drawing_type == 1


async def test_area_of_interest_surrounds_the_salient_object(client: VisionClient) -> None:
    """The area of interest of a lone box on white is close to the box."""
    r = await client.area_of_interest(picture(size=(300, 200), box=(180, 40, 260, 140)))
    aoi = r.area_of_interest
    assert aoi is not None
    assert abs(aoi.x - 180) <= 12 and abs(aoi.y - 40) <= 12
    assert abs(aoi.x + aoi.w - 260) <= 12 and abs(aoi.y + aoi.h - 140) <= 12


async def test_thumbnail_is_a_real_resized_image(client: VisionClient) -> None:
    """The thumbnail decodes at the asked size; smart cropping keeps the salient side."""
    source = picture(size=(400, 100), box=(330, 20, 390, 80), fill="blue")
    plain = Image.open(io.BytesIO(await client.generate_thumbnail(source, 60, 60)))
    smart = Image.open(io.BytesIO(await client.generate_thumbnail(source, 60, 60, smart_cropping=True)))
    assert plain.size == smart.size == (60, 60)

    def blue(im: Image.Image) -> int:
        raw = im.convert("RGB").tobytes()
        return sum(1 for r, b in zip(raw[0::3], raw[2::3], strict=True) if b > 150 and r < 100)

    assert blue(plain) == 0  # the centre crop misses the box at the right edge
    assert blue(smart) > 500  # smart cropping slides the window onto it


# -- scenarios -------------------------------------------------------------------------------


async def test_scenario_by_image_bytes(emulator: Emulator, client: VisionClient) -> None:
    """A scenario registered for an image's bytes answers that image, and only it."""
    cat = picture(fill="orange")
    emulator.register(
        cat,
        tags=[{"name": "cat", "confidence": 0.99}],
        objects=[{"rectangle": {"x": 1, "y": 2, "w": 30, "h": 40}, "object": "cat", "confidence": 0.9}],
    )
    assert [t.name for t in (await client.tag(cat)).tags] == ["cat"]
    detected = await client.detect(cat)
    assert detected.objects[0].object_ == "cat"
    assert "cat" not in [t.name for t in (await client.tag(picture(fill="green"))).tags]


async def test_scenario_by_url(emulator: Emulator, client: VisionClient) -> None:
    """A URL registered with its bytes is served without fetching anything."""
    emulator.register(
        "https://images.example/dog.png",
        data=picture(fill="brown"),
        description={"tags": ["dog"], "captions": [{"text": "a dog on a lawn", "confidence": 0.8}]},
    )
    d = await client.describe("https://images.example/dog.png")
    assert d.captions[0].text == "a dog on a lawn"
    assert d.metadata is not None and d.metadata.width == 200


async def test_domain_models(emulator: Emulator, client: VisionClient) -> None:
    """Domain model results come from scenarios; the model list is the service's."""
    face = picture()
    emulator.register(
        face,
        celebrities=[
            {"name": "Ada", "confidence": 0.97, "faceRectangle": {"left": 1, "top": 2, "width": 3, "height": 4}}
        ],
    )
    r = await client.analyze_by_domain("celebrities", face)
    assert r.celebrities[0].name == "Ada"
    assert [m.name for m in (await client.list_models()).models] == ["celebrities", "landmarks"]
    a = await client.analyze(face, features=["Categories"], details=["Celebrities"])
    assert a.categories[0].detail is not None and a.categories[0].detail.celebrities[0].name == "Ada"


# -- Read ------------------------------------------------------------------------------------


async def test_read_moves_through_its_states_on_the_emulator_clock() -> None:
    """notStarted, then running, then succeeded, as the emulator's clock moves."""
    clock = FakeClock()
    em = Emulator(clock=clock.clock, read_delays=(1.0, 2.0), ocr="off")
    async with VisionClient(
        "https://e.test", "k", transport=EmulatorTransport(em), clock=clock.clock, sleep=clock.sleep
    ) as c:
        op = await c.begin_read(picture())
        seen = [(await c.get_read_result(op)).status]
        clock.advance(1.5)
        seen.append((await c.get_read_result(op)).status)
        clock.advance(2.0)
        final = await c.get_read_result(op)
    assert seen == [OperationStatus.NOT_STARTED, OperationStatus.RUNNING]
    assert final.status is OperationStatus.SUCCEEDED
    assert final.analyze_result is not None
    page = final.analyze_result.read_results[0]
    assert (page.page, page.width, page.height, page.unit) == (1, 200, 120, "pixel")


async def test_read_to_completion_and_scenario_failure() -> None:
    """read() polls the emulator to the end; a scenario can make the operation fail."""
    clock = FakeClock()
    em = Emulator(clock=clock.clock, ocr="off")
    doomed = picture(fill="purple")
    em.register(doomed, read_status="failed")
    lines = [
        {
            "boundingBox": [0, 0, 10, 0, 10, 5, 0, 5],
            "text": "hi there",
            "words": [
                {"boundingBox": [0, 0, 4, 0, 4, 5, 0, 5], "text": "hi", "confidence": 0.9},
                {"boundingBox": [5, 0, 10, 0, 10, 5, 5, 5], "text": "there", "confidence": 0.8},
            ],
        }
    ]
    text_img = picture(fill="black")
    em.register(text_img, read=[{"page": 1, "angle": 0, "width": 200, "height": 120, "unit": "pixel", "lines": lines}])
    async with VisionClient(
        "https://e.test", "k", transport=EmulatorTransport(em), clock=clock.clock, sleep=clock.sleep
    ) as c:
        result = await c.read(text_img)
        with pytest.raises(ReadOperationFailedError):
            await c.read(doomed)
    assert result.text == "hi there"
    assert result.lines[0].words[1].confidence == 0.8


async def test_pdf_read_gives_an_inch_page(raw: httpx.AsyncClient) -> None:
    """A PDF is accepted by Read (and refused by analyze); its page is measured in inches."""
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
    r = await raw.post("/read/analyze", **octet(pdf))
    assert r.status_code == 202
    location = r.headers["Operation-Location"]
    assert location.startswith("https://emulator.test/vision/v3.2/read/analyzeResults/")
    assert (await raw.post("/analyze", **octet(pdf))).status_code == 400


async def test_an_emulator_bug_is_a_500_not_a_crash(emulator: Emulator, raw: httpx.AsyncClient) -> None:
    """An unexpected exception inside a route answers 500 InternalServerError with a request id."""

    async def broken(request: object, request_id: str) -> None:
        raise KeyError("bug")

    emulator._routes.models = broken  # type: ignore[method-assign]
    r = await raw.get("/models")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "InternalServerError"
    assert r.headers["apim-request-id"]
