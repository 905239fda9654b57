"""The transport seam: every foreign exception is translated; owned transports are closed."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import anyio
import httpx
import pytest

from vision_async import (
    APIConnectionError,
    APITimeoutError,
    ResponseValidationError,
    VisionClient,
    VisionError,
)
from vision_async._transports.base import translate_exception
from vision_async.testing import ScriptedTransport, json_response

from .conftest import fixture_body

pytestmark = pytest.mark.anyio

URL = "https://example.com/cat.jpg"


def _httpx_exception_classes() -> list[type[Exception]]:
    classes = [
        obj
        for name in dir(httpx)
        if inspect.isclass(obj := getattr(httpx, name))
        and issubclass(obj, Exception)
        and obj.__module__.startswith("httpx")
    ]
    assert len(classes) >= 20
    return classes


def _instance(cls: type[Exception]) -> Exception:
    try:
        return cls("boom")  # type: ignore[call-arg]
    except TypeError:
        if issubclass(cls, httpx.HTTPStatusError):
            request = httpx.Request("GET", "https://x")
            return cls("boom", request=request, response=httpx.Response(500, request=request))
        return cls()


@pytest.mark.parametrize("cls", _httpx_exception_classes(), ids=lambda c: c.__name__)
def test_every_httpx_exception_is_mapped(cls: type[Exception]) -> None:
    """No httpx exception class is left unmapped at the transport boundary."""
    mapped = translate_exception(_instance(cls), what="POST /tag")
    assert isinstance(mapped, VisionError), cls
    if issubclass(cls, httpx.TimeoutException):
        assert isinstance(mapped, APITimeoutError)
    elif issubclass(cls, httpx.DecodingError):
        assert isinstance(mapped, ResponseValidationError)
    else:
        assert isinstance(mapped, APIConnectionError)


@pytest.mark.parametrize(
    "exc",
    [OSError("reset"), ConnectionResetError("reset"), anyio.BrokenResourceError(), anyio.EndOfStream(), TimeoutError()],
    ids=lambda e: type(e).__name__,
)
def test_os_and_anyio_errors_are_connection_errors(exc: BaseException) -> None:
    """OS-level and anyio stream errors from a custom transport become APIConnectionError."""
    assert isinstance(translate_exception(exc, what="x"), APIConnectionError)


def test_programming_errors_are_not_disguised() -> None:
    """A bug in a user's transport (e.g. a KeyError) is not turned into a connection error."""
    assert translate_exception(KeyError("oops"), what="x") is None


async def test_foreign_exception_is_chained(make_client: Callable[..., VisionClient]) -> None:
    """The translated error keeps the original as __cause__."""
    transport = ScriptedTransport(httpx.RemoteProtocolError("server hung up"))
    async with make_client(transport, retry=None) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.tag(URL)
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)


async def test_attempt_timeout_raises_api_timeout_error() -> None:
    """An answer slower than the attempt timeout raises APITimeoutError."""

    async def slow(request: httpx.Request) -> httpx.Response:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async with VisionClient(
        "https://u.example.com", "k", transport=httpx.MockTransport(slow), timeout=0.02, retry=None
    ) as client:
        with pytest.raises(APITimeoutError, match="attempt timeout"):
            await client.tag(URL)


async def test_given_transport_is_not_closed() -> None:
    """aclose never closes a transport the user passed in."""
    transport = ScriptedTransport(json_response(200, fixture_body("tag_image")))
    client = VisionClient("https://u.example.com", "k", transport=transport)
    await client.aclose()
    assert transport.closed is False


async def test_owned_transport_is_closed_once() -> None:
    """The transport the client made is closed by aclose, and aclose is idempotent."""
    client = VisionClient("https://u.example.com", "k")
    inner = client._transport._transport
    assert isinstance(inner, httpx.AsyncHTTPTransport)
    closes = 0
    original = inner.aclose

    async def counting_close() -> None:
        nonlocal closes
        closes += 1
        await original()

    inner.aclose = counting_close  # type: ignore[method-assign]
    await client.aclose()
    await client.aclose()
    assert closes == 1


async def test_redirects_are_not_followed(make_client: Callable[..., VisionClient]) -> None:
    """A 302 is an error and no second request goes anywhere with the key."""
    transport = ScriptedTransport(httpx.Response(302, headers={"location": "https://evil.example.com/steal"}))
    async with make_client(transport) as client:
        with pytest.raises(VisionError, match="redirect"):
            await client.tag(URL)
    assert transport.count == 1
