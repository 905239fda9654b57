"""VisionClient: configuration, lifecycle, image inputs, local validation and the wire format."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ENDPOINT, KEY, fixture_body, png_bytes
from vision_async import (
    ClientClosedError,
    ConfigurationError,
    Detail,
    InvalidInputError,
    VisionClient,
    VisualFeature,
)
from vision_async.testing import ScriptedTransport, json_response

pytestmark = pytest.mark.anyio

URL = "https://example.com/cat.jpg"


def ok(name: str = "tag_image") -> ScriptedTransport:
    return ScriptedTransport(json_response(200, fixture_body(name)))


# -- configuration -------------------------------------------------------------------------


async def test_endpoint_and_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """VISION_ENDPOINT and VISION_KEY are used when no arguments are given."""
    monkeypatch.setenv("VISION_ENDPOINT", "https://env.cognitiveservices.azure.com/")
    monkeypatch.setenv("VISION_KEY", "env-key")
    transport = ok()
    async with VisionClient(transport=transport) as client:
        assert client.endpoint == "https://env.cognitiveservices.azure.com"
        await client.tag(URL)
    assert str(transport.requests[0].url).startswith("https://env.cognitiveservices.azure.com/vision/v3.2/tag?")
    assert transport.requests[0].headers["ocp-apim-subscription-key"] == "env-key"


def test_missing_endpoint_or_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No endpoint or no key raises ConfigurationError naming the environment variable."""
    monkeypatch.delenv("VISION_ENDPOINT", raising=False)
    monkeypatch.delenv("VISION_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="VISION_ENDPOINT"):
        VisionClient()
    with pytest.raises(ConfigurationError, match="VISION_KEY"):
        VisionClient(ENDPOINT)


@pytest.mark.parametrize(
    ("endpoint", "allowed"),
    [
        ("https://x.cognitiveservices.azure.com", True),
        ("http://127.0.0.1:5000", True),
        ("http://localhost:8080/", True),
        ("http://[::1]:9000", True),
        ("http://x.cognitiveservices.azure.com", False),
        ("ftp://x.example.com", False),
        ("x.cognitiveservices.azure.com", False),
    ],
)
@pytest.mark.anyio
async def test_endpoint_must_be_https_unless_loopback(endpoint: str, allowed: bool) -> None:
    """Plain http is refused except on loopback (requests then go to that endpoint); other schemes are refused."""
    transport = ok()
    if not allowed:
        with pytest.raises(ConfigurationError):
            VisionClient(endpoint, "k", transport=transport)
        assert transport.count == 0
        return
    async with VisionClient(endpoint, "k", transport=transport, retry=None) as client:
        await client.tag(URL)
    sent = transport.requests[0].url
    assert str(sent).startswith(endpoint.rstrip("/") + "/vision/v3.2/tag")


async def test_insecure_http_needs_an_explicit_opt_in() -> None:
    """allow_insecure_http=True permits a non-loopback http endpoint."""
    transport = ok()
    async with VisionClient("http://vision.internal", "k", transport=transport, allow_insecure_http=True) as client:
        await client.tag(URL)
    assert str(transport.requests[0].url).startswith("http://vision.internal/vision/v3.2/tag?")


async def test_endpoint_with_api_path_is_not_doubled() -> None:
    """An endpoint that already ends with /vision/v3.2 is used as is."""
    transport = ok()
    async with VisionClient("https://x.example.com/vision/v3.2/", "k", transport=transport) as client:
        await client.tag(URL)
    assert str(transport.requests[0].url).startswith("https://x.example.com/vision/v3.2/tag?")


def test_repr_hides_the_key() -> None:
    """The client's repr (and its surfaces' and statistics') show the endpoint and never the key."""
    client = VisionClient(ENDPOINT, KEY, transport=ok())
    assert KEY not in repr(client) and ENDPOINT in repr(client)
    assert KEY not in repr(client.v4) and KEY not in repr(client.stats())


async def test_closed_client_is_a_clear_error(make_client: Callable[..., VisionClient]) -> None:
    """Any call after aclose raises ClientClosedError and sends nothing."""
    transport = ok()
    client = make_client(transport)
    await client.aclose()
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await client.tag(URL)
    with pytest.raises(ClientClosedError):
        async with client:
            pass
    assert transport.count == 0


# -- image inputs --------------------------------------------------------------------------


async def test_url_image_is_sent_as_json(make_client: Callable[..., VisionClient]) -> None:
    """A URL goes as {"url": ...} with Content-Type application/json, key in its header."""
    transport = ok()
    async with make_client(transport) as client:
        await client.tag(URL)
    (req,) = transport.requests
    assert req.json() == {"url": URL}
    assert req.headers["content-type"] == "application/json"
    assert req.headers["ocp-apim-subscription-key"] == KEY
    assert req.url.path == "/vision/v3.2/tag"


@pytest.mark.parametrize(
    "wrap", [bytes, bytearray, memoryview, io.BytesIO], ids=["bytes", "bytearray", "memoryview", "file"]
)
async def test_binary_images_are_sent_as_octet_stream(
    make_client: Callable[..., VisionClient], wrap: Callable[[bytes], object]
) -> None:
    """bytes, bytearray, memoryview and binary files go as application/octet-stream."""
    data = png_bytes(60, 60)
    transport = ok()
    async with make_client(transport) as client:
        await client.tag(wrap(data))
    (req,) = transport.requests
    assert req.content == data
    assert req.headers["content-type"] == "application/octet-stream"


async def test_path_image_is_read(make_client: Callable[..., VisionClient], tmp_path: Path) -> None:
    """A pathlib.Path is read and sent as bytes."""
    data = png_bytes(70, 70)
    path = tmp_path / "img.png"
    path.write_bytes(data)
    transport = ok()
    async with make_client(transport) as client:
        await client.tag(path)
    assert transport.requests[0].content == data


async def test_async_file_object_is_read(make_client: Callable[..., VisionClient]) -> None:
    """An object whose read() is a coroutine (an async file) is awaited."""
    data = png_bytes(70, 70)

    @dataclass
    class AsyncFile:
        payload: bytes

        async def read(self, n: int = -1) -> bytes:
            return self.payload

    transport = ok()
    async with make_client(transport) as client:
        await client.tag(AsyncFile(data))
    assert transport.requests[0].content == data


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("cat.jpg", "http\\(s\\) URL"),
        ("ftp://example.com/a.jpg", "http\\(s\\) URL"),
        (b"", "empty"),
        (b"GIF89a" + b"\x00" * 4, "larger than 50x50"),
        (b"not an image at all", "unrecognized file header"),
        (12345, "unsupported image type"),
        (io.StringIO("text"), "text mode"),
        (io.BytesIO(b"closed"), "cannot read the image file object"),
    ],
)
async def test_bad_images_fail_before_any_request(
    make_client: Callable[..., VisionClient], image: object, message: str
) -> None:
    """Bad image inputs raise InvalidInputError and send nothing."""
    if isinstance(image, io.BytesIO):
        image.close()
    transport = ok()
    async with make_client(transport) as client:
        with pytest.raises(InvalidInputError, match=message):
            await client.tag(image)  # type: ignore[arg-type]
    assert transport.count == 0


