"""client.v4.vectorize_image / vectorize_text: the requests on the wire (path, query, bodies), the
Embedding they parse to, local validation before anything is sent, errors, the shared pipeline,
cosine similarity and batches."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx
from PIL import Image

from tests.helpers import ENDPOINT, KEY, png_bytes
from vision_async import (
    BadRequestError,
    ClientClosedError,
    ImageLimits,
    InvalidInputError,
    RateLimitError,
    Resource,
    ResponseValidationError,
    RetryPolicy,
    VisionClient,
)
from vision_async.testing import FakeClock, ScriptedTransport, json_response
from vision_async.v4 import Embedding

pytestmark = pytest.mark.anyio

MakeClient = Callable[..., VisionClient]
VECTOR = [0.0123, -0.0456, 0.5, 1, -2.25e-3] + [0.001] * 1019
ANSWER = {"modelVersion": "2023-04-15", "vector": VECTOR}
IMAGE_URL = ENDPOINT + "/computervision/retrieval:vectorizeImage"
TEXT_URL = ENDPOINT + "/computervision/retrieval:vectorizeText"
RETRIEVAL_ERROR = {
    "error": {
        "code": "InvalidRequest",
        "message": "The provided image is too small.",
        "innererror": {"code": "InvalidImageSize", "message": "Image must be at least 10 x 10 pixels."},
    }
}


def _url(sent: Any) -> str:
    return f"{sent.url.scheme}://{sent.url.host}{sent.url.path}"


def _image(fmt: str, size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format=fmt)
    return buf.getvalue()


async def test_image_bytes_on_the_wire(make_client: MakeClient) -> None:
    """Image bytes: POST .../retrieval:vectorizeImage?api-version=2024-02-01&model-version=2023-04-15, octet-stream."""
    transport = ScriptedTransport(json_response(200, ANSWER))
    async with make_client(transport) as client:
        result = await client.v4.vectorize_image(png_bytes())
    (sent,) = transport.requests
    assert sent.method == "POST" and _url(sent) == IMAGE_URL
    assert sent.url.query == b"api-version=2024-02-01&model-version=2023-04-15"
    assert sent.headers["content-type"] == "application/octet-stream" and sent.content == png_bytes()
    assert sent.headers["ocp-apim-subscription-key"] == KEY
    assert isinstance(result, Embedding) and result.vector[:4] == (0.0123, -0.0456, 0.5, 1.0)
    assert all(type(v) is float for v in result.vector) and len(result.vector) == 1024
    assert result.model_version == "2023-04-15" and result.request_id == "req-test"
    assert result.resource == ENDPOINT and result.raw["vector"] == VECTOR


async def test_image_url_is_a_json_body(make_client: MakeClient) -> None:
    """An http(s) URL goes as {"url": ...} with a JSON content type."""
    transport = ScriptedTransport(json_response(200, ANSWER))
    async with make_client(transport) as client:
        await client.v4.vectorize_image("https://img.example/a.jpg")
    (sent,) = transport.requests
    assert _url(sent) == IMAGE_URL and sent.json() == {"url": "https://img.example/a.jpg"}
    assert sent.headers["content-type"] == "application/json"


async def test_text_on_the_wire(make_client: MakeClient) -> None:
    """Text: POST .../retrieval:vectorizeText with the same query and a JSON {"text"} body (UTF-8)."""
    transport = ScriptedTransport(json_response(200, ANSWER))
    async with make_client(transport) as client:
        result = await client.v4.vectorize_text("un vélo rouge contre un mur")
    (sent,) = transport.requests
    assert sent.method == "POST" and _url(sent) == TEXT_URL
    assert dict(sent.params) == {"api-version": "2024-02-01", "model-version": "2023-04-15"}
    assert sent.headers["content-type"] == "application/json"
    assert sent.json() == {"text": "un vélo rouge contre un mur"}
    assert result.vector[2] == 0.5


@pytest.mark.parametrize("model", ["2022-04-11", "2099-01-01-preview", "my model"])
async def test_model_version_is_sent_as_given(make_client: MakeClient, model: str) -> None:
    """model_version: 2022-04-11 and any other non-empty value go to the service as they are."""
    transport = ScriptedTransport(json_response(200, {"modelVersion": model, "vector": [1.0]}))
    async with make_client(transport) as client:
        image = await client.v4.vectorize_image(png_bytes(), model_version=model)
        text = await client.v4.vectorize_text("red", model_version=model)
    assert [r.params["model-version"] for r in transport.requests] == [model, model]
    assert image.model_version == text.model_version == model


@pytest.mark.parametrize("model", ["", "   ", None, 20230415])
async def test_empty_model_version_sends_nothing(make_client: MakeClient, model: Any) -> None:
    """An empty (or non-string) model_version is an InvalidInputError before any request."""
    transport = ScriptedTransport(json_response(200, ANSWER))
    async with make_client(transport) as client:
        with pytest.raises(InvalidInputError, match="model_version"):
            await client.v4.vectorize_image(png_bytes(), model_version=model)
        with pytest.raises(InvalidInputError, match="model_version"):
            await client.v4.vectorize_text("red", model_version=model)
    assert transport.count == 0


async def test_answer_without_model_version_gets_the_one_asked_for(make_client: MakeClient) -> None:
    """An answer naming no modelVersion is taken as the model version that was asked for."""
    transport = ScriptedTransport(json_response(200, {"vector": [0.5, 0.5]}))
    async with make_client(transport) as client:
        result = await client.v4.vectorize_text("red", model_version="2022-04-11")
    assert result.model_version == "2022-04-11"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"modelVersion": "2023-04-15"}, r"\$\.vector .*missing"),
        ({"modelVersion": "2023-04-15", "vector": []}, r"\$\.vector .*empty"),
        ({"modelVersion": "2023-04-15", "vector": "0.1,0.2"}, r"\$\.vector .*str"),
        ({"vector": [0.1, "0.2"]}, r"\$\.vector\[1\] should be a number"),
        ({"vector": [0.1, True]}, r"\$\.vector\[1\] should be a number"),
        ({"vector": [None]}, r"\$\.vector\[0\] should be a number"),
        ({"vector": [0.1, float("nan")]}, r"\$\.vector\[1\] should be a finite number"),
    ],
)
async def test_bad_vector_is_a_validation_error(make_client: MakeClient, body: Any, message: str) -> None:
    """A 200 whose vector is missing, empty or not all finite numbers: ResponseValidationError with the request id."""
    async with make_client(ScriptedTransport(json_response(200, body))) as client:
        with pytest.raises(ResponseValidationError, match=message) as info:
            await client.v4.vectorize_image(png_bytes())
    assert info.value.request_id == "req-test"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("  \n\t ", "empty"),
        (" ".join(["word"] * 71), "71 words"),
        (b"red", "must be a str"),
        (None, "must be a str"),
    ],
)
async def test_bad_text_sends_nothing(make_client: MakeClient, text: Any, message: str) -> None:
    """Text that is empty, over 70 words or not a str is an InvalidInputError before any request."""
    transport = ScriptedTransport(json_response(200, ANSWER))
    async with make_client(transport) as client:
        with pytest.raises(InvalidInputError, match=message):
            await client.v4.vectorize_text(text)
    assert transport.count == 0


async def test_seventy_words_are_sent(make_client: MakeClient) -> None:
    """70 words is within the limit."""
    transport = ScriptedTransport(json_response(200, ANSWER))
    async with make_client(transport) as client:
        await client.v4.vectorize_text(" ".join(["word"] * 70))
    assert transport.count == 1


async def test_image_checks_are_the_retrieval_limits(make_client: MakeClient) -> None:
    """Images: 4.0's formats (WEBP, TIFF, not PDF), 10 x 10 to 16000 x 16000 pixels, under the byte limit."""
    transport = ScriptedTransport(json_response(200, ANSWER))
    async with make_client(transport, limits=ImageLimits(max_retrieval_image_bytes=5000)) as client:
        for good in (
            _image("PNG", (10, 10)),
            _image("WEBP", (12, 40)),
            _image("TIFF", (20, 20)),
            _image("GIF", (30, 11)),
        ):
            await client.v4.vectorize_image(good)
        with pytest.raises(InvalidInputError):
            await client.v4.analyze(_image("PNG", (10, 10)), features="tags")  # analyze needs more than 50 x 50
        for bad, message in (
            (b"%PDF-1.7 ...", r"not JPEG, PNG, GIF, BMP, WEBP, ICO or TIFF \(it is PDF\)"),
            (b"plain text, not an image", "unrecognized file header"),
            (_image("PNG", (9, 300)), "9x300 pixels; multimodal embeddings take 10x10 to 16000x16000"),
            (_image("PNG", (16001, 10)), "16001x10 pixels"),
            (png_bytes(20, 20) + b"\x00" * 5000, "less than 5000 bytes"),
        ):
            with pytest.raises(InvalidInputError, match=message):
                await client.v4.vectorize_image(bad)
    assert transport.count == 4


