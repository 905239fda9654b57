"""Read, the long-running operation: submit, poll, finish, fail, time out; no real sleeping."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.helpers import fixture_body, png_bytes
from vision_async import (
    APITimeoutError,
    InvalidInputError,
    OperationStatus,
    ReadOperationFailedError,
    ResponseValidationError,
    RetryPolicy,
    ServiceUnavailableError,
    VisionClient,
)
from vision_async.testing import FakeClock, ScriptedTransport, json_response

pytestmark = pytest.mark.anyio

URL = "https://example.com/page.pdf"
OP_ID = "e56ffa6e-1ee4-4042-bc07-993db706c95f"
ACCEPTED = httpx.Response(
    202,
    headers={
        "Operation-Location": f"https://unit.example.com/vision/v3.2/read/analyzeResults/{OP_ID}",
        "apim-request-id": "submit-1",
    },
)


def status(state: str, **headers: str) -> httpx.Response:
    return json_response(
        200,
        {"status": state, "createdDateTime": "2019-10-03T14:32:04.236Z", "lastUpdatedDateTime": "2019-10-03T14:32:05Z"},
        headers=headers,
    )


SUCCEEDED = json_response(200, fixture_body("get_read_result"))


async def test_read_goes_through_not_started_running_succeeded(
    make_client: Callable[..., VisionClient], fake_clock: FakeClock
) -> None:
    """read() submits, polls notStarted -> running -> succeeded, and returns the text."""
    transport = ScriptedTransport(ACCEPTED, status("notStarted"), status("running"), status("running"), SUCCEEDED)
    async with make_client(transport) as client:
        result = await client.read(URL, language="en", pages=["2", "3-4"], reading_order="natural")
    submit, *polls = transport.requests
    assert (submit.method, submit.url.path) == ("POST", "/vision/v3.2/read/analyze")
    assert dict(submit.params) == {
        "language": "en",
        "pages": "2,3-4",
        "readingOrder": "natural",
        "model-version": "latest",
    }
    assert submit.json() == {"url": URL}
    assert [(p.method, p.url.path) for p in polls] == [("GET", f"/vision/v3.2/read/analyzeResults/{OP_ID}")] * 4
    assert result.status is OperationStatus.SUCCEEDED
    assert result.text.startswith("Our greatest glory is not\n")
    assert fake_clock.sleeps == [0.25, 0.5, 1.0]  # backoff between polls, no Retry-After given


async def test_polls_wait_as_the_server_says(make_client: Callable[..., VisionClient], fake_clock: FakeClock) -> None:
    """A Retry-After on a poll answer sets the wait before the next poll."""
    transport = ScriptedTransport(ACCEPTED, status("running", **{"Retry-After": "2"}), SUCCEEDED)
    async with make_client(transport) as client:
        await client.read(png_bytes(100, 100))
    assert fake_clock.sleeps == [2.0]
    assert transport.requests[0].headers["content-type"] == "application/octet-stream"


async def test_a_poll_survives_429_and_503(make_client: Callable[..., VisionClient], fake_clock: FakeClock) -> None:
    """Each poll goes through the retry pipeline: a 429 and a 503 on the way are retried."""
    limited = json_response(429, {"error": {"code": "429", "message": "slow"}}, headers={"Retry-After": "1"})
    unavailable = json_response(
        503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}, headers={"Retry-After": "3"}
    )
    transport = ScriptedTransport(ACCEPTED, status("running"), limited, unavailable, SUCCEEDED)
    async with make_client(transport) as client:
        result = await client.read(URL)
    assert result.status is OperationStatus.SUCCEEDED
    assert transport.count == 5
    assert fake_clock.sleeps == [0.25, 1.0, 3.0]


async def test_failed_operation_raises(make_client: Callable[..., VisionClient]) -> None:
    """An operation that ends failed raises ReadOperationFailedError with its id."""
    transport = ScriptedTransport(ACCEPTED, status("running"), status("failed"))
    async with make_client(transport) as client:
        with pytest.raises(ReadOperationFailedError) as info:
            await client.read(URL)
    assert info.value.operation_id == OP_ID


async def test_deadline_runs_out(make_client: Callable[..., VisionClient], fake_clock: FakeClock) -> None:
    """An operation still running at the deadline raises APITimeoutError without sleeping past it."""
    transport = ScriptedTransport(ACCEPTED, status("running"))
    async with make_client(transport, read_timeout=5.0) as client:
        with pytest.raises(APITimeoutError, match="still running"):
            await client.read(URL)
    assert sum(fake_clock.sleeps) <= 5.0
    assert 3 <= transport.count <= 8


async def test_per_call_timeout_overrides_the_client(
    make_client: Callable[..., VisionClient], fake_clock: FakeClock
) -> None:
    """read(timeout=) bounds this call instead of the client's read_timeout."""
    transport = ScriptedTransport(ACCEPTED, status("running"))
    async with make_client(transport, read_timeout=100.0) as client:
        with pytest.raises(APITimeoutError):
            await client.read(URL, timeout=1.0)
    assert sum(fake_clock.sleeps) <= 1.0