async def test_oversized_and_tiny_images_are_refused(make_client: Callable[..., VisionClient], tmp_path: Path) -> None:
    """4 MB or more, or 50x50 or smaller, is refused locally."""
    transport = ok()
    big = tmp_path / "big.bmp"
    big.write_bytes(b"BM" + b"\x00" * (4 * 1024 * 1024))
    async with make_client(transport) as client:
        with pytest.raises(InvalidInputError, match="less than 4194304 bytes"):
            await client.tag(big)
        with pytest.raises(InvalidInputError, match="less than"):
            await client.tag(b"BM" + b"\x00" * (4 * 1024 * 1024))
        with pytest.raises(InvalidInputError, match="50x50"):
            await client.tag(png_bytes(50, 200))
        with pytest.raises(InvalidInputError, match="cannot read"):
            await client.tag(tmp_path / "missing.png")
    assert transport.count == 0


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP"])
async def test_each_image_format_is_sniffed(make_client: Callable[..., VisionClient], fmt: str) -> None:
    """JPEG, PNG, GIF and BMP are recognized, and their size read from the header."""
    from vision_async._core.images import image_size, sniff_format

    data = png_bytes(123, 77, fmt=fmt)
    assert sniff_format(data) == fmt
    assert image_size(data, fmt) == (123, 77)


