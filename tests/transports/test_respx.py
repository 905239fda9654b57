"""The client under respx: the default transport can be mocked like any httpx code."""

from __future__ import annotations

import httpx
import pytest
import respx

from tests.helpers import fixture_body
from vision_async import AuthenticationError, BadRequestError, RetryPolicy, VisionClient
from vision_async.testing import FakeClock

pytestmark = pytest.mark.anyio

ENDPOINT = "https://respx.cognitiveservices.azure.com"
URL = "https://example.com/cat.jpg"


def client(clock: FakeClock, **options: object) -> VisionClient:
    return VisionClient(ENDPOINT, "key", clock=clock.clock, sleep=clock.sleep, **options)  # type: ignore[arg-type]


async def test_respx_scripts_429_then_200(fake_clock: FakeClock) -> None:
    """respx intercepts the client's own pool: a 429 with Retry-After, then the tag result."""
    with respx.mock(base_url=f"{ENDPOINT}/vision/v3.2", assert_all_called=True) as router:
        route = router.post("/tag", params={"language": "en"}).mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": "2"}, json={"error": {"code": "429", "message": "slow"}}),
                httpx.Response(200, json=fixture_body("tag_image")),
            ]
        )
        async with client(fake_clock) as c:
            result = await c.tag(URL)
    assert route.call_count == 2
    assert fake_clock.sleeps == [2.0]
    assert result.tags[0].name == "grass"
    assert route.calls.last.request.headers["ocp-apim-subscription-key"] == "key"


async def test_respx_400_is_sent_once(fake_clock: FakeClock) -> None:
    """A 400 answer is not retried: respx sees exactly one call."""
    body = {
        "error": {
            "code": "InvalidRequest",
            "message": "bad",
            "innererror": {"code": "InvalidImageUrl", "message": "bad"},
        }
    }
    with respx.mock(base_url=f"{ENDPOINT}/vision/v3.2") as router:
        route = router.post("/describe").mock(return_value=httpx.Response(400, json=body))
        async with client(fake_clock) as c:
            with pytest.raises(BadRequestError) as info:
                await c.describe(URL)
    assert route.call_count == 1
    assert info.value.inner_code == "InvalidImageUrl"


async def test_respx_connection_error_then_success(fake_clock: FakeClock) -> None:
    """A transport exception raised by respx is retried like a real one."""
    with respx.mock(base_url=f"{ENDPOINT}/vision/v3.2") as router:
        route = router.get("/models").mock(
            side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=fixture_body("list_models"))]
        )
        async with client(fake_clock, retry=RetryPolicy(max_attempts=2)) as c:
            result = await c.list_models()
    assert route.call_count == 2
    assert len(result.models) == 2


async def test_respx_401_is_not_retried(fake_clock: FakeClock) -> None:
    """401 raises AuthenticationError after a single call."""
    with respx.mock(base_url=f"{ENDPOINT}/vision/v3.2") as router:
        route = router.post("/detect").mock(
            return_value=httpx.Response(401, json={"error": {"code": "401", "message": "denied"}})
        )
        async with client(fake_clock) as c:
            with pytest.raises(AuthenticationError):
                await c.detect(URL)
    assert route.call_count == 1
