"""Secrets never surface: not in tracebacks rendered with locals, errors, logs or retry events.

Issue 8, items 1 and 2. The first part tests :class:`Secret` and :class:`Redactor` alone. The
second provokes every fault of tests/helpers/hostile_server.py over a real loopback socket, with a key
and with a bearer token, including a gateway that reflects the request headers back, and then
renders the raised exception as Sentry, ``rich`` and APM agents do: with the locals of every
frame, causes and contexts included (``traceback.TracebackException(capture_locals=True)``).
Neither the key nor the token may appear there, in ``str``/``repr``, in a DEBUG log record or in
a retry event.
"""

from __future__ import annotations

import base64
import copy
import logging
import pickle
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

import tests.helpers.hostile_server as hs
from tests.helpers import png_bytes
from vision_async import BreakerPolicy, RetryEvent, RetryPolicy, VisionClient, VisionError
from vision_async._core.auth import KeyAuth, TokenAuth
from vision_async._secrets import Redactor, Secret
from vision_async.testing import FakeClock

KEY = "s3cret-key-0123456789abcdefABCDEF"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtdG9rZW4ifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
IMAGE = png_bytes(64, 64)


def _leaks(text: str) -> list[str]:
    """Which secrets (or a telling piece of one) occur in ``text``, whatever the case."""
    low = text.lower()
    return [
        name for name, value in (("key", KEY), ("token", TOKEN)) if value.lower() in low or value[:16].lower() in low
    ]


# -- Secret and Redactor on their own ---------------------------------------------------------------


def test_secret_shows_itself_only_through_reveal() -> None:
    """repr, str, format and containers of a Secret show ***; reveal() gives the value."""
    secret = Secret(KEY)
    shown = [repr(secret), str(secret), f"{secret}", f"{secret:>40}", repr([secret]), repr({"h": secret})]
    assert all(KEY not in s for s in shown)
    assert repr(secret) == "***"
    assert secret.reveal() == KEY


def test_secret_cannot_be_pickled_and_is_immutable() -> None:
    """Pickling refuses (it would write the value out); copies are the same object; no attribute can be set."""
    secret = Secret(KEY)
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    assert copy.copy(secret) is secret and copy.deepcopy(secret) is secret
    with pytest.raises(AttributeError):
        secret._value = "other"
    assert not hasattr(secret, "__dict__")
    assert Secret(KEY) == secret and Secret("other-value") != secret


def test_secret_in_a_frame_is_redacted_by_capture_locals() -> None:
    """A Secret held in a local variable renders as *** in a locals-capturing traceback."""

    def fails(header: Secret) -> None:
        headers = {"Ocp-Apim-Subscription-Key": header}  # noqa: F841 - the local under test
        raise RuntimeError("boom")

    try:
        fails(Secret(KEY))
    except RuntimeError as exc:
        rendered = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    assert "***" in rendered and KEY not in rendered


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(KEY, id="exact"),
        pytest.param(KEY.upper(), id="upper-case"),
        pytest.param(KEY.lower(), id="lower-case"),
        pytest.param(quote(KEY + "/+=", safe=""), id="url-encoded"),
        pytest.param(base64.b64encode(f"x: {KEY}".encode()).decode(), id="base64-offset-0"),
        pytest.param(base64.b64encode(f"xy: {KEY}".encode()).decode(), id="base64-offset-1"),
        pytest.param(base64.b64encode(f"xyz: {KEY}\n".encode()).decode(), id="base64-offset-2"),
        pytest.param(base64.urlsafe_b64encode(f"a{KEY}".encode()).decode(), id="base64-urlsafe"),
    ],
)
def test_redactor_finds_every_form(form: str) -> None:
    """The redactor replaces the secret exact, in any case, URL-encoded and inside base64."""
    secret = KEY + "/+=" if "%2F" in form else KEY
    redact = Redactor([secret])
    text = f"<pre>echo: {form} end</pre>"
    out = redact(text)
    assert "***" in out and out.startswith("<pre>echo: ") and out.endswith(" end</pre>")
    assert form not in out