async def test_default_byte_limit_is_20_mb(make_client: MakeClient) -> None:
    """By default an image of 5 MB is sent (3.2 would refuse it) and one of 20 MiB is not."""
    transport = ScriptedTransport(json_response(200, ANSWER))
    async with make_client(transport) as client:
        await client.v4.vectorize_image(png_bytes() + b"\x00" * (5 * 1024 * 1024))
        with pytest.raises(InvalidInputError, match="less than"):
            await client.v4.vectorize_image(png_bytes() + b"\x00" * (20 * 1024 * 1024))
    assert transport.count == 1
    assert ImageLimits().max_retrieval_image_bytes == 20 * 1024 * 1024


async def test_error_answer_maps_to_the_vision_error_tree(make_client: MakeClient) -> None:
    """A 400 ErrorResponse is a BadRequestError with its outer and inner codes, message and request id."""
    response = json_response(
        400, RETRIEVAL_ERROR, headers={"x-ms-error-code": "InvalidRequest", "apim-request-id": "r-7"}
    )
    async with make_client(ScriptedTransport(response)) as client:
        with pytest.raises(BadRequestError) as info:
            await client.v4.vectorize_image(png_bytes())
    error = info.value
    assert (error.status_code, error.code, error.inner_code) == (400, "InvalidRequest", "InvalidImageSize")
    assert error.request_id == "r-7" and "too small" in error.message


