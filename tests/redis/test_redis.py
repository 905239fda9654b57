"""RedisCoordination against a real redis-server: the GCRA script, shared cool-down, adaptive rate and
breaker, namespacing per resource, and the local fallback when Redis is unreachable."""

from __future__ import annotations

import itertools
import logging
import socket
import time
from collections.abc import Iterator

import anyio
import httpx
import pytest
import redis

from tests.helpers import png_bytes
from tests.helpers.redis_server import (
    REDIS_SERVER,
    SKIP_REASON,
    RedisServer,
    answers,
    delete_prefix,
    free_port,
    keys_of,
    unique_prefix,
)
from vision_async import BreakerPolicy, CircuitOpenError, ConfigurationError, RateLimit, Resource, VisionClient
from vision_async._resilience.adaptive import Throttle
from vision_async._resilience.rate_limit import TokenState
from vision_async._resilience.state import ResourceState, namespace_for
from vision_async.emulator import Emulator, EmulatorTransport
from vision_async.redis import RedisCoordination

SHARED_URL = "redis://127.0.0.1:6379/0"
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(REDIS_SERVER is None and not answers(SHARED_URL), reason=SKIP_REASON),
]
ROOT = "https://res-a.cognitiveservices.azure.com"
IMAGE = png_bytes(64, 64)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """The machine's Redis at 6379 when it answers, else one of our own on a free port."""
    if answers(SHARED_URL):
        yield SHARED_URL
        return
    with RedisServer() as server:
        yield server.url


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    name = unique_prefix()
    yield name
    delete_prefix(redis_url, name)


def coordination(url: str, prefix: str, **options: object) -> RedisCoordination:
    return RedisCoordination(url, prefix=prefix, **options)  # type: ignore[arg-type]


def tokens_of(state: ResourceState) -> TokenState:
    assert state.tokens is not None
    return state.tokens


def gcra_value(url: str, prefix: str, root: str = ROOT) -> str | None:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        value = client.get(f"{{{prefix}{namespace_for(root)}}}:gcra")
        return None if value is None else str(value)
    finally:
        client.close()


class Switch(httpx.AsyncBaseTransport):
    """The in-process emulator, or a fixed error status while ``status`` is set; counts requests."""

    def __init__(self, emulator: Emulator) -> None:
        self._inner = EmulatorTransport(emulator)
        self.status: int | None = None
        self.delay = 0.0
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.delay:
            await anyio.sleep(self.delay)
        if self.status is not None:
            headers = {"Retry-After": "0"} if self.status == 429 else {}
            return httpx.Response(self.status, headers=headers, json={"error": {"code": "X", "message": "injected"}})
        return await self._inner.handle_async_request(request)


# -- the GCRA script ------------------------------------------------------------------------------


async def test_the_script_lets_the_burst_through_then_one_token_per_interval(redis_url: str, prefix: str) -> None:
    """At 10/s with a burst of 3: three tokens at once, then each booking 0.1 s after the one before."""
    tokens = tokens_of(coordination(redis_url, prefix).resource(namespace_for(ROOT), rate_limit=None, breaker=None))
    waits = []
    for _ in range(6):
        grant = await tokens.reserve(0.0, 10.0, 3.0, None)
        assert grant is not None
        waits.append(grant.wait)
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 0.05 < waits[3] <= 0.1
    for earlier, later in itertools.pairwise(waits[3:]):
        assert later - earlier == pytest.approx(0.1, abs=0.02)  # FIFO: each booking one interval later


async def test_a_booking_refused_for_max_wait_books_nothing(redis_url: str, prefix: str) -> None:
    """A token that would come after max_wait is refused and the shared schedule is left unchanged."""
    tokens = tokens_of(coordination(redis_url, prefix).resource(namespace_for(ROOT), rate_limit=None, breaker=None))
    assert await tokens.reserve(0.0, 2.0, 1.0, None) is not None
    booked = gcra_value(redis_url, prefix)
    assert await tokens.reserve(0.0, 2.0, 1.0, 0.1) is None  # the next slot is about 0.5 s away
    assert gcra_value(redis_url, prefix) == booked
    grant = await tokens.reserve(0.0, 2.0, 1.0, 1.0)
    assert grant is not None and 0.3 < grant.wait <= 0.5


