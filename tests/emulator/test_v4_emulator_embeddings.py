"""The emulator's multimodal embeddings: both routes' validation and error shapes, fault injection,
and honest vectors (pixel colours, layout and shapes; colour, position and shape words) in one
L2-normalised space, so that a colour word ranks the images with most of that colour first."""

from __future__ import annotations

import io
import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw

from tests.helpers import SAMPLES, png_bytes
from vision_async import BadRequestError, InternalServerError, RateLimitError, RetryPolicy, VisionClient
from vision_async.emulator import Emulator, EmulatorTransport
from vision_async.testing import FakeClock
from vision_async.v4 import Embedding

pytestmark = pytest.mark.anyio

IMAGE_PATH = "/computervision/retrieval:vectorizeImage"
TEXT_PATH = "/computervision/retrieval:vectorizeText"
QUERY = {"api-version": "2024-02-01", "model-version": "2023-04-15"}
KEY = {"Ocp-Apim-Subscription-Key": "key"}
OCTET = {**KEY, "content-type": "application/octet-stream"}


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(ocr="off")


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=EmulatorTransport(emulator), base_url="http://emulator") as client:
        yield client


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[VisionClient]:
    """A client of the in-process emulator on a fake clock (a 429's cool-down never waits for real)."""
    fake = FakeClock()
    async with VisionClient(
        "http://emulator.invalid",
        "key",
        transport=EmulatorTransport(emulator),
        allow_insecure_http=True,
        retry=RetryPolicy(max_attempts=1),
        clock=fake.clock,
        sleep=fake.sleep,
    ) as c:
        yield c