async def test_error_code_from_the_header_when_the_body_names_none(make_client: MakeClient) -> None:
    """An error body without a code takes its code from x-ms-error-code."""
    response = json_response(400, {"error": {"message": "no"}}, headers={"x-ms-error-code": "InvalidRequest"})
    async with make_client(ScriptedTransport(response)) as client:
        with pytest.raises(BadRequestError) as info:
            await client.v4.vectorize_text("red")
    assert info.value.code == "InvalidRequest"


async def test_same_pipeline_retries_429_and_counts(make_client: MakeClient, fake_clock: FakeClock) -> None:
    """Both operations go through the client's retries (Retry-After waited out) and its statistics."""
    throttled = json_response(
        429, {"error": {"code": "429", "message": "Rate limit is exceeded."}}, headers={"Retry-After": "3"}
    )
    transport = ScriptedTransport(throttled, json_response(200, ANSWER), throttled, json_response(200, ANSWER))
    async with make_client(transport) as client:
        await client.v4.vectorize_image(png_bytes())
        await client.v4.vectorize_text("red")
        stats = client.stats()
    assert transport.count == 4 and fake_clock.sleeps.count(3.0) == 2
    assert (stats.requests, stats.successes, stats.throttled, stats.retries) == (4, 2, 2, 2)


async def test_429_after_retries_is_a_rate_limit_error(make_client: MakeClient) -> None:
    """When the retries run out, the 429 is a RateLimitError."""
    throttled = json_response(429, {"error": {"code": "429", "message": "Rate limit is exceeded."}})
    async with make_client(ScriptedTransport(throttled), retry=RetryPolicy(max_attempts=2)) as client:
        with pytest.raises(RateLimitError):
            await client.v4.vectorize_text("red")


async def test_several_resources_say_which_answered(fake_clock: FakeClock) -> None:
    """With several resources, each Embedding names the resource that made it."""
    a, b = "https://a.cognitiveservices.azure.com", "https://b.cognitiveservices.azure.com"
    transport = ScriptedTransport(json_response(200, ANSWER))
    client = VisionClient(
        resources=[Resource(a, "ka"), Resource(b, "kb")],
        transport=transport,
        clock=fake_clock.clock,
        sleep=fake_clock.sleep,
    )
    async with client:
        results = [await client.v4.vectorize_text("red") for _ in range(4)]
    assert {r.resource for r in results} <= {a, b}
    assert {r.resource for r in results} == {f"{s.url.scheme}://{s.url.host}" for s in transport.requests}


async def test_closed_client_refuses(make_client: MakeClient) -> None:
    """A closed client's vectorize calls raise ClientClosedError and send nothing."""
    transport = ScriptedTransport(json_response(200, ANSWER))
    client = make_client(transport)
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await client.v4.vectorize_image(png_bytes())
    with pytest.raises(ClientClosedError):
        await client.v4.vectorize_text("red")
    assert transport.count == 0


