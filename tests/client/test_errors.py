"""HTTP answers become the right typed error, in every shape Azure sends them."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

import vision_async
from tests.helpers import KEY
from vision_async import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    UnsupportedMediaTypeError,
    VisionClient,
    VisionError,
)
from vision_async._errors import error_from_response
from vision_async.testing import ScriptedTransport, json_response

URL = "https://example.com/cat.jpg"


def v32_error(code: str, inner: str, message: str = "msg") -> bytes:
    import json

    return json.dumps(
        {"error": {"code": code, "message": message, "innererror": {"code": inner, "message": message}}}
    ).encode()


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (415, UnsupportedMediaTypeError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, ServiceUnavailableError),
        (504, InternalServerError),
        (409, APIStatusError),
    ],
)
def test_status_maps_to_class(status: int, cls: type[APIStatusError]) -> None:
    """Each status gets its own class; 503 is also an InternalServerError."""
    err = error_from_response(status, "Reason", b"", request_id="r1", retry_after=None)
    assert type(err) is cls
    assert err.status_code == status
    assert err.request_id == "r1"
    assert isinstance(err, VisionError)


@pytest.mark.parametrize(
    ("status", "code", "inner"),
    [
        (400, "InvalidRequest", "InvalidImageUrl"),
        (400, "InvalidRequest", "InvalidImageFormat"),
        (400, "InvalidRequest", "InvalidImageSize"),
        (400, "InvalidRequest", "NotSupportedVisualFeature"),
        (400, "InvalidRequest", "NotSupportedImage"),
        (400, "InvalidRequest", "InvalidDetails"),
        (400, "InvalidRequest", "NotSupportedLanguage"),
        (400, "InvalidRequest", "BadArgument"),
        (500, "InternalServerError", "FailedToProcess"),
        (500, "InternalServerError", "Timeout"),
        (500, "InternalServerError", "InternalServerError"),
        (415, "InvalidRequest", "UnsupportedMediaType"),
    ],
)
def test_v32_error_shape_codes_are_reachable(status: int, code: str, inner: str) -> None:
    """The v3.2 nested shape yields code and inner_code for every seed error code."""
    err = error_from_response(
        status, "x", v32_error(code, inner, "Input image is too large."), request_id=None, retry_after=None
    )
    assert (err.code, err.inner_code) == (code, inner)
    assert "Input image is too large." in err.message


def test_flat_error_shape_with_request_id() -> None:
    """The flat {code, message, requestId} shape (Read, older versions) is read too."""
    body = b'{"code": "InvalidImageSize", "message": "Image must be at least 50 pixels.", "requestId": "abc-123"}'
    err = error_from_response(400, "Bad Request", body, request_id=None, retry_after=None)
    assert isinstance(err, BadRequestError)
    assert err.code == "InvalidImageSize"
    assert err.request_id == "abc-123"
    assert "50 pixels" in str(err)


def test_html_gateway_page_gives_the_right_class() -> None:
    """A non-JSON 502 from a gateway still gives InternalServerError with a readable message."""
    body = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
    err = error_from_response(502, "Bad Gateway", body, request_id="gw", retry_after=None)
    assert isinstance(err, InternalServerError)
    assert "502 Bad Gateway" in err.message and "<" not in err.message
    assert err.code is None and err.body is None


def test_empty_body_uses_the_reason_phrase() -> None:
    """An empty error body falls back to the HTTP reason phrase."""
    err = error_from_response(404, "Resource Not Found", b"", request_id=None, retry_after=None)
    assert err.message == "Resource Not Found"


def test_str_shows_status_codes_and_request_id() -> None:
    """str(error) is one line with status, codes, message and request id."""
    err = error_from_response(
        400, "x", v32_error("InvalidRequest", "InvalidImageUrl", "bad url"), request_id="rid", retry_after=None
    )
    assert str(err) == "HTTP 400 InvalidRequest/InvalidImageUrl: bad url (request id rid)"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_errors_never_carry_the_key(make_client: Callable[..., VisionClient]) -> None:
    """Neither str, repr nor args of an error contains the subscription key."""
    transport = ScriptedTransport(json_response(401, {"error": {"code": "401", "message": "Access denied"}}))
    async with make_client(transport) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.tag(URL)
        assert KEY not in repr(client)
    err = info.value
    for text in (str(err), repr(err), repr(err.args), repr(vars(err))):
        assert KEY not in text


def test_exception_tree_is_documented() -> None:
    """Every exported exception appears in the tree drawn in _errors' docstring."""
    from vision_async import _errors

    doc = _errors.__doc__ or ""
    exported = [
        n
        for n in vision_async.__all__
        if isinstance(getattr(vision_async, n), type) and issubclass(getattr(vision_async, n), BaseException)
    ]
    assert exported
    for name in exported:
        assert name in doc, name