async def test_release_gives_back_the_last_booking_only(redis_url: str, prefix: str) -> None:
    """The last booking can be given back (the next caller gets its slot); an earlier one cannot."""
    tokens = tokens_of(coordination(redis_url, prefix).resource(namespace_for(ROOT), rate_limit=None, breaker=None))
    first = await tokens.reserve(0.0, 5.0, 1.0, None)
    second = await tokens.reserve(0.0, 5.0, 1.0, None)
    assert first is not None and second is not None
    assert not await tokens.release(first)
    assert await tokens.release(second)
    again = await tokens.reserve(0.0, 5.0, 1.0, None)
    assert again is not None and again.wait == pytest.approx(second.wait, abs=0.02)


async def test_workers_book_from_one_schedule(redis_url: str, prefix: str) -> None:
    """Two coordinations (two workers) on one resource get successive slots of one limit."""
    a = tokens_of(coordination(redis_url, prefix).resource(namespace_for(ROOT), rate_limit=None, breaker=None))
    b = tokens_of(coordination(redis_url, prefix).resource(namespace_for(ROOT), rate_limit=None, breaker=None))
    waits = []
    for tokens in (a, b, a, b):
        grant = await tokens.reserve(0.0, 10.0, 1.0, None)
        assert grant is not None
        waits.append(grant.wait)
    assert waits[0] == 0.0
    assert waits[1:] == pytest.approx([0.1, 0.2, 0.3], abs=0.02)


async def test_keys_are_namespaced_per_resource(redis_url: str, prefix: str) -> None:
    """Two resources book from their own keys, so neither eats the other's quota; a client with
    two resources uses one key namespace for each."""
    coord = coordination(redis_url, prefix)
    a = tokens_of(coord.resource(namespace_for("https://x.test"), rate_limit=None, breaker=None))
    b = tokens_of(coord.resource(namespace_for("https://y.test"), rate_limit=None, breaker=None))
    for _ in range(3):
        assert await a.reserve(0.0, 1.0, 1.0, None) is not None
    grant = await b.reserve(0.0, 1.0, 1.0, None)
    assert grant is not None and grant.wait == 0.0
    other = "https://res-b.cognitiveservices.azure.com"
    resources = [Resource(root, key="k", rate_limit=RateLimit(50, burst=1)) for root in (ROOT, other)]
    async with VisionClient(
        resources=resources, transport=EmulatorTransport(Emulator()), coordination=coordination(redis_url, prefix)
    ) as client:
        for _ in range(4):
            await client.tag(IMAGE)
    tags = {key.split("}")[0] + "}" for key in keys_of(redis_url, prefix)}
    expected = {f"{{{prefix}{namespace_for(root)}}}" for root in (ROOT, other, "https://x.test", "https://y.test")}
    assert tags == expected


# -- cool-down, adaptive rate -----------------------------------------------------------------------


async def test_a_cooldown_published_by_one_worker_delays_the_others_tokens(redis_url: str, prefix: str) -> None:
    """After worker A publishes a 0.4 s cool-down, worker B's next token waits for its end."""
    a = coordination(redis_url, prefix).resource(namespace_for(ROOT), rate_limit=None, breaker=None)
    b = coordination(redis_url, prefix).resource(namespace_for(ROOT), rate_limit=None, breaker=None)
    assert a.cooldown is not None and b.cooldown is not None
    a.cooldown.publish(0.4)
    with anyio.fail_after(2):
        while not keys_of(redis_url, prefix):  # noqa: ASYNC110 (the push goes out from a background thread)
            await anyio.sleep(0.005)
    grant = await tokens_of(b).reserve(0.0, 100.0, 10.0, None)
    assert grant is not None and 0.2 < grant.wait <= 0.4
    assert 0.1 < b.cooldown.remaining() <= 0.4  # the reply carried it into B's local copy


