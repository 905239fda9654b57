"""make_transport: the one factory the client calls to pick its transport."""

from __future__ import annotations

import httpx
import pytest

import tests.helpers.hostile_server as hs
from tests.helpers.transport_cases import tag_request
from vision_async import ConfigurationError
from vision_async._transports.base import Borrowed
from vision_async._transports.factory import ENV_TRANSPORT, make_transport
from vision_async._transports.httpx_transport import HttpxTransport
from vision_async._transports.pool import PoolTransport

pytestmark = pytest.mark.anyio


def test_none_is_the_default_pool_with_the_given_limit() -> None:
    """No transport and no environment switch: the default pool, max_connections honoured."""
    transport = make_transport(None, max_connections=7, environ={})
    assert isinstance(transport, PoolTransport)
    assert repr(transport) == "PoolTransport(max_connections=7, open=0)"


@pytest.mark.parametrize("name", ["default", "DEFAULT", " default ", ""])
def test_default_by_name(name: str) -> None:
    """ "default" (any case, or empty) names the default pool."""
    assert isinstance(make_transport(name, max_connections=3), PoolTransport)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_environment_switch_picks_aiohttp_on_asyncio() -> None:
    """VISION_ASYNC_TRANSPORT=aiohttp turns the speed extra on without a code change."""
    from vision_async._transports.aiohttp import AiohttpTransport

    transport = make_transport(None, max_connections=3, environ={ENV_TRANSPORT: "aiohttp"})
    assert isinstance(transport, AiohttpTransport)


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_environment_switch_to_aiohttp_is_refused_under_trio() -> None:
    """The switch never puts aiohttp under trio: ConfigurationError, before any request."""
    with pytest.raises(ConfigurationError, match="asyncio only"):
        make_transport(None, max_connections=3, environ={ENV_TRANSPORT: "aiohttp"})


def test_httpx_by_name_wraps_httpx_own_pool_and_owns_it() -> None:
    """ "httpx" gives httpx's own pooled transport, closed with the client."""
    transport = make_transport("httpx", max_connections=3)
    assert isinstance(transport, HttpxTransport)
    assert isinstance(transport.wrapped, httpx.AsyncHTTPTransport)


async def test_an_httpx_transport_is_wrapped_and_never_closed() -> None:
    """A user's httpx transport is used as given; closing the client's side leaves it open."""
    closed: list[bool] = []

    class Mine(httpx.MockTransport):
        async def aclose(self) -> None:
            closed.append(True)

    transport = make_transport(Mine(lambda request: httpx.Response(204)), max_connections=3)
    assert isinstance(transport, Borrowed) and isinstance(transport.wrapped, HttpxTransport)
    response = await transport.send(tag_request("https://u.example.com"))
    await transport.aclose()
    assert response.status_code == 204 and closed == []


async def test_a_vision_transport_is_borrowed_not_closed() -> None:
    """A PoolTransport the user made serves requests and survives the client's close."""
    with hs.HostileServer(hs.ok()) as server:
        mine = PoolTransport(max_connections=2)
        borrowed = make_transport(mine, max_connections=99)
        await borrowed.send(tag_request(server.url))
        await borrowed.aclose()
        assert borrowed.stats() == mine.stats()
        assert mine.stats().open_connections == 1
        response = await mine.send(tag_request(server.url))
        await mine.aclose()
    assert response.status_code == 200


@pytest.mark.parametrize("bad", ["urllib3", "aiohttp2"])
def test_unknown_names_are_configuration_errors(bad: str) -> None:
    """A misspelt name fails at construction, listing the valid ones."""
    with pytest.raises(ConfigurationError, match="default, aiohttp, httpx"):
        make_transport(bad, max_connections=3)


def test_unknown_environment_value_is_a_configuration_error() -> None:
    """A misspelt environment value fails loudly rather than silently using the default."""
    with pytest.raises(ConfigurationError, match="unknown transport"):
        make_transport(None, max_connections=3, environ={ENV_TRANSPORT: "aiohtp"})


@pytest.mark.parametrize("bad", [42, object()])
def test_other_objects_are_configuration_errors(bad: object) -> None:
    """Anything else is refused with a message naming what is accepted."""
    with pytest.raises(ConfigurationError, match=r"httpx\.AsyncBaseTransport"):
        make_transport(bad, max_connections=3)  # type: ignore[arg-type]
