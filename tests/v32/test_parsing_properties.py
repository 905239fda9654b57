"""Property tests: whatever JSON or bytes the server sends, the only exception is a typed one."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import fixture_body
from vision_async import (
    APIStatusError,
    AreaOfInterestResult,
    DetectResult,
    DomainModelResults,
    ImageAnalysis,
    ImageDescription,
    ListModelsResult,
    OcrResult,
    ReadOperationResult,
    ResponseValidationError,
    TagResult,
)
from vision_async._core.parse import load_json_object
from vision_async._errors import error_from_response

RESULTS = [
    (ImageAnalysis, "analyze_image_with_url"),
    (TagResult, "tag_image"),
    (ImageDescription, "describe_image"),
    (DetectResult, "detect_objects"),
    (ListModelsResult, "list_models"),
    (DomainModelResults, "analyze_image_by_domain"),
    (AreaOfInterestResult, "get_area_of_interest"),
    (OcrResult, "recognize_printed_text"),
    (ReadOperationResult, "get_read_result"),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(node))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


@pytest.mark.parametrize(("cls", "fixture"), RESULTS, ids=[c.__name__ for c, _ in RESULTS])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupting_any_field_gives_a_typed_error_or_a_result(cls: Any, fixture: str, data: st.DataObject) -> None:
    """Replacing any node of a real example with arbitrary JSON never raises anything untyped."""
    body = fixture_body(fixture)
    path = data.draw(st.sampled_from(_paths(body)[1:]))
    corrupted = _replace(body, path, data.draw(json_values))
    try:
        result = cls.from_json(corrupted)
    except ResponseValidationError as exc:
        # the error names the corrupted node or a node inside it
        named = re.search(r"response field (\$[^ ]*) should", str(exc))
        assert named is not None, str(exc)
        assert named.group(1).startswith(_json_path(path)), (str(exc), _json_path(path))
    else:
        assert type(result) is cls
        assert dict(result.raw) == corrupted  # the body as received stays reachable
        if corrupted == body:  # the "corruption" changed nothing: the same result as the example's
            assert result == cls.from_json(body)


def _json_path(path: tuple[Any, ...]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


@pytest.mark.parametrize(("cls", "fixture"), RESULTS, ids=[c.__name__ for c, _ in RESULTS])
def test_the_unchanged_examples_parse_and_keep_their_content(cls: Any, fixture: str) -> None:
    """The success path: each spec example parses, and its parsed list lengths match the body."""
    body = fixture_body(fixture)
    result = cls.from_json(body)
    assert dict(result.raw) == body
    for key, value in body.items():
        attribute = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()
        if isinstance(value, list) and hasattr(result, attribute):
            assert len(getattr(result, attribute)) == len(value), key


@given(st.binary(max_size=200))
def test_any_bytes_as_a_2xx_body_gives_a_typed_error_or_an_object(content: bytes) -> None:
    """Arbitrary bytes are either a JSON object or a ResponseValidationError."""
    try:
        parsed = load_json_object(content, "tag")
    except ResponseValidationError as exc:
        assert "tag: the response" in str(exc)
    else:
        assert isinstance(parsed, dict)


@given(
    st.integers(min_value=300, max_value=599),
    st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()),
)
def test_any_error_body_gives_an_api_status_error(status: int, content: bytes) -> None:
    """Any status and any body give an APIStatusError with a message."""
    err = error_from_response(status, "Reason", content, request_id=None, retry_after=None)
    assert isinstance(err, APIStatusError)
    assert err.status_code == status
    assert str(err).startswith(f"HTTP {status}")
    assert err.message  # never empty: the body's message, its text, or the reason phrase


ROUTES = [
    ("POST", "/analyze"),
    ("POST", "/describe"),
    ("POST", "/tag"),
    ("POST", "/detect"),
    ("POST", "/models/celebrities/analyze"),
    ("POST", "/ocr"),
    ("POST", "/read/analyze"),
    ("POST", "/generateThumbnail"),
    ("POST", "/areaOfInterest"),
    ("GET", "/models"),
    ("GET", "/read/analyzeResults/x"),
]
PARAMS = ["visualFeatures", "details", "language", "descriptionExclude", "model-version", "maxCandidates",
          "detectOrientation", "width", "height", "smartCropping", "pages", "readingOrder"]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    route=st.sampled_from(ROUTES),
    params=st.dictionaries(st.sampled_from(PARAMS), st.text(max_size=12), max_size=4),
    body=st.sampled_from(["png", "json-url", "json-junk", "junk", "empty"]),
)
def test_the_emulator_never_answers_5xx_to_bad_input(route: tuple[str, str], params: dict[str, str], body: str) -> None:
    """Arbitrary query parameters and bodies get a 2xx or a 4xx from the emulator, never a 5xx."""
    import anyio
    import httpx

    from tests.helpers import png_bytes
    from vision_async.emulator import Emulator, EmulatorTransport

    contents = {
        "png": (png_bytes(64, 64), "application/octet-stream"),
        "json-url": (b'{"url": "https://elsewhere.example/a.png"}', "application/json"),
        "json-junk": (b'{"url": [1, 2]', "application/json"),
        "junk": (b"\x00\x01garbage", "application/octet-stream"),
        "empty": (b"", "application/octet-stream"),
    }
    content, media_type = contents[body]

    async def send() -> int:
        transport = EmulatorTransport(Emulator(ocr="off"))
        async with httpx.AsyncClient(transport=transport, base_url="https://e.test/vision/v3.2") as raw:
            headers = {"Ocp-Apim-Subscription-Key": "k", "Content-Type": media_type}
            response = await raw.request(route[0], route[1], params=params, content=content, headers=headers)
            return response.status_code

    status = anyio.run(send)
    assert status < 500, (route, params, body)