# -- features, languages, wire parameters --------------------------------------------------


async def test_analyze_sends_the_query_the_spec_names(make_client: Callable[..., VisionClient]) -> None:
    """Features, details, language, exclusions and model version go out as the spec spells them."""
    transport = ok("analyze_image_with_url")
    async with make_client(transport) as client:
        result = await client.analyze(
            URL,
            features=[VisualFeature.TAGS, "description", "OBJECTS", "Tags"],
            details=[Detail.LANDMARKS, "celebrities"],
            description_exclude=["Landmarks"],
            model_version="2021-04-01",
        )
    params = transport.requests[0].params
    assert params["visualFeatures"] == "Tags,Description,Objects"
    assert params["details"] == "Landmarks,Celebrities"
    assert params["descriptionExclude"] == "Landmarks"
    assert params["language"] == "en"
    assert params["model-version"] == "2021-04-01"
    assert result.request_id == "0dbec5ad-a3d3-4f7e-96b4-dfd57efe967d"


async def test_unknown_feature_lists_the_valid_ones(make_client: Callable[..., VisionClient]) -> None:
    """An unknown feature fails locally, naming every valid value."""
    transport = ok()
    async with make_client(transport) as client:
        with pytest.raises(InvalidInputError) as info:
            await client.analyze(URL, features=["Tags", "Smell"])
        with pytest.raises(InvalidInputError, match="Celebrities, Landmarks"):
            await client.analyze(URL, details=["Cars"])
        with pytest.raises(InvalidInputError, match="description_exclude"):
            await client.describe(URL, description_exclude=["Faces"])
    assert "'Smell'" in str(info.value)
    for feature in VisualFeature:
        assert feature.value in str(info.value)
    assert transport.count == 0


async def test_languages_are_checked_per_operation(make_client: Callable[..., VisionClient]) -> None:
    """language must be in the operation's enum; case is forgiven; Objects and Brands are English-only."""
    transport = ok()
    async with make_client(transport) as client:
        with pytest.raises(InvalidInputError, match="language for tag"):
            await client.tag(URL, language="xx")
        with pytest.raises(InvalidInputError, match="only available in English"):
            await client.analyze(URL, features=["Objects", "Tags"], language="es")
        with pytest.raises(InvalidInputError, match="Brands, Objects are only"):
            await client.analyze(URL, features=["Brands", "Objects"], language="ja")
        with pytest.raises(InvalidInputError, match="model_version"):
            await client.tag(URL, model_version="newest")
        assert transport.count == 0
        await client.tag(URL, language="PT-br")
    assert transport.requests[0].params["language"] == "pt-BR"


async def test_describe_max_candidates(make_client: Callable[..., VisionClient]) -> None:
    """max_candidates goes out as maxCandidates; below 1 fails locally."""
    transport = ok("describe_image")
    async with make_client(transport) as client:
        with pytest.raises(InvalidInputError, match="max_candidates"):
            await client.describe(URL, max_candidates=0)
        d = await client.describe(URL, max_candidates=3, language="es")
    assert transport.requests[0].params["maxCandidates"] == "3"
    assert transport.requests[0].params["language"] == "es"
    assert d.captions[0].text == "Satya Nadella sitting on a bench"


async def test_truncated_or_non_json_200_is_a_validation_error(make_client: Callable[..., VisionClient]) -> None:
    """A 200 whose body is truncated or not JSON raises ResponseValidationError with the request id."""
    import httpx

    from vision_async import ResponseValidationError

    truncated = httpx.Response(200, headers={"apim-request-id": "rid-1"}, content=b'{"tags": [{"name": "gr')
    html = httpx.Response(200, headers={"apim-request-id": "rid-2"}, content=b"<html>hello</html>")
    array = httpx.Response(200, headers={"apim-request-id": "rid-3"}, content=b"[1, 2]")
    transport = ScriptedTransport(truncated, html, array)
    async with make_client(transport) as client:
        for rid in ("rid-1", "rid-2", "rid-3"):
            with pytest.raises(ResponseValidationError) as info:
                await client.tag(URL)
            assert info.value.request_id == rid
    assert transport.count == 3  # never retried


