"""Retries: what is retried, how long it waits, when it gives up; no test sleeps for real."""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Callable

import httpx
import pytest

from tests.helpers import fixture_body
from vision_async import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
    RetryEvent,
    RetryPolicy,
    ServiceUnavailableError,
    VisionClient,
)
from vision_async._resilience.retry import parse_retry_after
from vision_async.testing import FakeClock, ScriptedTransport, json_response

pytestmark = pytest.mark.anyio

URL = "https://example.com/cat.jpg"
OK = json_response(200, fixture_body("tag_image"))


def rate_limited(headers: dict[str, str] | None = None, message: str = "Rate limit is exceeded.") -> httpx.Response:
    return json_response(429, {"error": {"code": "429", "message": message}}, headers=headers)


def server_error(status: int = 500) -> httpx.Response:
    return json_response(status, {"error": {"code": "InternalServerError", "message": "boom"}})


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"Retry-After": "7"}, None, 7.0),
        ({"Retry-After": "1.5"}, None, 1.5),
        ({"Retry-After": email.utils.formatdate(NOW + 12, usegmt=True)}, None, 12.0),
        ({"Retry-After": email.utils.formatdate(NOW - 30, usegmt=True)}, None, 0.0),
        ({"retry-after-ms": "250"}, None, 0.25),
        ({"x-ms-retry-after-ms": "1500"}, None, 1.5),
        ({"retry-after-ms": "100", "Retry-After": "9"}, None, 0.1),
        ({}, b'{"error":{"code":"429","message":"Rate limit exceeded. Try again in 4 seconds."}}', 4.0),
        ({}, b"Please retry after 1 second.", 1.0),
        ({"Retry-After": "soon"}, None, None),
        ({"Retry-After": "-3"}, None, None),
        ({}, b"nothing useful", None),
    ],
)
def test_parse_retry_after_forms(headers: dict[str, str], body: bytes | None, expected: float | None) -> None:
    """Every Retry-After form Azure uses is understood; nonsense is ignored."""
    got = parse_retry_after(httpx.Headers(headers), body, now=lambda: NOW)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


@pytest.mark.parametrize(
    ("headers", "message", "expected_wait"),
    [
        ({"Retry-After": "3"}, "Rate limit is exceeded.", 3.0),
        ({"retry-after-ms": "400"}, "Rate limit is exceeded.", 0.4),
        ({"x-ms-retry-after-ms": "2500"}, "Rate limit is exceeded.", 2.5),
        ({}, "Requests exceeded the rate limit. Try again in 5 seconds.", 5.0),
    ],
)
async def test_429_then_200_waits_what_the_server_asked(
    make_client: Callable[..., VisionClient],
    fake_clock: FakeClock,
    headers: dict[str, str],
    message: str,
    expected_wait: float,
) -> None:
    """A 429 is retried after exactly the server's Retry-After, then the 200 is returned."""
    transport = ScriptedTransport(rate_limited(headers, message), OK)
    async with make_client(transport) as client:
        result = await client.tag(URL)
    assert result.tags[0].name == "grass"
    assert transport.count == 2
    assert fake_clock.sleeps == [pytest.approx(expected_wait)]


async def test_429_with_http_date_retry_after(make_client: Callable[..., VisionClient], fake_clock: FakeClock) -> None:
    """Retry-After as an HTTP date is a wait relative to now."""
    date = email.utils.formatdate(usegmt=True)  # "now", to the second: the wait is at most ~1s
    transport = ScriptedTransport(rate_limited({"Retry-After": date}), OK)
    async with make_client(transport) as client:
        await client.tag(URL)
    assert transport.count == 2
    assert 0.0 <= fake_clock.sleeps[0] <= 1.0


async def test_retry_after_beyond_cap_fails_at_once(
    make_client: Callable[..., VisionClient], fake_clock: FakeClock
) -> None:
    """A server wait above max_retry_after raises RateLimitError without sleeping."""
    transport = ScriptedTransport(rate_limited({"Retry-After": "120"}), OK)
    async with make_client(transport, retry=RetryPolicy(max_retry_after=30.0)) as client:
        with pytest.raises(RateLimitError) as info:
            await client.tag(URL)
    assert info.value.retry_after == 120.0
    assert transport.count == 1
    assert fake_clock.sleeps == []


