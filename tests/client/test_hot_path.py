"""The shortcuts a successful call takes (issue 9, pipeline cost) give exactly what the long way gives.

Each shortcut is checked against the general code path it stands in for: the parse fast paths
against the field-by-field parsers, the JSON scanner against ``json.loads``, the ready auth
header against the awaited one, the breaker's closed flag against pybreaker's own state.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.helpers import fixture_body
from vision_async import (
    BreakerPolicy,
    BreakerState,
    ImageMetadata,
    ImageTag,
    ResponseValidationError,
    TagResult,
)
from vision_async._core.auth import KeyAuth, TokenAuth
from vision_async._core.parse import Node, load_json_object, maker
from vision_async._resilience.breaker import Breaker
from vision_async.testing import FakeClock

TAGS: list[dict[str, Any]] = [
    {"name": "grass", "confidence": 0.99},
    {"name": "grass", "confidence": 0.99, "hint": "plant"},
    {"name": "grass", "confidence": 1},  # an integer confidence
    {"name": "grass"},
    {"confidence": 0.5},
    {"name": None, "confidence": None, "hint": None},
    {"name": "grass", "confidence": 0.5, "extra": [1, 2]},
]
BAD_TAGS: list[dict[str, Any]] = [
    {"name": 3, "confidence": 0.5},
    {"name": "grass", "confidence": "high"},
    {"name": "grass", "confidence": True},
    {"name": "grass", "confidence": 0.5, "hint": 7},
]


@pytest.mark.parametrize("data", TAGS)
def test_tag_fast_path_matches_the_field_by_field_parse(data: dict[str, Any]) -> None:
    """Where the fast path answers, it answers what the general parser does; else it declines."""
    slow = ImageTag._parse(Node(data, "$"))
    fast = ImageTag._fast(data)
    if fast is not None:
        assert fast == slow and hash(fast) == hash(slow) and type(fast) is ImageTag
    assert TagResult.from_json({"tags": [data]}).tags == (slow,)


@pytest.mark.parametrize("data", BAD_TAGS)
def test_tag_fast_path_leaves_wrong_types_to_the_checked_parse(data: dict[str, Any]) -> None:
    assert ImageTag._fast(data) is None
    with pytest.raises(ResponseValidationError, match=r"\$\.tags\[1\]\."):
        TagResult.from_json({"tags": [{"name": "ok", "confidence": 0.5}, data]})


@pytest.mark.parametrize(
    "data",
    [
        {"width": 10, "height": 20, "format": "Jpeg"},
        {"width": 10, "height": 20},
        {"width": 10.0, "height": 20, "format": "Png"},  # a float that is an integer
        {"height": 20},
    ],
)
def test_metadata_fast_path_matches_the_field_by_field_parse(data: dict[str, Any]) -> None:
    slow = ImageMetadata._parse(Node(data, "$"))
    fast = ImageMetadata._fast(data)
    if fast is not None:
        assert fast == slow
    assert TagResult.from_json({"metadata": data}).metadata == slow


def test_the_whole_tag_fixture_parses_the_same_either_way() -> None:
    body = fixture_body("tag_image")
    result = TagResult.from_json(body)
    assert result.tags == tuple(ImageTag._parse(Node(t, "$")) for t in body["tags"])
    assert result.metadata == ImageMetadata._parse(Node(body["metadata"], "$"))


def test_maker_builds_what_the_dataclass_constructor_builds() -> None:
    @dataclass(frozen=True, slots=True)
    class Point:
        x: int
        y: int
        label: str | None = None

    make = maker(Point)
    made = make(1, 2, "a")
    assert made == Point(1, 2, "a") and hash(made) == hash(Point(1, 2, "a")) and type(made) is Point
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.x = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        make(1, 2)  # every field, always


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1}',
        b'{"a": 1}\r\n \t',
        b' \n{"a": [1, 2.5, "x\\u00e9"]}',
        '{"a": "é"}'.encode(),
        b'\xef\xbb\xbf{"a": 1}',  # a UTF-8 byte order mark: json.loads takes it, so do we
        '{"a": 1}'.encode("utf-16"),
    ],
)
def test_json_scanner_accepts_what_json_loads_accepts(body: bytes) -> None:
    assert load_json_object(body, "tag") == json.loads(body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"a": 1} trailing', "Extra data"),
        (b'{"a": 1}{"b": 2}', "Extra data"),
        (b'{"a": ', "Expecting value"),
        (b"\xff\xfe\xfa", "not JSON"),
        (b"[1, 2]", "JSON list, not an object"),
        (b"{" + b'"a":[' * 100_000, "not JSON"),  # deep enough to exhaust the recursion limit
    ],
)
def test_json_scanner_refuses_what_json_loads_refuses(body: bytes, reason: str) -> None:
    with pytest.raises(ResponseValidationError, match=reason):
        load_json_object(body, "tag")


@pytest.mark.anyio
async def test_key_auth_ready_header_is_the_awaited_header() -> None:
    auth = KeyAuth("k" * 32)
    ready = auth.ready_header()
    assert ready is not None and ready == await auth.secret_header()


@pytest.mark.anyio
async def test_token_auth_ready_header_only_while_the_token_is_fresh() -> None:
    now = [1000.0]

    @dataclass
    class Token:
        token: str
        expires_on: float

    class Credential:
        calls = 0

        async def get_token(self, *scopes: str, **kwargs: Any) -> Token:
            Credential.calls += 1
            return Token(f"t{Credential.calls}", now[0] + 3600)

    auth = TokenAuth(Credential(), wall_clock=lambda: now[0])
    assert auth.ready_header() is None  # no token yet: the caller must await a refresh
    header = await auth.secret_header()
    ready = auth.ready_header()
    assert ready is not None and ready[1].reveal() == header[1].reveal() == "Bearer t1"
    now[0] += 3600  # expired (and past the refresh margin)
    assert auth.ready_header() is None
    assert (await auth.secret_header())[1].reveal() == "Bearer t2"


def test_breaker_closed_flag_follows_every_state_change() -> None:
    clock = FakeClock()
    breaker = Breaker(BreakerPolicy(fail_max=2, reset_timeout=5.0), clock=clock.clock)
    assert breaker.is_closed and breaker.state is BreakerState.CLOSED
    for _ in range(2):
        breaker.record(breaker.admit(), "failure")
    assert not breaker.is_closed and breaker.state is BreakerState.OPEN
    clock.advance(5.0)
    probe = breaker.admit()
    assert not breaker.is_closed and breaker.state is BreakerState.HALF_OPEN
    breaker.record(probe, "success")
    assert breaker.is_closed and breaker.state is BreakerState.CLOSED
    breaker.mirror(BreakerState.OPEN, open_remaining=1.0)
    assert not breaker.is_closed and breaker.state is BreakerState.OPEN
    breaker.mirror(BreakerState.CLOSED)
    assert breaker.is_closed and breaker.state is BreakerState.CLOSED