async def test_respx_sees_the_same_requests(fake_clock: FakeClock) -> None:
    """Under respx (the default pool mocked): the paths, the query and the three kinds of body."""
    with respx.mock(base_url=ENDPOINT, assert_all_called=True) as router:
        query = {"api-version": "2024-02-01", "model-version": "2022-04-11"}
        image_route = router.post("/computervision/retrieval:vectorizeImage", params=query).mock(
            return_value=httpx.Response(200, json={"modelVersion": "2022-04-11", "vector": [0.6, 0.8]})
        )
        text_route = router.post("/computervision/retrieval:vectorizeText", params=query).mock(
            return_value=httpx.Response(200, json={"modelVersion": "2022-04-11", "vector": [0.8, 0.6]})
        )
        async with VisionClient(ENDPOINT, KEY, clock=fake_clock.clock, sleep=fake_clock.sleep) as client:
            by_url = await client.v4.vectorize_image("https://img.example/r.png", model_version="2022-04-11")
            by_bytes = await client.v4.vectorize_image(png_bytes(), model_version="2022-04-11")
            text = await client.v4.vectorize_text("red", model_version="2022-04-11")
    first, second = (call.request for call in image_route.calls)
    assert (
        first.headers["content-type"] == "application/json" and first.content == b'{"url": "https://img.example/r.png"}'
    )
    assert second.headers["content-type"] == "application/octet-stream" and second.content == png_bytes()
    assert text_route.calls.last.request.content == b'{"text": "red"}'
    assert by_url.cosine(text) == pytest.approx(0.96) and by_bytes.vector == (0.6, 0.8)


# -- Embedding ------------------------------------------------------------------------------


def test_cosine_of_embeddings() -> None:
    """cosine: 1 for the same direction, -1 opposite, 0 orthogonal or zero; clamped to [-1, 1]."""
    a = Embedding((3.0, 4.0), "2023-04-15")
    assert a.cosine(Embedding((6.0, 8.0), "2023-04-15")) == 1.0
    assert a.cosine(Embedding((-3.0, -4.0), "2023-04-15")) == -1.0
    assert a.cosine(Embedding((-4.0, 3.0), "2023-04-15")) == 0.0
    assert a.cosine(Embedding((0.0, 0.0), "2023-04-15")) == 0.0
    assert math.isclose(a.cosine(Embedding((1.0, 0.0), "2023-04-15")), 0.6)


def test_cosine_refuses_vectors_that_are_not_comparable() -> None:
    """Vectors of different model versions or lengths are not compared: InvalidInputError."""
    a = Embedding((1.0, 0.0), "2023-04-15")
    with pytest.raises(InvalidInputError, match="model versions '2023-04-15' and '2022-04-11'"):
        a.cosine(Embedding((1.0, 0.0), "2022-04-11"))
    with pytest.raises(InvalidInputError, match="2 and 3 dimensions"):
        a.cosine(Embedding((1.0, 0.0, 0.0), "2023-04-15"))
    with pytest.raises(InvalidInputError, match="another Embedding"):
        a.cosine((1.0, 0.0))  # type: ignore[arg-type]


def test_embedding_repr_is_short() -> None:
    """An Embedding's repr names its model version and size, not 1024 numbers."""
    e = Embedding.from_json(ANSWER, request_id="r-1")
    assert repr(e) == "Embedding(model_version='2023-04-15', dimensions=1024, request_id='r-1')"


# -- batches --------------------------------------------------------------------------------


async def test_batch_of_texts_and_images(make_client: MakeClient) -> None:
    """client.batch runs v4.vectorize_text over strings and (key, text) pairs, and v4.vectorize_image over images;
    a bad text is that item's error."""
    transport = ScriptedTransport(json_response(200, ANSWER))
    async with make_client(transport) as client:
        async with client.batch(["red", ("q2", "a blue circle"), ("empty", " ")], "v4.vectorize_text") as outcomes:
            texts = {item.key: item async for item in outcomes}
        async with client.batch(
            [png_bytes(), ("k", png_bytes())], "v4.vectorize_image", model_version="2022-04-11"
        ) as outcomes:
            images = [item async for item in outcomes]
    assert texts["red"].ok and texts["q2"].ok and isinstance(texts["q2"].result, Embedding)
    assert isinstance(texts["empty"].error, InvalidInputError)
    assert sorted(str(i.key) for i in images) == ["None", "k"] and all(i.ok for i in images)
    sent_texts = [r.json()["text"] for r in transport.requests if r.url.path.endswith("vectorizeText")]
    assert sorted(sent_texts) == ["a blue circle", "red"]
    assert {r.params["model-version"] for r in transport.requests if r.url.path.endswith("vectorizeImage")} == {
        "2022-04-11"
    }


async def test_batch_options_are_checked_once(make_client: MakeClient) -> None:
    """A bad option of a vectorize batch (unknown name, empty model_version) raises at once, before any input."""
    transport = ScriptedTransport(json_response(200, ANSWER))
    async with make_client(transport) as client:
        with pytest.raises(InvalidInputError, match="unknown option"):
            client.batch(["red"], "v4.vectorize_text", features=["tags"])
        with pytest.raises(InvalidInputError, match="model_version"):
            client.batch(["red"], "v4.vectorize_image", model_version="")
        with pytest.raises(InvalidInputError, match=r"v4\.vectorize_image"):
            client.batch(["red"], "v4.vectorise_text")
    assert transport.count == 0