def test_redactor_follows_its_source_and_leaves_other_text_alone() -> None:
    """A callable source is read each time (a refreshed token is redacted); text without secrets is unchanged."""
    current = ["first-token-aaaaaaaaaaaa"]
    redact = Redactor(lambda: current)
    assert redact("a first-token-aaaaaaaaaaaa b") == "a *** b"
    current.append("second-token-bbbbbbbbbbbb")
    assert redact("second-token-bbbbbbbbbbbb") == "***"
    text = "nothing secret here " * 50
    assert redact(text) is text
    assert redact("") == ""
    assert "first" not in repr(redact)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            f"it starts 'Authorization: Bearer {TOKEN[:30]}", "it starts 'Authorization: Bearer ***", id="cut-at-end"
        ),
        pytest.param(f"{TOKEN[40:]}\r\nHost: x", "***\r\nHost: x", id="cut-at-start"),
        pytest.param(TOKEN[5:45], "***", id="inside"),
        pytest.param(f"key={KEY[:10]}", "key=***", id="key-cut"),
        pytest.param(f"{TOKEN[:7]} is too short a piece", f"{TOKEN[:7]} is too short a piece", id="under-8"),
    ],
)
def test_redactor_replaces_a_piece_of_a_secret_cut_by_an_excerpt(text: str, expected: str) -> None:
    """A body excerpt that cuts a secret at its start or end (8+ characters) shows no piece of it."""
    assert Redactor([KEY, TOKEN])(text) == expected


def test_too_short_secrets_are_not_searched() -> None:
    """A one-letter test key would shred every message: secrets under 6 characters are left alone."""
    assert Redactor(["k"])("keep calm") == "keep calm"


def test_a_bearer_header_value_is_redacted_without_its_scheme_too() -> None:
    """Redacting "Bearer <token>" also replaces the token alone, as a foreign exception may quote it."""
    redact = Redactor([f"Bearer {TOKEN}"])
    assert redact(f"illegal header value {TOKEN!r}") == "illegal header value '***'"
    assert redact(f"Authorization: Bearer {TOKEN}") == "Authorization: ***"


def test_the_transport_redacts_a_bare_token_echoed_by_a_foreign_exception() -> None:
    """A foreign error quoting the token without "Bearer " (text or bytes) is redacted in the error and its chain."""
    import h11

    from vision_async._transports.base import OutgoingRequest
    from vision_async._transports.boundary import translate_failure

    request = OutgoingRequest(
        "POST", "http://127.0.0.1:9/vision/v3.2/tag", (("Authorization", Secret(f"Bearer {TOKEN}")),), None, 1.0, None
    )
    foreign = h11.RemoteProtocolError(f"peer said {TOKEN}")
    foreign.__context__ = OSError(f"echo {TOKEN}".encode())
    mapped = translate_failure(foreign, request)
    assert mapped is not None
    shown = [str(mapped), repr(mapped), repr(foreign.args), repr(foreign.__context__.args)]
    assert [_leaks(text) for text in shown] == [[], [], [], []]
    assert "***" in repr(foreign.args) and "***" in repr(foreign.__context__.args)


async def _bearer(auth: TokenAuth) -> str:
    name, secret = await auth.secret_header()
    assert name == "Authorization" and repr(secret) == "***"
    return secret.reveal()