async def test_a_429_in_one_worker_lowers_the_allowed_rate_of_the_others(redis_url: str, prefix: str) -> None:
    """Worker A's 429 is shared: worker B, which never saw one, lowers its allowed rate too."""
    emulator = Emulator()
    a_transport, b_transport = Switch(emulator), Switch(emulator)
    options = {"rate_limit": RateLimit(50), "breaker": None, "retry": None}
    client_a = VisionClient(ROOT, "k", transport=a_transport, coordination=coordination(redis_url, prefix), **options)
    client_b = VisionClient(ROOT, "k", transport=b_transport, coordination=coordination(redis_url, prefix), **options)
    async with client_a, client_b:
        for _ in range(5):
            await client_a.tag(IMAGE)
            await client_b.tag(IMAGE)
        a_transport.status = 429
        with pytest.raises(Exception, match="injected"):
            await client_a.tag(IMAGE)
        assert client_a.stats().allowed_rate is not None and client_a.stats().allowed_rate < 50
        adapt = redis.Redis.from_url(redis_url, decode_responses=True)
        with anyio.fail_after(2):
            while not adapt.hget(f"{{{prefix}{namespace_for(ROOT)}}}:adapt", "thr_rate"):  # noqa: ASYNC110
                await anyio.sleep(0.005)
        adapt.close()
        await client_b.tag(IMAGE)  # its token's reply carries the throttle; the success applies it
        await client_b.tag(IMAGE)
        rate_b = client_b.stats().allowed_rate
    assert b_transport.requests == 7 and rate_b is not None and rate_b < 50


async def test_the_throttle_keeps_its_time_across_workers(redis_url: str, prefix: str) -> None:
    """A throttle set by A reads back in B with the same rate and about the same time."""
    a = coordination(redis_url, prefix).resource(namespace_for(ROOT), rate_limit=None, breaker=None)
    b = coordination(redis_url, prefix, sync_interval=0.02).resource(namespace_for(ROOT), rate_limit=None, breaker=None)
    assert a.adaptive is not None and b.adaptive is not None
    now = time.monotonic()
    b.adaptive.send_rate(now)  # B learns the caller's clock (here: time.monotonic)
    a.adaptive.set_throttle(Throttle(rate=12.5, at=now))
    with anyio.fail_after(2):
        while (seen := b.adaptive.last_throttle()) is None:  # noqa: ASYNC110 (a background refresh)
            await anyio.sleep(0.01)
    assert seen.rate == 12.5
    assert seen.at == pytest.approx(now, abs=0.05)


# -- the breaker ----------------------------------------------------------------------------------


async def test_a_breaker_opened_by_one_worker_is_open_in_the_others_within_a_second(
    redis_url: str, prefix: str
) -> None:
    """A trips; B and C refuse calls (CircuitOpenError, nothing sent) within a second of it."""
    emulator = Emulator()
    transports = [Switch(emulator) for _ in range(3)]
    clients = [
        VisionClient(
            ROOT,
            "k",
            transport=t,
            retry=None,
            breaker=BreakerPolicy(fail_max=2, reset_timeout=30.0),
            coordination=coordination(redis_url, prefix),
        )
        for t in transports
    ]
    for client in clients:
        await client.tag(IMAGE)
    transports[0].status = 500
    for _ in range(2):
        with pytest.raises(Exception, match="injected"):
            await clients[0].tag(IMAGE)
    opened = time.monotonic()
    assert str(clients[0].breaker_state) == "open"
    for client, transport in zip(clients[1:], transports[1:], strict=True):
        with anyio.fail_after(5):
            while True:
                sent = transport.requests
                try:
                    await client.tag(IMAGE)
                except CircuitOpenError:
                    assert transport.requests == sent  # refused without sending
                    break
                await anyio.sleep(0.02)
        assert time.monotonic() - opened < 1.0
        assert str(client.breaker_state) == "open"
    for client in clients:
        await client.aclose()


