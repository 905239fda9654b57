"""The transport seam: every foreign exception is translated at one boundary; secrets never leak
through messages or traceback locals; owned transports are closed, given ones never."""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable
from types import ModuleType

import aiohttp
import aiohttp.client_exceptions
import anyio
import h11
import httpcore
import httpx
import pytest

import tests.helpers.hostile_server as hs
from tests.helpers import fixture_body
from tests.helpers.transport_cases import BACKEND_KINDS, KEY, make, tag_request
from vision_async import (
    APIConnectionError,
    APITimeoutError,
    ResponseValidationError,
    VisionClient,
    VisionError,
)
from vision_async._transports.aiohttp import AIOHTTP_ERRORS
from vision_async._transports.base import ResponseHeaders
from vision_async._transports.boundary import translate_exception
from vision_async._transports.httpx_transport import HttpxTransport
from vision_async.testing import ScriptedTransport, json_response

pytestmark = pytest.mark.anyio

URL = "https://example.com/cat.jpg"


def _exception_classes(*modules: ModuleType) -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in modules:
        for name in dir(module):
            obj = getattr(module, name, None)  # some releases list names in dir() that they cannot give
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__.startswith(module.__name__):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[key] for key in sorted(found)]


HTTPX_CLASSES = _exception_classes(httpx)
HTTPCORE_CLASSES = _exception_classes(httpcore, h11)
AIOHTTP_CLASSES = _exception_classes(aiohttp, aiohttp.client_exceptions)
TIMEOUTS = (httpx.TimeoutException, httpcore.TimeoutException, aiohttp.ServerTimeoutError)


def _bare(cls: type[BaseException]) -> BaseException:
    """An instance without running ``__init__`` (some need a request or a connection key)."""
    try:
        return cls("boom")
    except Exception:
        return cls.__new__(cls)


def test_the_enumerations_are_not_empty() -> None:
    """The lists below really cover the libraries (a rename would otherwise pass silently)."""
    assert len(HTTPX_CLASSES) >= 20 and len(HTTPCORE_CLASSES) >= 15 and len(AIOHTTP_CLASSES) >= 25


@pytest.mark.parametrize("cls", HTTPX_CLASSES + HTTPCORE_CLASSES + AIOHTTP_CLASSES, ids=lambda c: c.__qualname__)
def test_every_httpx_httpcore_h11_and_aiohttp_exception_is_mapped(cls: type[BaseException]) -> None:
    """No exception class exported by httpx, httpcore, h11 or aiohttp escapes the boundary."""
    mapped = translate_exception(_bare(cls), what="POST /tag")
    assert isinstance(mapped, VisionError), cls
    if issubclass(cls, TIMEOUTS):
        assert isinstance(mapped, APITimeoutError)
    elif issubclass(cls, httpx.DecodingError):
        assert isinstance(mapped, ResponseValidationError)
    else:
        assert isinstance(mapped, APIConnectionError) and not isinstance(mapped, APITimeoutError)


@pytest.mark.parametrize("cls", AIOHTTP_CLASSES, ids=lambda c: c.__qualname__)
def test_aiohttp_exceptions_are_mapped_by_the_explicit_table(cls: type[BaseException]) -> None:
    """aiohttp's classes are matched by name in AIOHTTP_ERRORS, not guessed from a module name."""
    assert any(issubclass(cls, listed) for listed, _ in AIOHTTP_ERRORS), cls


@pytest.mark.parametrize(
    "exc",
    [
        OSError("reset"),
        ConnectionResetError("reset"),
        anyio.BrokenResourceError(),
        anyio.EndOfStream(),
        anyio.ClosedResourceError(),
        TimeoutError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_os_and_anyio_errors_are_connection_errors(exc: BaseException) -> None:
    """OS-level and anyio stream errors become APIConnectionError (TimeoutError: APITimeoutError)."""
    mapped = translate_exception(exc, what="x")
    assert isinstance(mapped, APITimeoutError if isinstance(exc, TimeoutError) else APIConnectionError)


def test_programming_errors_are_not_disguised() -> None:
    """A bug in a user's transport (e.g. a KeyError) is not turned into a connection error."""
    assert translate_exception(KeyError("oops"), what="x") is None


def test_response_headers_are_case_insensitive_and_join_repeats() -> None:
    """Lookups ignore case; a repeated header is joined with ", "."""
    headers = ResponseHeaders([("Apim-Request-Id", "a"), ("X-Rep", "1"), ("x-rep", "2")])
    assert headers["APIM-REQUEST-ID"] == "a" and headers.get("x-REP") == "1, 2" and "X-Rep" in headers
    assert headers.get("missing") is None and len(headers) == 2


@BACKEND_KINDS
async def test_key_echoed_by_the_server_is_redacted_from_messages_and_causes(anyio_backend: str, kind: str) -> None:
    """A peer that echoes the key into a malformed answer: the key is in no message, repr or local."""

    async def echo(conn: hs.Connection, request: hs.ReceivedRequest) -> None:
        await conn.send(f"HTTP/1.1 200 OK\r\nEcho {request.headers['ocp-apim-subscription-key']}\r\n\r\n".encode())
        await conn.close()

    with hs.HostileServer(echo) as server:
        transport = make(kind)
        with pytest.raises(APIConnectionError) as info:
            await transport.send(tag_request(server.url))
        await transport.aclose()
    error = info.value
    rendered = "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())
    assert KEY not in str(error) and KEY not in rendered, kind
    assert KEY not in repr(error.__cause__), kind
    assert len(server.requests) == 1


async def test_secret_is_not_in_locals_when_an_httpx_transport_fails() -> None:
    """Through a user's httpx transport, a failure's traceback chain holds the key in no frame."""

    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    transport = HttpxTransport(httpx.MockTransport(boom))
    with pytest.raises(APIConnectionError) as info:
        await transport.send(tag_request("https://u.example.com"))
    rendered = "".join(traceback.TracebackException.from_exception(info.value, capture_locals=True).format())
    assert "ConnectError" in rendered and KEY not in rendered


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
    transport = client._parts.transport
    closes = 0
    original = transport.aclose

    async def counting_close() -> None:
        nonlocal closes
        closes += 1
        await original()

    transport.aclose = counting_close  # type: ignore[method-assign]
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