async def test_bearer_token_credential_is_sent_and_refreshed(make_client: Callable[..., VisionClient]) -> None:
    """A credential's token goes as Authorization: Bearer, refreshed shortly before expiry."""
    import time

    @dataclass
    class Token:
        token: str
        expires_on: int

    class Credential:
        def __init__(self) -> None:
            self.calls: list[tuple[str, ...]] = []

        async def get_token(self, *scopes: str) -> Token:
            self.calls.append(scopes)
            # the first token is about to expire (inside the refresh margin), the second is good
            expiry = int(time.time()) + (60 if len(self.calls) == 1 else 3600)
            return Token(f"tok-{len(self.calls)}", expiry)

    credential = Credential()
    transport = ok()
    client = VisionClient(ENDPOINT, credential=credential, transport=transport)
    async with client:
        await client.tag(URL)
        await client.tag(URL)
        await client.tag(URL)
    assert [r.headers["authorization"] for r in transport.requests] == ["Bearer tok-1", "Bearer tok-2", "Bearer tok-2"]
    assert credential.calls[0] == ("https://cognitiveservices.azure.com/.default",)
    assert "ocp-apim-subscription-key" not in transport.requests[0].headers
    assert "tok-" not in repr(client) and "tok-" not in repr(client.v4) and "tok-" not in repr(client.stats())


def test_key_and_credential_together_is_an_error() -> None:
    """Passing both key and credential is ambiguous and refused."""

    class Credential:
        async def get_token(self, *scopes: str) -> None:
            return None

    with pytest.raises(ConfigurationError, match="not both"):
        VisionClient(ENDPOINT, "k", credential=Credential())


async def test_nothing_is_logged_with_the_key(
    make_client: Callable[..., VisionClient], caplog: pytest.LogCaptureFixture
) -> None:
    """At DEBUG, a whole call logs neither the key nor image bytes."""
    transport = ScriptedTransport(json_response(500, {}), json_response(200, fixture_body("tag_image")))
    data = png_bytes(60, 60)
    with caplog.at_level(logging.DEBUG):
        async with make_client(transport) as client:
            await client.tag(data)
    assert KEY not in caplog.text
    assert repr(data[:20]) not in caplog.text


async def test_credential_failure_is_a_typed_error(make_client: Callable[..., VisionClient]) -> None:
    """A credential whose get_token raises gives CredentialError, with the cause kept, and sends nothing."""
    from vision_async import CredentialError

    class Broken:
        async def get_token(self, *scopes: str) -> object:
            raise OSError("token endpoint unreachable")

    class Useless:
        async def get_token(self, *scopes: str) -> object:
            return object()

    transport = ok()
    for credential, cause in ((Broken(), OSError), (Useless(), type(None))):
        async with VisionClient(ENDPOINT, credential=credential, transport=transport) as client:
            with pytest.raises(CredentialError) as info:
                await client.tag(URL)
        assert type(info.value.__cause__) is cause
    assert transport.count == 0


@pytest.mark.parametrize("platform", ["win32", "cygwin", "freebsd14"])
def test_an_unsupported_system_is_refused_at_construction(monkeypatch: pytest.MonkeyPatch, platform: str) -> None:
    """On a system other than Linux and macOS, VisionClient(...) raises ConfigurationError naming both."""
    monkeypatch.setattr("sys.platform", platform)
    with pytest.raises(ConfigurationError, match=rf"Linux and macOS only, not '{platform}'"):
        VisionClient(ENDPOINT, KEY)


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_linux_and_macos_are_supported(monkeypatch: pytest.MonkeyPatch, platform: str) -> None:
    """Linux and macOS construct a client."""
    monkeypatch.setattr("sys.platform", platform)
    assert isinstance(VisionClient(ENDPOINT, KEY), VisionClient)