async def test_exactly_one_half_open_probe_goes_out_across_workers(redis_url: str, prefix: str) -> None:
    """Once the shared open period ends, four workers calling at once send one probe between them;
    its success closes the breaker everywhere."""
    emulator = Emulator()
    transports = [Switch(emulator) for _ in range(4)]
    clients = [
        VisionClient(
            ROOT,
            "k",
            transport=t,
            retry=None,
            breaker=BreakerPolicy(fail_max=1, reset_timeout=0.3),
            coordination=coordination(redis_url, prefix, sync_interval=0.05),
        )
        for t in transports
    ]
    transports[0].status = 500
    with pytest.raises(Exception, match="injected"):
        await clients[0].tag(IMAGE)
    transports[0].status = None
    for client in clients[1:]:  # the others follow the open breaker
        with pytest.raises(CircuitOpenError):
            await client.tag(IMAGE)
    await anyio.sleep(0.35)
    for transport in transports:
        transport.delay = 0.1  # the probe is still in flight while the others try
    before = sum(t.requests for t in transports)
    outcomes: list[str] = []

    async def call(client: VisionClient) -> None:
        try:
            await client.tag(IMAGE)
            outcomes.append("ok")
        except CircuitOpenError:
            outcomes.append("refused")

    async with anyio.create_task_group() as tg:
        for client in clients:
            tg.start_soon(call, client)
    assert sum(t.requests for t in transports) - before == 1
    assert sorted(outcomes) == ["ok", "refused", "refused", "refused"]
    for transport in transports:
        transport.delay = 0.0
    with anyio.fail_after(2):
        for client in clients:  # closed everywhere again
            while str(client.breaker_state) != "closed":
                try:
                    await client.tag(IMAGE)
                except CircuitOpenError:
                    await anyio.sleep(0.02)
    for client in clients:
        await client.aclose()


async def test_the_probe_lock_is_one_workers_and_expires_with_it(redis_url: str, prefix: str) -> None:
    """No probe while open; then one worker wins the lock (and keeps it on a retry of its own);
    a worker that died holding it blocks the others only until probe_timeout."""
    states = [
        coordination(redis_url, prefix, probe_timeout=0.1).resource(
            namespace_for(ROOT), rate_limit=None, breaker=BreakerPolicy()
        )
        for _ in range(2)
    ]
    a, b = (state.breaker for state in states)
    assert a is not None and b is not None
    raw = redis.Redis.from_url(redis_url)
    tag = f"{{{prefix}{namespace_for(ROOT)}}}"
    raw.set(f"{tag}:breaker:tripped", "1")
    raw.set(f"{tag}:breaker:open", "1", px=5000)
    assert not await a.try_probe() and not await b.try_probe()
    raw.delete(f"{tag}:breaker:open")
    raw.close()
    assert await a.try_probe()
    assert not await b.try_probe()
    assert await a.try_probe()  # A's own probe was cancelled: A may probe again
    await anyio.sleep(0.15)  # A died: its lock expires
    assert await b.try_probe()


# -- Redis unreachable ----------------------------------------------------------------------------


