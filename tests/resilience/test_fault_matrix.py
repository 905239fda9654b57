"""The fault matrix: one test per network fault, on a real loopback socket (tests/helpers/hostile_server.py).

Each test asserts the exception class, how many requests reached the server (retried or not)
and whether the circuit breaker counted the failures. The tests about timeouts use an attempt
timeout of tens of milliseconds (the others a generous one that is never reached) and every test
a FakeClock, so that no test waits for real beyond that. The README's
"Fault matrix" table is this file in words.

Breaker counting is asserted through behaviour: with ``fail_max`` equal to the number of
attempts, a counted fault leaves the breaker open after the call; with ``fail_max=1`` an
uncounted one leaves it closed.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import pytest

import tests.helpers.hostile_server as hs
from tests.helpers import png_bytes
from vision_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BreakerPolicy,
    BreakerState,
    InternalServerError,
    RateLimitError,
    ResponseValidationError,
    RetryEvent,
    RetryPolicy,
    ServiceUnavailableError,
    VisionClient,
)
from vision_async.testing import FakeClock

pytestmark = pytest.mark.anyio

KEY = "fault-matrix-key-0123456789abcdef"
IMAGE = png_bytes(64, 64)
ATTEMPTS = 2
#: the attempt timeout of the tests about timeouts: tens of milliseconds
TIMEOUT = 0.03
#: the attempt timeout of the other tests: never reached, even on a loaded machine
RELAXED = 5.0


class Probe:
    """A client wired for one fault test, and what it observed."""

    def __init__(self, url: str, *, fail_max: int, timeout: float = RELAXED) -> None:
        self.clock = FakeClock()
        self.retries: list[RetryEvent] = []
        self.client = VisionClient(
            url,
            KEY,
            timeout=timeout,
            retry=RetryPolicy(max_attempts=ATTEMPTS, initial_backoff=0, max_backoff=0, total_timeout=None),
            breaker=BreakerPolicy(fail_max=fail_max, reset_timeout=60),
            on_retry=self.retries.append,
            clock=self.clock.clock,
            sleep=self.clock.sleep,
        )


@contextmanager
def served(*script: hs.Fault) -> Iterator[hs.HostileServer]:
    with hs.HostileServer(*script) as server:
        yield server


async def _fails_with(
    server_url: str,
    exc_type: type[Exception],
    *,
    counted: bool,
    server: hs.HostileServer | None = None,
    timeout: float = RELAXED,
) -> tuple[Exception, Probe]:
    probe = Probe(server_url, fail_max=ATTEMPTS if counted else 1, timeout=timeout)
    async with probe.client as client:
        with pytest.raises(exc_type) as info:
            await client.tag(IMAGE)
        expected = BreakerState.OPEN if counted else BreakerState.CLOSED
        assert client.breaker_state is expected, f"breaker {client.breaker_state}, expected {expected}"
    if server is not None:
        await _settle(server, len(probe.retries) + 1)
    return info.value, probe


async def _settle(server: hs.HostileServer, attempts: int) -> None:
    """Give the server thread time to read what the client sent (a loaded machine may lag the
    tens-of-milliseconds attempt timeout); returns at once in the usual case."""
    with anyio.move_on_after(2.0):
        while len(server.requests) < attempts:  # noqa: ASYNC110 - the server is another thread: no Event to share
            await anyio.sleep(0.005)


# -- connection-level faults: APIConnectionError / APITimeoutError, retried, counted ---------------


async def test_refused_connection() -> None:
    """Refused: APIConnectionError (not a timeout), retried, counted by the breaker."""
    exc, probe = await _fails_with(hs.refused_url(), APIConnectionError, counted=True)
    assert not isinstance(exc, APITimeoutError)
    assert len(probe.retries) == ATTEMPTS - 1


async def test_reset_before_headers() -> None:
    """Reset before any byte of the answer: APIConnectionError, retried on a new connection, counted."""
    with served(hs.reset_before_headers()) as server:
        exc, _ = await _fails_with(server.url, APIConnectionError, counted=True, server=server)
    assert not isinstance(exc, APITimeoutError)
    assert len(server.requests) == ATTEMPTS
    assert server.connections == ATTEMPTS


async def test_reset_mid_body() -> None:
    """Reset after the headers, mid-body: APIConnectionError, retried, counted."""
    with served(hs.reset_mid_body()) as server:
        exc, _ = await _fails_with(server.url, APIConnectionError, counted=True, server=server)
    assert not isinstance(exc, APITimeoutError)
    assert len(server.requests) == ATTEMPTS


async def test_hung_headers() -> None:
    """No answer at all: APITimeoutError after the attempt timeout, retried, counted."""
    with served(hs.hang_headers()) as server:
        await _fails_with(server.url, APITimeoutError, counted=True, server=server, timeout=TIMEOUT)
    assert len(server.requests) == ATTEMPTS


async def test_stalled_body() -> None:
    """Headers then silence mid-body: APITimeoutError, retried, counted."""
    with served(hs.stall_body()) as server:
        await _fails_with(server.url, APITimeoutError, counted=True, server=server, timeout=TIMEOUT)
    assert len(server.requests) == ATTEMPTS


async def test_slow_drip() -> None:
    """A byte every few ms (each read succeeds): the attempt timeout still ends it, retried, counted."""
    with served(hs.drip()) as server:
        await _fails_with(server.url, APITimeoutError, counted=True, server=server, timeout=TIMEOUT)
    assert len(server.requests) == ATTEMPTS


async def test_truncated_body() -> None:
    """Fewer bytes than Content-Length, then FIN: APIConnectionError (not a validation error), retried."""
    with served(hs.truncate()) as server:
        exc, _ = await _fails_with(server.url, APIConnectionError, counted=True, server=server)
    assert not isinstance(exc, ResponseValidationError | APITimeoutError)
    assert len(server.requests) == ATTEMPTS


# -- answers that are not what the spec says: not retried, not counted ----------------------------


async def test_content_length_shorter_than_the_body() -> None:
    """A Content-Length that cuts the JSON short: ResponseValidationError, not retried, not counted."""
    with served(hs.length_lie()) as server:
        exc, _ = await _fails_with(server.url, ResponseValidationError, counted=False, server=server)
    assert "not JSON" in str(exc)
    assert len(server.requests) == 1


async def test_non_json_200() -> None:
    """A 200 with an HTML page: ResponseValidationError, not retried, not counted."""
    with served(hs.non_json_200()) as server:
        exc, _ = await _fails_with(server.url, ResponseValidationError, counted=False, server=server)
    assert "not JSON" in str(exc)
    assert len(server.requests) == 1


# -- error statuses ---------------------------------------------------------------------------------


async def test_html_5xx_from_a_gateway() -> None:
    """A gateway's HTML 502: InternalServerError with a readable message, retried, counted."""
    with served(hs.html_5xx(502)) as server:
        exc, _ = await _fails_with(server.url, InternalServerError, counted=True, server=server)
    assert isinstance(exc, InternalServerError) and exc.status_code == 502
    assert "<" not in exc.message and "502 Bad Gateway" in exc.message
    assert len(server.requests) == ATTEMPTS