@pytest.mark.anyio
async def test_auth_keeps_secrets_in_secret_objects() -> None:
    """KeyAuth and TokenAuth hand out Secret headers and list their secrets for the redactor."""
    key_auth = KeyAuth(f"  {KEY} ")
    name, secret = await key_auth.secret_header()
    assert (name, secret.reveal()) == ("Ocp-Apim-Subscription-Key", KEY)
    assert key_auth.secrets() == (KEY,)
    assert all(KEY not in repr(getattr(key_auth, s)) for s in KeyAuth.__slots__)

    tokens = iter([TOKEN, TOKEN + "-2"])

    @dataclass
    class Token:
        token: str
        expires_on: float

    class Credential:
        async def get_token(self, *scopes: str, **kwargs: Any) -> Token:
            return Token(next(tokens), 0.0)  # always expired: every header refreshes

    auth = TokenAuth(Credential())
    assert await _bearer(auth) == f"Bearer {TOKEN}"
    assert await _bearer(auth) == f"Bearer {TOKEN}-2"
    assert set(auth.secrets()) == {TOKEN, TOKEN + "-2"}  # the previous token is still redacted
    assert TOKEN not in repr(vars(auth))


def test_a_refused_key_leaves_no_plain_local_on_the_traceback() -> None:
    """A ConfigurationError from KeyAuth carries no frame holding the key in a plain local."""
    bad = KEY + "\r\nX-Injected: 1"
    with pytest.raises(VisionError) as info:
        KeyAuth(bad)
    frames = traceback.TracebackException.from_exception(info.value, capture_locals=True).stack
    auth_frames = [f for f in frames if f.filename.endswith("auth.py")]
    assert auth_frames
    for frame in auth_frames:
        assert KEY not in repr(frame.locals)


# -- over real sockets ------------------------------------------------------------------------------


@dataclass
class _Token:
    token: str
    expires_on: float


class _Credential:
    async def get_token(self, *scopes: str) -> _Token:
        import time

        return _Token(TOKEN, time.time() + 3600)


def _client(url: str, auth: str, events: list[RetryEvent]) -> VisionClient:
    clock = FakeClock()
    credentials: dict[str, Any] = {"key": KEY} if auth == "key" else {"credential": _Credential()}
    return VisionClient(
        url,
        timeout=0.03,
        retry=RetryPolicy(max_attempts=2, initial_backoff=0, max_backoff=0, total_timeout=None),
        breaker=BreakerPolicy(fail_max=100),
        on_retry=events.append,
        clock=clock.clock,
        sleep=clock.sleep,
        **credentials,
    )


def _reflect_200() -> hs.Fault:
    """A 200 that is not JSON and starts with the request's headers (a debugging proxy)."""

    async def fault(conn: hs.Connection, request: hs.ReceivedRequest) -> None:
        lines = request.head.decode("latin-1").split("\r\n")[1:]
        secret_first = sorted(lines, key=lambda line: not line.lower().startswith(("ocp-apim", "authorization")))
        await conn.respond(200, "\n".join(secret_first), headers={"Content-Type": "text/plain"})

    return fault


FAULTS: list[Any] = [
    pytest.param(None, id="refused"),
    pytest.param(hs.reset_before_headers, id="reset-before-headers"),
    pytest.param(hs.reset_mid_body, id="reset-mid-body"),
    pytest.param(hs.hang_headers, id="hung-headers"),
    pytest.param(hs.stall_body, id="stalled-body"),
    pytest.param(hs.drip, id="slow-drip"),
    pytest.param(hs.truncate, id="truncated"),
    pytest.param(hs.length_lie, id="length-lie"),
    pytest.param(hs.non_json_200, id="non-json-200"),
    pytest.param(hs.html_5xx, id="html-5xx"),
    pytest.param(lambda: hs.rate_limited({"Retry-After": "1"}), id="429-retry-after"),
    pytest.param(lambda: hs.azure_error(503, "ServiceUnavailable", "Timeout"), id="503-inner-code"),
    pytest.param(lambda: hs.redirect("http://127.0.0.1:9/elsewhere"), id="redirect"),
    pytest.param(lambda: hs.reflect(500), id="reflect-html-500"),
    pytest.param(lambda: hs.reflect(400, html=False), id="reflect-json-400"),
    pytest.param(lambda: hs.reflect(401, html=False), id="reflect-json-401"),
    pytest.param(lambda: hs.reflect(503, html=False), id="reflect-json-503"),
    pytest.param(_reflect_200, id="reflect-200-not-json"),
]