def test_http_status_error_subclasses_are_distinct() -> None:
    """Catching one status class never catches another's."""
    assert not issubclass(RateLimitError, InternalServerError)
    assert issubclass(ServiceUnavailableError, InternalServerError)
    assert issubclass(vision_async.APITimeoutError, vision_async.APIConnectionError)
    assert issubclass(vision_async.InvalidInputError, ValueError)


def test_httpx_response_headers_are_case_insensitive_for_request_ids() -> None:
    """The request id is read from apim-request-id whatever its case."""
    from vision_async._core.pipeline import request_id_of

    assert request_id_of(httpx.Headers({"APIM-Request-Id": "X1"})) == "X1"
    assert request_id_of(httpx.Headers({})) is None


# -- redaction of server-supplied text (issue 8, item 2) -------------------------------------------


def _echo_page(secret: str) -> bytes:
    """A gateway page that reflects the request headers, secret included, well past 200 chars."""
    padding = "x" * 160
    return f"<html><pre>{padding} Ocp-Apim-Subscription-Key: {secret}\r\nUser-Agent: t</pre></html>".encode()


def test_reflected_key_in_a_json_error_is_redacted_everywhere() -> None:
    """With redact=, the key is gone from message, codes, request id, body and str/repr."""
    from vision_async._secrets import Redactor

    redact = Redactor([KEY])
    body = (
        b'{"error": {"code": "Bad' + KEY.encode() + b'", "message": "header was ' + KEY.upper().encode() + b'",'
        b' "innererror": {"code": "' + KEY.encode() + b'", "message": "m"}}, "requestId": "' + KEY.encode() + b'"}'
    )
    err = error_from_response(401, f"Reason {KEY}", body, request_id=None, retry_after=None, redact=redact)
    texts = [str(err), repr(err), repr(err.args), err.message, str(err.code), str(err.inner_code)]
    texts += [str(err.request_id), repr(err.body)]
    for text in texts:
        assert KEY.lower() not in text.lower(), text
    assert "***" in err.message and err.code == "Bad***" and err.request_id == "***"


def test_reflected_key_in_an_html_page_is_redacted_before_the_excerpt_is_cut() -> None:
    """An echo that straddles the 200-character excerpt leaves no piece of the key behind."""
    from vision_async._secrets import Redactor

    err = error_from_response(502, "Bad Gateway", _echo_page(KEY), request_id=None, retry_after=None)
    assert KEY[:8] in err.message  # without redaction, a piece of the key survives the cut
    err = error_from_response(
        502, "Bad Gateway", _echo_page(KEY), request_id=None, retry_after=None, redact=Redactor([KEY])
    )
    assert KEY[:8] not in err.message and "Ocp-Apim-Subscription-Key: ***" in err.message


def test_without_a_secret_in_it_the_text_is_unchanged() -> None:
    """Redaction changes nothing in an error that does not contain a secret."""
    from vision_async._secrets import Redactor

    body = v32_error("InvalidRequest", "InvalidImageUrl", "bad url")
    plain = error_from_response(400, "x", body, request_id="rid", retry_after=None)
    redacted = error_from_response(400, "x", body, request_id="rid", retry_after=None, redact=Redactor([KEY]))
    assert str(plain) == str(redacted) and plain.body == redacted.body


def test_redact_error_scrubs_an_error_built_elsewhere() -> None:
    """redact_error rewrites message, args and request id of any error in place."""
    from vision_async import APIConnectionError
    from vision_async._errors import redact_error
    from vision_async._secrets import Redactor

    err = APIConnectionError(f"POST /tag: RemoteProtocolError: illegal header value {KEY!r}", request_id=KEY)
    assert redact_error(err, Redactor([KEY])) is err
    assert KEY not in str(err) and KEY not in repr(err) and err.request_id == "***"
    status = error_from_response(500, "x", v32_error(KEY, KEY, KEY), request_id=None, retry_after=None)
    redact_error(status, Redactor([KEY]))
    assert KEY not in repr((status.code, status.inner_code, status.message, status.args, status.body))