INNER_5XX = ["Timeout", "InternalServerError", "FailedToProcess", "Unspecified", "StorageException", "CancelledRequest"]


@pytest.mark.parametrize("inner", INNER_5XX)
@pytest.mark.parametrize(
    ("status", "outer", "cls"),
    [
        (500, "InternalServerError", InternalServerError),
        (503, "ServiceUnavailable", ServiceUnavailableError),
        (504, "InternalServerError", InternalServerError),
    ],
)
async def test_each_5xx_inner_code(status: int, outer: str, cls: type[APIStatusError], inner: str) -> None:
    """Every 5xx, whatever its inner code: the status class with both codes, retried, counted."""
    with served(hs.azure_error(status, outer, inner)) as server:
        exc, _ = await _fails_with(server.url, cls, counted=True, server=server)
    assert isinstance(exc, APIStatusError)
    assert type(exc) is cls and (exc.status_code, exc.code, exc.inner_code) == (status, outer, inner)
    assert exc.request_id == "req-err"
    assert len(server.requests) == ATTEMPTS


def _http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


RETRY_AFTER_FORMS = [
    pytest.param({"Retry-After": "2"}, None, 2.0, id="retry-after-seconds"),
    pytest.param({"Retry-After": "1.5"}, None, 1.5, id="retry-after-fraction"),
    pytest.param({"retry-after-ms": "1250"}, None, 1.25, id="retry-after-ms"),
    pytest.param({"x-ms-retry-after-ms": "750"}, None, 0.75, id="x-ms-retry-after-ms"),
    pytest.param({"Retry-After": "http-date+30"}, None, 30.0, id="retry-after-http-date"),
    pytest.param(None, "Rate limit is exceeded. Try again in 3 seconds.", 3.0, id="body-text"),
]


@pytest.mark.parametrize(("headers", "body", "wait"), RETRY_AFTER_FORMS)
async def test_429_in_each_retry_after_form(headers: dict[str, str] | None, body: str | None, wait: float) -> None:
    """A 429 is retried after the wait the server asked for, in every form; the breaker does not count it."""
    if headers and headers.get("Retry-After") == "http-date+30":
        headers = {"Retry-After": _http_date(30)}
    with served(hs.rate_limited(headers, body), hs.ok()) as server:
        probe = Probe(server.url, fail_max=1)
        async with probe.client as client:
            result = await client.tag(IMAGE)
            assert client.breaker_state is BreakerState.CLOSED
    assert result.tags[0].name == "grass"
    assert len(server.requests) == 2
    assert len(probe.retries) == 1 and isinstance(probe.retries[0].error, RateLimitError)
    asked = probe.retries[0].retry_after
    assert asked is not None
    if wait == 30.0:  # an HTTP date has a resolution of one second
        assert 28.0 <= asked <= 30.0
    else:
        assert asked == pytest.approx(wait)
    assert any(s == pytest.approx(asked) for s in probe.clock.sleeps), probe.clock.sleeps


async def test_429_without_retry_after_gives_up_with_rate_limit_error() -> None:
    """429 on every attempt, no Retry-After: RateLimitError after all attempts, the breaker untouched."""
    with served(hs.rate_limited()) as server:
        exc, probe = await _fails_with(server.url, RateLimitError, counted=False, server=server)
    assert isinstance(exc, RateLimitError) and exc.retry_after is None
    assert len(server.requests) == ATTEMPTS
    assert len(probe.retries) == ATTEMPTS - 1


@pytest.mark.parametrize("code", [301, 302, 307, 308])
async def test_redirect_is_not_followed(code: int) -> None:
    """A redirect: APIStatusError naming it, not retried, not counted, and nothing goes to the target."""
    with served(hs.ok()) as elsewhere, served(hs.redirect(f"{elsewhere.url}/steal", code)) as server:
        exc, _ = await _fails_with(server.url, APIStatusError, counted=False, server=server)
    assert isinstance(exc, APIStatusError) and exc.status_code == code
    assert "redirect" in str(exc)
    assert len(server.requests) == 1
    assert elsewhere.connections == 0