def _received_the_secret(server: hs.HostileServer, auth: str) -> bool:
    """The secret really went out (so a leak would be possible); no local of the test keeps it."""
    return (KEY if auth == "key" else TOKEN) in server.requests[0].head.decode("latin-1")


async def _provoke(scripts: list[hs.Fault] | None, auth: str, events: list[RetryEvent], calls: int = 1) -> VisionError:
    """Run ``calls`` tag calls against the script (None: a refused port); the last one must fail.

    The test functions keep no secret in a local: the traceback of the error includes their
    frames, whose locals are rendered too.
    """
    with hs.HostileServer(*(scripts or [])) as server:
        url = server.url if scripts is not None else hs.refused_url()
        async with _client(url, auth, events) as client:
            for _ in range(calls - 1):
                await client.tag(IMAGE)
            try:
                await client.tag(IMAGE)
            except VisionError as exc:
                error = exc
            else:
                raise AssertionError("the call did not fail")
    if scripts is not None:
        assert _received_the_secret(server, auth)
    return error


def _assert_no_secret_anywhere(exc: VisionError, caplog: pytest.LogCaptureFixture, events: list[RetryEvent]) -> None:
    rendered = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    assert _leaks(rendered) == [], "a locals-capturing traceback shows a secret:\n" + _where(exc)
    assert _leaks(str(exc)) == [] and _leaks(repr(exc)) == [], "str/repr of the error shows a secret"
    assert _leaks(repr(vars(exc))) == [], "an attribute of the error holds a secret"
    # the library's own log lines (httpcore's DEBUG trace prints response headers as received:
    # a foreign logger, which the library does not filter)
    ours = [r for r in caplog.records if r.name.startswith("vision_async")]
    assert _leaks("\n".join(r.getMessage() for r in ours)) == [], "a log line shows a secret"
    assert _leaks(repr([r.__dict__ for r in ours])) == [], "a log record's args hold a secret"
    assert _leaks(repr(events) + "".join(str(e.error) for e in events)) == [], "a retry event shows a secret"


def _where(exc: BaseException) -> str:
    """Which frame locals hold a secret, for the failure message (never the value itself)."""
    found = []
    te: traceback.TracebackException | None = traceback.TracebackException.from_exception(exc, capture_locals=True)
    while te is not None:
        for frame in te.stack:
            for name, value in (frame.locals or {}).items():
                if _leaks(value):
                    found.append(f"{frame.filename}:{frame.lineno} {frame.name}() local {name!r}")
        te = te.__cause__ or (None if te.__suppress_context__ else te.__context__)
    return "\n".join(found)


@pytest.mark.anyio
@pytest.mark.parametrize("auth", ["key", "token"])
@pytest.mark.parametrize("make_fault", FAULTS)
async def test_no_secret_in_any_rendering_of_an_error(
    make_fault: Callable[[], hs.Fault] | None, auth: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Any fault: a traceback with locals (causes too), str, repr, DEBUG logs, retry events hold no secret."""
    events: list[RetryEvent] = []
    caplog.set_level(logging.DEBUG)
    exc = await _provoke([make_fault()] if make_fault else None, auth, events)
    _assert_no_secret_anywhere(exc, caplog, events)


@pytest.mark.anyio
@pytest.mark.parametrize("auth", ["key", "token"])
async def test_no_secret_after_a_silently_closed_keep_alive_connection(
    auth: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A pooled connection the server closed, then a reflecting error: still no secret anywhere."""
    events: list[RetryEvent] = []
    caplog.set_level(logging.DEBUG)
    exc = await _provoke([hs.ok_then_close(), hs.reflect(502)], auth, events, calls=2)
    _assert_no_secret_anywhere(exc, caplog, events)