def drawn(shape: str, colour: tuple[int, int, int], size: tuple[int, int] = (120, 120)) -> bytes:
    """A white image with one filled shape of ``colour`` in its middle."""
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    box = (size[0] // 4, size[1] // 4, 3 * size[0] // 4, 3 * size[1] // 4)
    if shape == "rectangle":
        d.rectangle(box, fill=colour)
    elif shape == "circle":
        d.ellipse(box, fill=colour)
    else:
        d.polygon([(box[0], box[3]), (box[2], box[3]), ((box[0] + box[2]) // 2, box[1])], fill=colour)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def error_of(response: httpx.Response) -> tuple[int, str, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["innererror"]["code"], response.headers["x-ms-error-code"]


async def test_image_and_text_answers_are_normalised_1024_vectors(http: httpx.AsyncClient) -> None:
    """Both routes answer {"modelVersion", "vector"}: 1024 numbers of L2 norm 1, the same for the same input."""
    for _ in range(2):
        image = await http.post(IMAGE_PATH, params=QUERY, content=png_bytes(), headers=OCTET)
        text = await http.post(TEXT_PATH, params=QUERY, json={"text": "a red square"}, headers=KEY)
        for response in (image, text):
            body = response.json()
            assert response.status_code == 200 and set(body) == {"modelVersion", "vector"}
            assert body["modelVersion"] == "2023-04-15" and len(body["vector"]) == 1024
            assert math.isclose(math.sqrt(sum(v * v for v in body["vector"])), 1.0, abs_tol=1e-6)
    again = await http.post(IMAGE_PATH, params=QUERY, content=png_bytes(), headers=OCTET)
    assert again.json() == image.json()


async def test_search_red_ranks_the_red_sample_first(client: VisionClient) -> None:
    """Over samples/, "red" ranks shapes.png (the only red one) first; "green", "blue sky" the landscape."""
    images = {p.name: await client.v4.vectorize_image(p) for p in sorted(SAMPLES.glob("*.[jp][pn]g"))}

    async def ranking(query: str) -> list[str]:
        q = await client.v4.vectorize_text(query)
        return sorted(images, key=lambda name: -images[name].cosine(q))

    assert (await ranking("red"))[0] == "shapes.png"
    assert (await ranking("a red bicycle by a wall"))[0] == "shapes.png"
    assert (await ranking("green"))[0] == "landscape.jpg"
    assert (await ranking("blue sky at the top"))[0] == "landscape.jpg"
    red = await client.v4.vectorize_text("red")
    assert images["shapes.png"].cosine(red) > 0.2 and images["sign.png"].cosine(red) == 0.0


async def test_layout_and_shape_words_count(client: VisionClient) -> None:
    """Position words prefer the image with the colour where they say; shape words the image of that shape."""
    left = Image.new("RGB", (90, 90), "white")
    left.paste((30, 60, 220), (0, 0, 30, 90))
    right = Image.new("RGB", (90, 90), "white")
    right.paste((30, 60, 220), (60, 0, 90, 90))
    encoded = []
    for img in (left, right):
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        encoded.append(await client.v4.vectorize_image(buf.getvalue()))
    query = await client.v4.vectorize_text("blue on the left")
    assert encoded[0].cosine(query) > encoded[1].cosine(query)
    shapes = {s: await client.v4.vectorize_image(drawn(s, (20, 160, 40))) for s in ("rectangle", "circle", "triangle")}
    for shape in shapes:
        q = await client.v4.vectorize_text(f"a green {shape}")
        assert max(shapes, key=lambda s: shapes[s].cosine(q)) == shape


async def test_unknown_words_change_no_ranking(client: VisionClient) -> None:
    """Words the emulator does not know lower every image's similarity alike: the order stays."""
    images = [await client.v4.vectorize_image(p) for p in sorted(SAMPLES.glob("*.[jp][pn]g"))]
    plain = await client.v4.vectorize_text("red")
    padded = await client.v4.vectorize_text("red bicycle leaning against an old wall")
    order = sorted(range(len(images)), key=lambda i: -images[i].cosine(plain))
    assert sorted(range(len(images)), key=lambda i: -images[i].cosine(padded)) == order
    nothing = await client.v4.vectorize_text("bicycle")
    assert all(image.cosine(nothing) == 0.0 for image in images)


async def test_model_versions_are_separate_spaces(client: VisionClient) -> None:
    """2022-04-11 and 2023-04-15 both work and give different vectors for the same input."""
    new = await client.v4.vectorize_text("red")
    old = await client.v4.vectorize_text("red", model_version="2022-04-11")
    assert (new.model_version, old.model_version) == ("2023-04-15", "2022-04-11")
    assert new.vector != old.vector
    shapes = await client.v4.vectorize_image(SAMPLES / "shapes.png", model_version="2022-04-11")
    assert shapes.cosine(old) == pytest.approx((await client.v4.vectorize_image(SAMPLES / "shapes.png")).cosine(new))


async def test_unsupported_model_version_is_a_bad_request(client: VisionClient) -> None:
    """A model version the service does not have: 400 InvalidRequest / InvalidModelVersion, with x-ms-error-code."""
    with pytest.raises(BadRequestError) as info:
        await client.v4.vectorize_text("red", model_version="2024-01-01")
    assert (info.value.code, info.value.inner_code) == ("InvalidRequest", "InvalidModelVersion")
    assert "2023-04-15, 2022-04-11" in info.value.message


async def test_unknown_api_version_is_the_gateways_404(http: httpx.AsyncClient) -> None:
    """A missing or unknown api-version is a 404 from the gateway, as analyze's; the previews are known."""
    for params in ({"model-version": "2023-04-15"}, {"api-version": "2023-10-01"}):
        response = await http.post(TEXT_PATH, params=params, json={"text": "red"}, headers=KEY)
        assert response.status_code == 404 and response.json()["error"]["code"] == "404"
    preview = await http.post(TEXT_PATH, params={"api-version": "2023-02-01-preview"}, json={"text": "x"}, headers=KEY)
    assert preview.status_code == 200 and preview.json()["modelVersion"] == "2023-04-15"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "missing or empty"),
        ({"text": "   "}, "missing or empty"),
        ({"text": 7}, "missing or empty"),
        ({"text": " ".join(["w"] * 71)}, "71 words"),
    ],
)
async def test_bad_text_is_a_400(http: httpx.AsyncClient, body: dict[str, object], message: str) -> None:
    """Missing, empty or too long text: 400 InvalidRequest / InvalidArgument, x-ms-error-code InvalidRequest."""
    response = await http.post(TEXT_PATH, params=QUERY, json=body, headers=KEY)
    assert error_of(response) == (400, "InvalidRequest", "InvalidArgument", "InvalidRequest")
    assert message in response.json()["error"]["innererror"]["message"]


async def test_text_must_be_json(http: httpx.AsyncClient) -> None:
    """vectorizeText takes JSON only: another content type is a 415."""
    response = await http.post(TEXT_PATH, params=QUERY, content=b"red", headers={**KEY, "content-type": "text/plain"})
    assert response.status_code == 415


async def test_bad_images_are_400s(http: httpx.AsyncClient) -> None:
    """Too large (20 MB), too small (under 10 x 10), not an image: 400 with the 4.0 shape and x-ms-error-code."""
    cases = [
        (png_bytes() + b"\x00" * (20 * 1024 * 1024), "InvalidImageSize"),
        (png_bytes(9, 40), "InvalidImageDimension"),
        (b"%PDF-1.7 not an image", "InvalidImageFormat"),
        (b"\x89PNG\r\n\x1a\n broken", "InvalidImageFormat"),
    ]
    for content, inner in cases:
        response = await http.post(IMAGE_PATH, params=QUERY, content=content, headers=OCTET)
        assert error_of(response) == (400, "InvalidRequest", inner, "InvalidRequest"), inner
    ok = await http.post(IMAGE_PATH, params=QUERY, content=png_bytes(10, 10), headers=OCTET)
    assert ok.status_code == 200


async def test_image_url_is_fetched_from_registered_urls(emulator: Emulator, client: VisionClient) -> None:
    """A JSON {"url"} body is answered for a URL the emulator hosts, with the same vector as the bytes."""
    emulator.add_url("https://img.example/shapes.png", (SAMPLES / "shapes.png").read_bytes())
    by_url = await client.v4.vectorize_image("https://img.example/shapes.png")
    by_bytes = await client.v4.vectorize_image((SAMPLES / "shapes.png").read_bytes())
    assert by_url.vector == by_bytes.vector


async def test_fault_injection_applies_to_both_routes(emulator: Emulator, client: VisionClient) -> None:
    """Faults set on v4_vectorize_text or v4_vectorize_image answer there (429 with Retry-After) and are counted."""
    emulator.set_faults("v4_vectorize_text", p429=1.0)
    with pytest.raises(RateLimitError):
        await client.v4.vectorize_text("red")
    assert isinstance(await client.v4.vectorize_image(png_bytes()), Embedding)
    emulator.set_faults("v4_vectorize_image", p500=1.0)
    with pytest.raises(InternalServerError):
        await client.v4.vectorize_image(png_bytes())
    assert emulator.stats.answered[("v4_vectorize_text", 429)] == 1
    assert emulator.stats.answered[("v4_vectorize_image", 500)] == 1


async def test_over_a_real_socket_with_the_default_pool(vision_emulator_server: Any) -> None:
    """Served by uvicorn on 127.0.0.1, both operations work through the client's own pool, URL and bytes alike."""
    url = f"{vision_emulator_server.url}/images/shapes.png"
    vision_emulator_server.emulator.add_url(url, (SAMPLES / "shapes.png").read_bytes())
    async with VisionClient(vision_emulator_server.url, "key", allow_insecure_http=True) as client:
        by_url = await client.v4.vectorize_image(url)
        by_path = await client.v4.vectorize_image(SAMPLES / "shapes.png")
        red = await client.v4.vectorize_text("red")
    assert by_url.vector == by_path.vector and by_path.cosine(red) > 0.2
    assert by_path.resource == vision_emulator_server.url