async def test_unreachable_redis_fails_nothing_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing listens at the URL: every call succeeds on local state, with one WARNING."""
    coord = RedisCoordination(f"redis://127.0.0.1:{free_port()}/0", workers=2, reconnect_min=60.0)
    caplog.set_level(logging.WARNING, logger="vision_async.redis")
    async with VisionClient(
        ROOT, "k", transport=EmulatorTransport(Emulator()), rate_limit=RateLimit(200), coordination=coord
    ) as client:
        for _ in range(10):
            await client.tag(IMAGE)
        assert client.stats().successes == 10
    warnings = [r for r in caplog.records if r.name == "vision_async.redis" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "falling back to local state" in warnings[0].getMessage()
    assert "1/2 of the rate" in warnings[0].getMessage()
    assert coord.describe() == "redis (fallback: local)" and not coord.connected


async def test_a_redis_that_never_answers_is_given_up_after_the_timeout(caplog: pytest.LogCaptureFixture) -> None:
    """A server that accepts connections and never answers: the command times out, calls succeed."""
    caplog.set_level(logging.WARNING, logger="vision_async.redis")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # connections complete in the backlog; nothing is ever read or answered
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        coord = RedisCoordination(url, timeout=0.05, reconnect_min=60.0)
        async with VisionClient(
            ROOT, "k", transport=EmulatorTransport(Emulator()), rate_limit=RateLimit(200), coordination=coord
        ) as client:
            with anyio.fail_after(5):
                for _ in range(5):
                    await client.tag(IMAGE)
    assert client.stats().successes == 5
    assert coord.describe() == "redis (fallback: local)"
    messages = [r.getMessage() for r in caplog.records if r.name == "vision_async.redis"]
    assert len(messages) == 1 and "TimeoutError" in messages[0]


async def test_while_redis_is_down_each_worker_takes_its_share_of_the_rate() -> None:
    """workers=4 and Redis down: at 20/s each worker books one token per 0.2 s."""
    coord = RedisCoordination(f"redis://127.0.0.1:{free_port()}/0", workers=4, reconnect_min=60.0)
    tokens = tokens_of(coord.resource(namespace_for(ROOT), rate_limit=None, breaker=None))
    waits = []
    for _ in range(3):
        grant = await tokens.reserve(100.0, 20.0, 1.0, None)
        assert grant is not None
        waits.append(grant.wait)
    assert waits == pytest.approx([0.0, 0.2, 0.4])
    assert tokens.next_free_in(100.0, 20.0, 1.0) == pytest.approx(0.6)


async def test_redis_back_after_an_outage_is_rejoined_with_one_warning_each_way(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis killed mid-run: calls go on locally; restarted: the client reconnects in the background
    and books from Redis again."""
    caplog.set_level(logging.WARNING, logger="vision_async.redis")
    with RedisServer() as server:
        prefix = unique_prefix()
        coord = RedisCoordination(server.url, prefix=prefix, reconnect_min=0.05, reconnect_max=0.1)
        async with VisionClient(
            ROOT, "k", transport=EmulatorTransport(Emulator()), rate_limit=RateLimit(500), coordination=coord
        ) as client:
            await client.tag(IMAGE)
            assert gcra_value(server.url, prefix) is not None
            server.stop()
            for _ in range(5):
                await client.tag(IMAGE)
            assert coord.describe() == "redis (fallback: local)"
            server.start()
            assert gcra_value(server.url, prefix) is None  # a fresh Redis, no state
            with anyio.fail_after(3):
                while gcra_value(server.url, prefix) is None:
                    await client.tag(IMAGE)
                    await anyio.sleep(0.01)
            assert coord.describe() == "redis"
            assert client.stats().successes == client.stats().requests
            assert client.stats().failed == 0
    messages = [r.getMessage() for r in caplog.records if r.name == "vision_async.redis"]
    assert len(messages) == 2
    assert "falling back" in messages[0] and "answers again" in messages[1]
    assert coord.outages == 1


# -- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("http://127.0.0.1:6379", {}),
        ("", {}),
        ("redis://127.0.0.1:6379/0", {"workers": 0}),
        ("redis://127.0.0.1:6379/0", {"workers": True}),
        ("redis://127.0.0.1:6379/0", {"timeout": -1}),
        ("redis://127.0.0.1:6379/0", {"timeout": float("nan")}),
        ("redis://127.0.0.1:6379/0", {"prefix": "a{b}"}),
        ("redis://127.0.0.1:6379/0", {"sync_interval": -0.1}),
    ],
)
def test_bad_settings_are_configuration_errors(url: str, options: dict[str, object]) -> None:
    """Bad settings fail at construction with ConfigurationError, before any connection."""
    with pytest.raises(ConfigurationError):
        RedisCoordination(url, **options)  # type: ignore[arg-type]


def test_the_password_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    """A password in the URL stays out of the repr and of the error for a bad URL."""
    secret = "s3cret-pa55word"
    coord = RedisCoordination(f"redis://:{secret}@127.0.0.1:6379/3")
    assert secret not in repr(coord) and "127.0.0.1:6379/3" in repr(coord)
    with pytest.raises(ConfigurationError) as info:
        RedisCoordination(f"ftp://:{secret}@127.0.0.1:6379/0")
    assert secret not in str(info.value)