async def test_retry_after_beyond_deadline_fails_at_once(
    make_client: Callable[..., VisionClient], fake_clock: FakeClock
) -> None:
    """A server wait longer than the time left before the total deadline is not slept."""
    transport = ScriptedTransport(rate_limited({"Retry-After": "8"}), rate_limited({"Retry-After": "8"}), OK)
    policy = RetryPolicy(total_timeout=10.0, max_retry_after=60.0)
    async with make_client(transport, retry=policy) as client:
        with pytest.raises(RateLimitError):
            await client.tag(URL)
    assert fake_clock.sleeps == [8.0]  # the first wait fits; the second would pass the deadline
    assert transport.count == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_retried_with_jittered_backoff(
    make_client: Callable[..., VisionClient], fake_clock: FakeClock, status: int
) -> None:
    """5xx answers are retried; waits stay under the exponential ceiling."""
    transport = ScriptedTransport(server_error(status), server_error(status), OK)
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=8.0)
    async with make_client(transport, retry=policy) as client:
        await client.tag(URL)
    assert transport.count == 3
    assert len(fake_clock.sleeps) == 2
    assert 0 <= fake_clock.sleeps[0] <= 0.5
    assert 0 <= fake_clock.sleeps[1] <= 1.0


def test_backoff_ceiling_formula() -> None:
    """The ceiling doubles from initial_backoff and stops at max_backoff."""
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=8.0)
    assert [policy.backoff_ceiling(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


async def test_attempts_are_bounded(make_client: Callable[..., VisionClient]) -> None:
    """After max_attempts 503s the last error is raised, typed."""
    transport = ScriptedTransport(server_error(503))
    async with make_client(transport, retry=RetryPolicy(max_attempts=3), breaker=None) as client:
        with pytest.raises(ServiceUnavailableError) as info:
            await client.tag(URL)
    assert transport.count == 3
    assert isinstance(info.value, InternalServerError)


async def test_400_invalid_image_url_is_not_retried(make_client: Callable[..., VisionClient]) -> None:
    """400 InvalidImageUrl raises BadRequestError after exactly one request."""
    body = {
        "error": {
            "code": "InvalidRequest",
            "message": "Image URL is badly formatted.",
            "innererror": {"code": "InvalidImageUrl", "message": "Image URL is badly formatted."},
        }
    }
    transport = ScriptedTransport(json_response(400, body), OK)
    async with make_client(transport) as client:
        with pytest.raises(BadRequestError) as info:
            await client.tag(URL)
    assert transport.count == 1
    assert info.value.inner_code == "InvalidImageUrl"
    assert info.value.code == "InvalidRequest"
    assert info.value.request_id == "req-test"


async def test_401_is_not_retried(make_client: Callable[..., VisionClient]) -> None:
    """401 raises AuthenticationError after one request."""
    body = {"error": {"code": "401", "message": "Access denied due to invalid subscription key or wrong API endpoint."}}
    transport = ScriptedTransport(json_response(401, body), OK)
    async with make_client(transport) as client:
        with pytest.raises(AuthenticationError):
            await client.tag(URL)
    assert transport.count == 1


async def test_connection_errors_and_timeouts_are_retried(make_client: Callable[..., VisionClient]) -> None:
    """A refused connection and a read timeout are retried, then the answer is returned."""
    transport = ScriptedTransport(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), OK)
    async with make_client(transport) as client:
        result = await client.tag(URL)
    assert transport.count == 3
    assert result.request_id == "1ad0e45e-b7b4-4be3-8042-53be96103337"


async def test_retry_none_sends_once(make_client: Callable[..., VisionClient]) -> None:
    """retry=None turns retries off: one 503, one request, the error."""
    transport = ScriptedTransport(server_error(503), OK)
    async with make_client(transport, retry=None) as client:
        with pytest.raises(ServiceUnavailableError):
            await client.tag(URL)
    assert transport.count == 1


async def test_body_is_replayed_on_every_attempt(make_client: Callable[..., VisionClient]) -> None:
    """A file object is read once; every attempt sends the same bytes."""
    import io

    from tests.helpers import png_bytes

    data = png_bytes(80, 80)
    transport = ScriptedTransport(server_error(500), server_error(500), OK)
    async with make_client(transport) as client:
        await client.tag(io.BytesIO(data))
    assert [r.content for r in transport.requests] == [data, data, data]


async def test_on_retry_hook_gets_frozen_events_and_may_raise(make_client: Callable[..., VisionClient]) -> None:
    """on_retry receives a RetryEvent per retry; a hook that raises does not break the call."""
    events: list[RetryEvent] = []

    def hook(event: RetryEvent) -> None:
        events.append(event)
        raise RuntimeError("hook bug")

    transport = ScriptedTransport(rate_limited({"Retry-After": "1"}), server_error(500), OK)
    async with make_client(transport, on_retry=hook) as client:
        await client.tag(URL)
    assert [(e.operation, e.attempt, type(e.error).__name__, e.retry_after) for e in events] == [
        ("tag", 1, "RateLimitError", 1.0),
        ("tag", 2, "InternalServerError", None),
    ]
    with pytest.raises(AttributeError):
        events[0].wait = 3  # type: ignore[misc]


async def test_retry_decisions_are_logged_at_debug(
    make_client: Callable[..., VisionClient], caplog: pytest.LogCaptureFixture
) -> None:
    """One DEBUG line per retry decision, including the final one; the key never appears."""
    transport = ScriptedTransport(server_error(500))
    with caplog.at_level(logging.DEBUG, logger="vision_async"):
        async with make_client(transport, retry=RetryPolicy(max_attempts=2), breaker=None) as client:
            with pytest.raises(InternalServerError):
                await client.tag(URL)
    retry_lines = [r for r in caplog.records if r.name == "vision_async.retry"]
    assert len(retry_lines) == 2
    assert all(r.levelno == logging.DEBUG for r in retry_lines)
    assert "retrying in" in retry_lines[0].getMessage()
    assert "not retrying" in retry_lines[1].getMessage()
    from tests.helpers import KEY

    assert KEY not in caplog.text


async def test_total_deadline_stops_retrying(make_client: Callable[..., VisionClient], fake_clock: FakeClock) -> None:
    """Backoff that would pass the total deadline ends the call with the last error."""
    transport = ScriptedTransport(httpx.ConnectError("refused"))
    policy = RetryPolicy(max_attempts=100, initial_backoff=4.0, max_backoff=4.0, total_timeout=10.0)
    async with make_client(transport, retry=policy, breaker=None) as client:
        with pytest.raises(APIConnectionError):
            await client.tag(URL)
    assert sum(fake_clock.sleeps) <= 10.0
    assert transport.count < 100


async def test_total_deadline_in_real_time_raises_timeout() -> None:
    """A real-time total deadline cancels a hung attempt and raises APITimeoutError."""
    import anyio

    async def hang(request: httpx.Request) -> httpx.Response:
        await anyio.sleep_forever()
        raise AssertionError

    client = VisionClient(
        "https://unit.example.com",
        "key",
        transport=httpx.MockTransport(hang),
        timeout=None,
        retry=RetryPolicy(total_timeout=0.05),
    )
    async with client:
        with pytest.raises(APITimeoutError, match="total deadline"):
            await client.tag(URL)


async def test_deadline_counts_the_first_attempt(fake_clock: FakeClock) -> None:
    """Time spent in the first attempt counts against the total deadline."""
    calls = 0

    def slow_then_limited(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        fake_clock.advance(8.0)  # the attempt itself took 8 s
        return rate_limited({"Retry-After": "3"})

    transport = ScriptedTransport(slow_then_limited)
    client = VisionClient(
        "https://unit.example.com",
        "k",
        transport=transport,
        retry=RetryPolicy(total_timeout=10.0),
        clock=fake_clock.clock,
        sleep=fake_clock.sleep,
    )
    async with client:
        with pytest.raises(RateLimitError):
            await client.tag(URL)
    assert calls == 1
    assert fake_clock.sleeps == []


async def test_async_hook_is_not_awaited_and_warns(
    make_client: Callable[..., VisionClient], caplog: pytest.LogCaptureFixture
) -> None:
    """An async function given as a hook is reported, its coroutine closed, the call unharmed."""
    awaited = False

    async def async_hook(event: RetryEvent) -> None:
        nonlocal awaited
        awaited = True

    transport = ScriptedTransport(server_error(500), OK)
    with caplog.at_level(logging.WARNING, logger="vision_async"):
        async with make_client(transport, on_retry=async_hook) as client:
            await client.tag(URL)
    assert not awaited
    assert "hooks must be plain functions" in caplog.text