async def test_begin_and_get_separately(make_client: Callable[..., VisionClient]) -> None:
    """begin_read returns the id from Operation-Location; get_read_result polls once."""
    transport = ScriptedTransport(ACCEPTED, status("notStarted"))
    async with make_client(transport) as client:
        op = await client.begin_read(URL)
        state = await client.get_read_result(op)
    assert op == OP_ID
    assert state.status is OperationStatus.NOT_STARTED and state.analyze_result is None and state.text == ""


async def test_missing_operation_location_is_a_validation_error(make_client: Callable[..., VisionClient]) -> None:
    """A 202 without Operation-Location raises ResponseValidationError with the request id."""
    transport = ScriptedTransport(httpx.Response(202, headers={"apim-request-id": "r-9"}))
    async with make_client(transport) as client:
        with pytest.raises(ResponseValidationError) as info:
            await client.begin_read(URL)
    assert info.value.request_id == "r-9"


async def test_read_submit_errors_are_typed(make_client: Callable[..., VisionClient]) -> None:
    """Read's flat error shape gives the code on the error."""
    from vision_async import BadRequestError

    body = {"code": "InvalidPageRange", "message": "Invalid page range.", "requestId": "rq"}
    transport = ScriptedTransport(json_response(400, body))
    async with make_client(transport) as client:
        with pytest.raises(BadRequestError) as info:
            await client.begin_read(URL)
    assert info.value.code == "InvalidPageRange"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pages": "2-1"}, "page range"),
        ({"pages": "a"}, "page range"),
        ({"pages": "0"}, "page range"),
        ({"pages": []}, "at least one"),
        ({"pages": "1,,2"}, "page range"),
        ({"language": "xx"}, "language for read"),
        ({"reading_order": "sideways"}, "reading_order"),
        ({"timeout": 0}, "timeout"),
    ],
)
async def test_read_arguments_are_checked_locally(
    make_client: Callable[..., VisionClient], kwargs: dict, match: str
) -> None:
    """Malformed pages, languages, reading orders and timeouts fail before any request."""
    transport = ScriptedTransport(ACCEPTED)
    async with make_client(transport) as client:
        with pytest.raises(InvalidInputError, match=match):
            await client.read(URL, **kwargs)
    assert transport.count == 0


async def test_read_accepts_pdf_and_large_files(make_client: Callable[..., VisionClient]) -> None:
    """Read takes PDF bytes and files above the 4 MB analyze limit."""
    pdf = b"%PDF-1.7\n" + b"0" * (5 * 1024 * 1024)
    transport = ScriptedTransport(ACCEPTED)
    async with make_client(transport) as client:
        assert await client.begin_read(pdf) == OP_ID
        with pytest.raises(InvalidInputError):
            await client.tag(pdf)


async def test_read_limit_is_a_client_setting(make_client: Callable[..., VisionClient]) -> None:
    """ImageLimits(max_read_bytes=...) lowers the Read limit (the free tier's 4 MB)."""
    from vision_async import ImageLimits

    pdf = b"%PDF-1.7\n" + b"0" * (5 * 1024 * 1024)
    transport = ScriptedTransport(ACCEPTED)
    async with make_client(transport, limits=ImageLimits(max_read_bytes=4 * 1024 * 1024)) as client:
        with pytest.raises(InvalidInputError, match="less than 4194304"):
            await client.begin_read(pdf)
    assert transport.count == 0


async def test_bad_operation_ids_are_refused(make_client: Callable[..., VisionClient]) -> None:
    """An operation id that could change the URL path is refused locally."""
    transport = ScriptedTransport(status("running"))
    async with make_client(transport, retry=RetryPolicy()) as client:
        for bad in ("", "../models", "a/b", "x?y=1"):
            with pytest.raises(InvalidInputError):
                await client.get_read_result(bad)
    assert transport.count == 0


async def test_the_read_deadline_bounds_the_submit_on_the_client_clock(
    make_client: Callable[..., VisionClient], fake_clock: FakeClock
) -> None:
    """Retry waits of the submit count against the Read's one deadline, on the client's clock: none passes it."""
    unavailable = json_response(
        503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}, headers={"Retry-After": "4"}
    )
    transport = ScriptedTransport(unavailable, unavailable, ACCEPTED, SUCCEEDED)
    async with make_client(transport, read_timeout=5.0) as client:
        with pytest.raises(ServiceUnavailableError):
            await client.read(URL)
    assert fake_clock.sleeps == [4.0]  # the second 4 s wait would end after the deadline
    assert transport.count == 2


async def test_the_read_deadline_bounds_a_poll_on_the_client_clock(
    make_client: Callable[..., VisionClient], fake_clock: FakeClock
) -> None:
    """A poll's retry waits share the Read's deadline with the submit and the waits between polls."""
    unavailable = json_response(
        503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}, headers={"Retry-After": "3"}
    )
    transport = ScriptedTransport(ACCEPTED, status("running", **{"Retry-After": "2"}), unavailable, SUCCEEDED)
    async with make_client(transport, read_timeout=4.0) as client:
        with pytest.raises(ServiceUnavailableError):
            await client.read(URL)
    assert fake_clock.sleeps == [2.0]  # 2 s between polls, then a 3 s retry wait would pass the 4 s
    assert transport.count == 3
